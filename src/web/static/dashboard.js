"use strict";
(() => {
  const variant = document.body.dataset.variant;
  const encoded = encodeURIComponent(variant);
  const state = {latest: null, curve: [], events: [], filter: "", types: new Set()};
  const MAX_EVENTS = 500, MAX_CURVE = 2000;
  const hasPlotly = typeof Plotly === "object";
  const plotConfig = {displaylogo: false, responsive: true};

  function setField(id, value, digits) {
    const element = document.getElementById(id);
    element.textContent = typeof value === "number" ? Dash.number(value, digits) : (value ?? "–");
    if (id === "pnl") Dash.signed(element, value);
  }

  function renderLatest() {
    const s = state.latest;
    if (!s) return;
    setField("bar-time", s.bar_time ? s.bar_time.replace("T", " ").slice(0, 19) : null);
    setField("pnl", s.pnl, 2);
    setField("delta", s.delta, 4);
    setField("gamma", s.gamma, 6);
    setField("vega", s.vega, 2);
    setField("theta", s.theta, 2);
    setField("signal", s.latest_signal);
    document.body.dataset.snapshotId = String(s.id);
    const body = document.querySelector("#positions tbody");
    body.replaceChildren();
    for (const p of s.positions || []) {
      const tr = document.createElement("tr");
      tr.appendChild(Dash.text("td", p.contract));
      for (const [value, digits] of [[p.long, 0], [p.short, 0], [p.net, 0], [p.avg_price, 2], [p.price, 2],
                                     [p.iv === null ? null : p.iv * 100, 2], [p.delta, 4], [p.gamma, 6],
                                     [p.vega, 2], [p.theta, 2], [p.pnl, 2]]) {
        tr.appendChild(Dash.text("td", Dash.number(value, digits)));
      }
      Dash.signed(tr.lastChild, p.pnl);
      body.appendChild(tr);
    }
    if (!(s.positions || []).length) {
      const tr = document.createElement("tr");
      const td = Dash.text("td", "no position", "empty");
      td.colSpan = 12;
      tr.appendChild(td);
      body.appendChild(tr);
    }
    renderSmile(s.smile || []);
    staleCheck();
  }

  function staleCheck() {
    document.getElementById("stale").classList.toggle("hidden", !Dash.isStale(state.latest));
  }

  function renderCurves() {
    if (!hasPlotly) return;
    const x = state.curve.map((p) => p.bar_time);
    const layout = (title) => ({title: {text: title}, margin: {t: 36, r: 16, b: 40, l: 56}, showlegend: true,
                                 legend: {orientation: "h"}});
    Plotly.react("pnl-chart", [{x, y: state.curve.map((p) => p.pnl), name: "P&L", type: "scatter", mode: "lines"}],
                 layout("P&L"), plotConfig);
    Plotly.react("greeks-chart", ["delta", "gamma", "vega", "theta"].map((name, index) => ({
      x, y: state.curve.map((p) => p[name]), name, type: "scatter", mode: "lines", yaxis: index ? "y2" : "y"})),
      Object.assign(layout("Greeks"), {yaxis: {title: {text: "delta"}},
                                       yaxis2: {overlaying: "y", side: "right", title: {text: "gamma / vega / theta"}}}),
      plotConfig);
  }

  function renderSmile(points) {
    const chart = document.getElementById("smile-chart");
    const usable = points.filter((p) => typeof p.iv === "number" && typeof p.strike === "number");
    chart.classList.toggle("hidden", !usable.length);
    if (!hasPlotly || !usable.length) return;
    const byExpiry = new Map();
    for (const p of usable) {
      const key = String(p.expiry) + " " + String(p.option_type || "");
      if (!byExpiry.has(key)) byExpiry.set(key, []);
      byExpiry.get(key).push(p);
    }
    const traces = [...byExpiry.entries()].map(([key, list]) => {
      list.sort((a, b) => a.strike - b.strike);
      return {x: list.map((p) => p.strike), y: list.map((p) => p.iv * 100), name: key, type: "scatter",
              mode: "lines+markers"};
    });
    Plotly.react("smile-chart", traces, {title: {text: "Implied volatility by strike (%)"},
                                         margin: {t: 36, r: 16, b: 40, l: 56}}, plotConfig);
  }

  function eventRow(event) {
    const tr = document.createElement("tr");
    tr.dataset.eventId = String(event.id);
    tr.appendChild(Dash.text("td", (event.occurred_at || "").replace("T", " ").slice(0, 23)));
    tr.appendChild(Dash.text("td", event.event_type));
    const details = Object.entries(event.fields || {})
      .map(([key, value]) => key + "=" + (typeof value === "object" ? JSON.stringify(value) : String(value)))
      .join(", ");
    tr.appendChild(Dash.text("td", details, "details"));
    return tr;
  }

  function renderEvents() {
    const body = document.querySelector("#events tbody");
    body.replaceChildren(...state.events.filter((e) => !state.filter || e.event_type === state.filter)
      .slice(0, MAX_EVENTS).map(eventRow));
  }

  function addType(type) {
    if (state.types.has(type)) return;
    state.types.add(type);
    const select = document.getElementById("event-filter");
    const option = document.createElement("option");
    option.value = type;
    option.textContent = type;
    select.appendChild(option);
  }

  async function load() {
    try {
      const [data, events] = await Promise.all([
        Dash.getJSON("/api/data/" + encoded),
        Dash.getJSON("/api/events/" + encoded + "?limit=" + MAX_EVENTS)]);
      Dash.setServerTime(data.now);
      Dash.setDatabase(true);
      state.latest = data.latest;
      state.curve = data.curve;
      state.events = events.events;
      events.types.forEach(addType);
      renderLatest();
      renderCurves();
      renderEvents();
      Dash.touched();
    } catch (error) {
      if (error.status === 503) Dash.setDatabase(false);
    }
  }

  function applySnapshot(snapshot) {
    if (snapshot.variant !== variant) return;
    if (state.latest && snapshot.id <= state.latest.id) return;
    snapshot.stale_after_seconds = snapshot.stale_after_seconds || (state.latest && state.latest.stale_after_seconds);
    state.latest = snapshot;
    state.curve.push({id: snapshot.id, bar_time: snapshot.bar_time, pnl: snapshot.pnl, delta: snapshot.delta,
                      gamma: snapshot.gamma, vega: snapshot.vega, theta: snapshot.theta});
    if (state.curve.length > MAX_CURVE) state.curve.splice(0, state.curve.length - MAX_CURVE);
    Dash.pushed();
    scheduleRender();
  }

  // Pushes can come by the hundred a second (a replay at full speed): draw at most every RENDER_MS.
  const RENDER_MS = 250;
  let renderTimer = null, lastRender = 0;
  function scheduleRender() {
    if (renderTimer !== null) return;
    const wait = Math.max(0, lastRender + RENDER_MS - Date.now());
    renderTimer = setTimeout(() => {
      renderTimer = null;
      lastRender = Date.now();
      renderLatest();
      renderCurves();
      window.__lastSnapshotApplied = {id: state.latest.id, at: Date.now()};
      Dash.touched();
    }, wait);
  }

  function applyEvent(event) {
    if (event.variant !== variant) return;
    if (state.events.some((e) => e.id === event.id)) return;
    state.events.unshift(event);
    if (state.events.length > MAX_EVENTS) state.events.length = MAX_EVENTS;
    addType(event.event_type);
    Dash.pushed();
    if (!state.filter || event.event_type === state.filter) {
      const body = document.querySelector("#events tbody");
      body.insertBefore(eventRow(event), body.firstChild);
      while (body.children.length > MAX_EVENTS) body.lastChild.remove();
    }
  }

  document.getElementById("event-filter").addEventListener("change", (e) => {
    state.filter = e.target.value;
    renderEvents();
  });

  load();
  const client = Dash.socket((socket) => { socket.emit("subscribe", {variant}); load(); });
  if (client) {
    client.on("snapshot", applySnapshot);
    client.on("event", applyEvent);
  }
  setInterval(staleCheck, 1000);
})();
