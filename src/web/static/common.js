// Shared by the pages. Everything from the server is data: it goes into the page with textContent only.
"use strict";
const Dash = (() => {
  let clockOffset = 0;  // server time minus browser time, seconds
  const connection = document.getElementById("connection");
  const updated = document.getElementById("updated");

  function serverNow() { return Date.now() / 1000 + clockOffset; }
  function setServerTime(now) { if (typeof now === "number") clockOffset = now - Date.now() / 1000; }

  async function getJSON(url) {
    const response = await fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}});
    if (response.status === 401) { window.location.assign("/login"); throw new Error("unauthorized"); }
    if (!response.ok) { const error = new Error("HTTP " + response.status); error.status = response.status; throw error; }
    return response.json();
  }

  function text(tag, value, className) {
    const element = document.createElement(tag);
    element.textContent = value === null || value === undefined ? "–" : String(value);
    if (className) element.className = className;
    return element;
  }

  function number(value, digits) {
    if (value === null || value === undefined || !isFinite(value)) return "–";
    return Number(value).toLocaleString("en-US", {maximumFractionDigits: digits, minimumFractionDigits: 0});
  }

  function signed(element, value) {
    element.classList.remove("positive", "negative");
    if (typeof value === "number" && value !== 0) element.classList.add(value > 0 ? "positive" : "negative");
  }

  function setConnection(state) {
    connection.textContent = state;
    connection.className = "connection " + state;
    document.body.dataset.connection = state;
  }

  function touched() {
    updated.textContent = "updated " + new Date().toLocaleTimeString();
  }

  function setDatabase(ok) {
    const banner = document.getElementById("database-state");
    if (banner) banner.classList.toggle("hidden", ok);
  }

  function isStale(snapshot) {
    if (!snapshot || !snapshot.recorded_epoch) return true;
    const limit = snapshot.stale_after_seconds || 10;
    return serverNow() - snapshot.recorded_epoch > limit;
  }

  function pushed() {  // how many pushes the page applied (the browser tests read it)
    document.body.dataset.pushes = String(Number(document.body.dataset.pushes || "0") + 1);
  }

  function socket(onConnect) {
    if (typeof io !== "function") { setConnection("disconnected"); return null; }
    const client = io({transports: ["websocket", "polling"], reconnectionDelayMax: 5000});
    client.on("connect", () => { setConnection("connected"); onConnect(client); });
    client.on("disconnect", () => setConnection("disconnected"));
    client.on("connect_error", () => setConnection("disconnected"));
    client.on("db_status", (message) => setDatabase(Boolean(message && message.ok)));
    return client;
  }

  return {pushed, getJSON, text, number, signed, setConnection, touched, setDatabase, isStale, socket, setServerTime, serverNow};
})();
