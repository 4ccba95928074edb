// orderly dashboard: plain JS, no build step. Reads the local API, updates live from the
// Server-Sent Events stream (GET /api/events): order events trigger a refresh, health events
// feed the status bar and the sync-lag chart.
//
// The API wants its token on every read. The page asks for it once and keeps it in
// sessionStorage (gone with the browser tab). fetch sends it as a bearer token; EventSource
// cannot send headers, so the event stream alone takes it as ?token= (the daemon accepts the
// query parameter on /api/events only).
"use strict";

const $ = (sel) => document.querySelector(sel);
const lagSamples = [];  // {t, lag}
const LAG_WINDOW_MS = 120000;
let selectedOrder = null;
let refreshTimer = null;
let events = null;  // the EventSource
const TOKEN_KEY = "orderly.token";

function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

function text(v) { return v === null || v === undefined || v === "" ? "-" : String(v); }

function age(iso) {
  if (!iso) return "-";
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 120) return s + "s";
  if (s < 7200) return Math.round(s / 60) + "m";
  if (s < 172800) return Math.round(s / 3600) + "h";
  return Math.round(s / 86400) + "d";
}

function cell(tr, value, cls) {
  const td = document.createElement("td");
  td.textContent = text(value);
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

function stateCell(tr, state) {
  const td = document.createElement("td");
  const span = document.createElement("span");
  span.className = "state " + state;
  span.textContent = state;
  td.appendChild(span);
  tr.appendChild(td);
}

async function getJSON(path) {
  const headers = token() ? { Authorization: "Bearer " + token() } : {};
  const r = await fetch(path, { cache: "no-store", headers });
  if (r.status === 401 || r.status === 403) {
    const body = await r.json().catch(() => ({}));
    askToken(r.status === 401 && token() ? "that token was refused" : body.error || "");
  }
  if (!r.ok) throw new Error(path + " " + r.status);
  return r.json();
}

// Shows the token form (once, however many requests were refused).
function askToken(message) {
  if (events) { events.close(); events = null; }
  $("#login-error").textContent = message;
  if (!$("#login").hidden) return;
  $("#login").hidden = false;
  $("#login-token").focus();
}

function fill(tableId, rows, build) {
  const tbody = $(tableId + " tbody");
  const frag = document.createDocumentFragment();
  for (const row of rows) frag.appendChild(build(row));
  tbody.replaceChildren(frag);
}

async function refreshOrders() {
  const orders = await getJSON("/api/orders?limit=300");
  orders.sort((a, b) => b.id - a.id);
  fill("#orders", orders, (o) => {
    const tr = document.createElement("tr");
    tr.dataset.orderId = o.id;
    tr.dataset.symbol = o.symbol;
    if (o.id === selectedOrder) tr.classList.add("selected");
    cell(tr, o.id); cell(tr, o.trade_id); cell(tr, o.role); cell(tr, o.symbol); cell(tr, o.side);
    cell(tr, o.type); cell(tr, o.qty); cell(tr, o.limit_price || o.stop_price); stateCell(tr, o.state);
    cell(tr, o.filled_qty); cell(tr, o.broker_order_id, "mono"); cell(tr, o.attempts);
    cell(tr, age(o.updated_at));
    tr.addEventListener("click", () => showAudit(o.id));
    return tr;
  });
}

async function refreshTrades() {
  const trades = await getJSON("/api/trades?limit=100");
  trades.sort((a, b) => b.id - a.id);
  fill("#trades", trades, (t) => {
    const tr = document.createElement("tr");
    tr.dataset.tradeId = t.id;
    cell(tr, t.id); cell(tr, t.symbol); cell(tr, t.side); cell(tr, t.qty); stateCell(tr, t.state);
    cell(tr, t.exits); cell(tr, age(t.created_at));
    return tr;
  });
}

async function refreshPositions() {
  const positions = await getJSON("/api/positions");
  fill("#positions", positions, (p) => {
    const tr = document.createElement("tr");
    tr.dataset.symbol = p.symbol;
    if (p.drift !== "0" && p.drift !== null) tr.classList.add("drift");
    cell(tr, p.symbol); cell(tr, p.local_qty); cell(tr, p.broker_qty); cell(tr, p.drift);
    return tr;
  });
}

async function refreshAlerts() {
  const alerts = await getJSON("/api/alerts?active=true");
  fill("#alerts", alerts, (a) => {
    const tr = document.createElement("tr");
    tr.dataset.kind = a.kind;
    cell(tr, a.kind); cell(tr, a.subject); cell(tr, a.message); cell(tr, age(a.raised_at) + " ago");
    return tr;
  });
  $("#alerts-count").textContent = alerts.length;
  $("#alerts-count").classList.toggle("hot", alerts.length > 0);
  $("#alerts-empty").hidden = alerts.length > 0;
}

async function showAudit(id) {
  selectedOrder = id;
  const trail = await getJSON("/api/orders/" + id + "/audit");
  $("#audit-title").textContent = id + " (" + trail.order.client_order_id + ")";
  fill("#audit", trail.events, (e) => {
    const tr = document.createElement("tr");
    cell(tr, e.seq); cell(tr, e.at); cell(tr, e.source);
    cell(tr, e.from ? e.from + " \u2192 " + e.to : e.to); cell(tr, e.filled_qty); cell(tr, e.note);
    return tr;
  });
  $("#audit-section").hidden = false;
  for (const tr of document.querySelectorAll("#orders tbody tr")) {
    tr.classList.toggle("selected", Number(tr.dataset.orderId) === id);
  }
}

function showHealth(h) {
  const badge = $("#h-status");
  badge.textContent = h.status;
  badge.className = "badge " + h.status;
  $("#h-stream").textContent = h.stream_connected ? "connected" : "down";
  $("#h-sync").textContent = h.last_sync_age_ms === null ? "never" : h.last_sync_age_ms + " ms ago";
  $("#h-store").textContent = h.store_ok ? "ok" : "ERROR " + h.store_error;
  $("#h-broker").textContent = h.broker_ok ? "ok" : "unreachable";
  $("#h-open").textContent = h.open_orders;
  $("#h-rest").textContent = h.rest_calls_last_minute + " of " + h.rest_budget_per_minute;
  const now = Date.now();
  lagSamples.push({ t: now, lag: h.sync_lag_ms });
  while (lagSamples.length && lagSamples[0].t < now - LAG_WINDOW_MS) lagSamples.shift();
  $("#lag-now").textContent = h.sync_lag_ms;
  drawLag();
}

function drawLag() {
  const canvas = $("#lag-chart");
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  if (lagSamples.length < 2) return;
  const max = Math.max(1000, ...lagSamples.map((s) => s.lag));
  const t0 = Date.now() - LAG_WINDOW_MS;
  ctx.strokeStyle = "#26303b";
  ctx.beginPath(); ctx.moveTo(0, h - 0.5); ctx.lineTo(w, h - 0.5); ctx.stroke();
  ctx.strokeStyle = "#58a6ff";
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  lagSamples.forEach((s, i) => {
    const x = ((s.t - t0) / LAG_WINDOW_MS) * w;
    const y = h - 2 - (s.lag / max) * (h - 6);
    if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
  });
  ctx.stroke();
  ctx.fillStyle = "#7d8a97";
  ctx.font = "10px sans-serif";
  ctx.fillText(max + " ms", 4, 10);
}

function refreshAll() {
  return Promise.all([refreshOrders(), refreshTrades(), refreshPositions(), refreshAlerts()])
    .catch((e) => console.warn("refresh failed", e));
}

// Many audit events arrive in bursts: refresh at most every 250 ms.
function scheduleRefresh() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    refreshAll();
    if (selectedOrder !== null) showAudit(selectedOrder).catch(() => {});
  }, 250);
}

function connect() {
  if (events) events.close();
  events = new EventSource("/api/events" + (token() ? "?token=" + encodeURIComponent(token()) : ""));
  events.addEventListener("order_event", scheduleRefresh);
  let ticks = 0;
  events.addEventListener("health", (e) => {
    showHealth(JSON.parse(e.data));
    // Positions and alerts change without order events (reconciliation, drift): poll them.
    if (++ticks % 2 === 0) Promise.all([refreshPositions(), refreshAlerts()]).catch(() => {});
  });
  events.onerror = () => { $("#h-status").textContent = "reconnecting…"; $("#h-status").className = "badge degraded"; };
}

$("#audit-close").addEventListener("click", () => {
  selectedOrder = null;
  $("#audit-section").hidden = true;
  for (const tr of document.querySelectorAll("#orders tbody tr.selected")) tr.classList.remove("selected");
});
$("#login").addEventListener("submit", (e) => {
  e.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("#login-token").value.trim());
  $("#login").hidden = true;
  $("#login-token").value = "";
  start();
});

// Reads first: with [api] public_reads or a token kept from earlier, no question is asked.
function start() {
  refreshAll();
  getJSON("/healthz").then(showHealth).catch(() => {});
  connect();
}
start();
setInterval(() => { if ($("#login").hidden) refreshAll(); }, 10000);
