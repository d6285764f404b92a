"use strict";
(() => {
  const cards = new Map();  // variant -> {element, snapshot}
  const container = document.getElementById("cards");

  function row(list, label, value, id) {
    list.appendChild(Dash.text("dt", label));
    const dd = Dash.text("dd", value);
    dd.dataset.field = id;
    list.appendChild(dd);
    return dd;
  }

  function render(snapshot) {
    let card = cards.get(snapshot.variant);
    if (!card) {
      const element = document.createElement("div");
      element.className = "card";
      element.dataset.variant = snapshot.variant;
      const title = document.createElement("h3");
      const link = document.createElement("a");
      link.href = "/dashboard/" + encodeURIComponent(snapshot.variant);
      link.textContent = snapshot.variant;
      title.appendChild(link);
      const badge = Dash.text("span", "stale", "badge stale hidden");
      title.appendChild(document.createTextNode(" "));
      title.appendChild(badge);
      element.appendChild(title);
      element.appendChild(document.createElement("dl"));
      const empty = container.querySelector(".empty");
      if (empty) empty.remove();
      container.appendChild(element);
      card = {element, badge, snapshot};
      cards.set(snapshot.variant, card);
    }
    const previous = card.snapshot || {};
    card.snapshot = Object.assign({}, snapshot, {
      stale_after_seconds: snapshot.stale_after_seconds || previous.stale_after_seconds});
    const s = card.snapshot;
    const list = card.element.querySelector("dl");
    list.replaceChildren();
    row(list, "last bar", s.bar_time ? s.bar_time.replace("T", " ").slice(0, 19) : null, "bar_time");
    row(list, "positions", s.position_count, "position_count");
    Dash.signed(row(list, "P&L", Dash.number(s.pnl, 2), "pnl"), s.pnl);
    row(list, "delta", Dash.number(s.delta, 4), "delta");
    row(list, "vega", Dash.number(s.vega, 2), "vega");
    row(list, "signal", s.latest_signal, "latest_signal");
    card.element.dataset.snapshotId = s.id === null || s.id === undefined ? "" : String(s.id);
    staleCheck();
  }

  function staleCheck() {
    for (const card of cards.values()) card.badge.classList.toggle("hidden", !Dash.isStale(card.snapshot));
  }

  function renderProcesses(processes) {
    const body = document.querySelector("#processes tbody");
    body.replaceChildren();
    for (const p of processes) {
      const tr = document.createElement("tr");
      tr.appendChild(Dash.text("td", p.process));
      tr.appendChild(Dash.text("td", p.pid));
      tr.appendChild(Dash.text("td", new Date(p.last_beat * 1000).toLocaleString()));
      tr.appendChild(Dash.text("td", p.age_seconds > 60 ? "silent for " + Math.round(p.age_seconds) + " s" : "running"));
      body.appendChild(tr);
    }
    if (!processes.length) {
      const tr = document.createElement("tr");
      const td = Dash.text("td", "no daemon heartbeat found", "empty");
      td.colSpan = 4;
      tr.appendChild(td);
      body.appendChild(tr);
    }
  }

  async function load() {
    try {
      const data = await Dash.getJSON("/api/variants");
      Dash.setServerTime(data.now);
      Dash.setDatabase(true);
      if (!data.variants.length && !cards.size) container.replaceChildren(Dash.text("p", "No snapshot yet.", "empty"));
      data.variants.forEach(render);
      renderProcesses(data.processes);
      Dash.touched();
    } catch (error) {
      if (error.status === 503) Dash.setDatabase(false);
    }
  }

  load();
  Dash.socket((client) => { client.emit("subscribe", {overview: true}); load(); })
    ?.on("snapshot", (snapshot) => { render(snapshot); Dash.pushed(); Dash.touched(); });
  setInterval(staleCheck, 1000);
  setInterval(load, 30000);
})();
