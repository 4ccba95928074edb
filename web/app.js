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

// Lists come a page at a time (the API answers newest first): one more row than shown is asked
// for, so "older" is offered only when there is an older page, never a silent cap.
const pages = { trades: { offset: 0, limit: 50, more: false }, orders: { offset: 0, limit: 100, more: false } };
const pageSize = Number(new URLSearchParams(location.search).get("page_size"));  // ?page_size=N
if (Number.isInteger(pageSize) && pageSize > 0) for (const pg of Object.values(pages)) pg.limit = pageSize;

async function getPage(name, path) {
  const pg = pages[name];
  const sep = path.includes("?") ? "&" : "?";
  const rows = await getJSON(path + sep + "limit=" + (pg.limit + 1) + "&offset=" + pg.offset);
  pg.more = rows.length > pg.limit;
  const shown = rows.slice(0, pg.limit);
  $("#" + name + "-range").textContent = shown.length === 0
    ? (pg.offset ? "none past " + pg.offset : "none")
    : (pg.offset + 1) + "\u2013" + (pg.offset + shown.length) + (pg.more ? ", older ones exist" : " (the oldest)") + ", newest first";
  $("#" + name + "-newer").disabled = pg.offset === 0;
  $("#" + name + "-older").disabled = !pg.more;
  return shown;
}

function pager(name, refresh) {
  const pg = pages[name];
  $("#" + name + "-newer").addEventListener("click", () => {
    pg.offset = Math.max(0, pg.offset - pg.limit); refresh().catch((e) => console.warn(e));
  });
  $("#" + name + "-older").addEventListener("click", () => {
    if (pg.more) { pg.offset += pg.limit; refresh().catch((e) => console.warn(e)); }
  });
}

async function refreshOrders() {
  const q = new URLSearchParams();
  const symbol = $("#orders-symbol").value.trim().toUpperCase();
  if (symbol) q.set("symbol", symbol);
  if ($("#orders-open").checked) q.set("open", "true");
  const orders = await getPage("orders", "/api/orders" + (q.size ? "?" + q : ""));
  fill("#orders", orders, (o) => {
    const tr = document.createElement("tr");
    tr.dataset.orderId = o.id;
    tr.dataset.symbol = o.symbol;
    if (o.id === selectedOrder) tr.classList.add("selected");
    cell(tr, o.id); cell(tr, o.trade_id); cell(tr, o.role); cell(tr, o.symbol); cell(tr, o.side);
    cell(tr, o.type); cell(tr, o.qty); cell(tr, o.limit_price || o.stop_price); stateCell(tr, o.state);
    cell(tr, o.filled_qty); cell(tr, o.filled_avg_price); cell(tr, o.broker_order_id, "mono");
    cell(tr, o.attempts); cell(tr, o.last_error, "why"); cell(tr, age(o.updated_at));
    tr.addEventListener("click", () => showAudit(o.id));
    return tr;
  });
}

// Orders that ended without doing their job, and why. The order's last_error when it has one,
// else the last note of its audit trail (fetched once per order version).
const FAILED_ORDER = new Set(["rejected", "submit_failed", "parked"]);
const auditNotes = new Map();  // "id@updated_at" -> note

async function lastAuditNote(o) {
  const key = o.id + "@" + o.updated_at;
  if (!auditNotes.has(key)) {
    const trail = await getJSON("/api/orders/" + o.id + "/audit");
    const noted = trail.events.filter((e) => e.note);
    auditNotes.set(key, noted.length ? noted[noted.length - 1].note : "");
  }
  return auditNotes.get(key);
}

async function failuresOf(t) {
  const failed = (t.orders || []).filter((o) => FAILED_ORDER.has(o.state));
  const out = [];
  for (const o of failed) {
    const why = o.last_error || await lastAuditNote(o).catch(() => "");
    out.push(o.role + " " + o.state + ": " + (why || "no reason recorded"));
  }
  return out;
}

// Decimal strings as scaled BigInts ({v, s}: v / 10^s): money is never a double.
function dec(str) {
  const m = /^([-+]?)(\d*)(?:\.(\d*))?$/.exec(String(str));
  if (!m) return null;
  const frac = m[3] || "";
  return { v: BigInt(m[1] + (m[2] || "0") + frac), s: frac.length };
}
function rescale(a, s) { return a.v * 10n ** BigInt(s - a.s); }
function decAdd(a, b) { const s = Math.max(a.s, b.s); return { v: rescale(a, s) + rescale(b, s), s }; }
function decMul(a, b) { return { v: a.v * b.v, s: a.s + b.s }; }
function decStr(a) {
  const neg = a.v < 0n, digits = (neg ? -a.v : a.v).toString().padStart(a.s + 1, "0");
  const whole = digits.slice(0, digits.length - a.s), frac = digits.slice(digits.length - a.s).replace(/0+$/, "");
  return (neg ? "-" : "") + whole + (frac ? "." + frac : "");
}
// a / b to the cent, half away from zero.
function decDivCents(a, b) {
  const num = a.v * 100n * 10n ** BigInt(b.s), den = b.v * 10n ** BigInt(a.s);
  const q = num / den, r = num % den;
  const away = (r < 0n ? -r : r) * 2n >= (den < 0n ? -den : den);
  return { v: away ? q + ((num < 0n) !== (den < 0n) ? -1n : 1n) : q, s: 2 };
}

// Filled qty and qty x price over some orders of a trade.
function fills(orders) {
  let qty = { v: 0n, s: 0 }, value = { v: 0n, s: 0 };
  for (const o of orders) {
    const q = dec(o.filled_qty), p = o.filled_avg_price && dec(o.filled_avg_price);
    if (!q || !p || q.v === 0n) continue;
    qty = decAdd(qty, q);
    value = decAdd(value, decMul(q, p));
  }
  return { qty, value };
}

// Realized P&L from the trade's own fills: what the exits got back against what the same qty
// cost at the entry's average. Exact when the trade is flat; "≈" to the cent while partly closed.
function realizedPnl(t) {
  const orders = t.orders || [];
  const entry = fills(orders.filter((o) => o.role === "entry"));
  const exit = fills(orders.filter((o) => o.role !== "entry"));
  if (exit.qty.v === 0n || entry.qty.v === 0n) return null;
  const sign = { v: t.side === "sell" ? -1n : 1n, s: 0 };
  const flat = rescale(exit.qty, Math.max(exit.qty.s, entry.qty.s)) === rescale(entry.qty, Math.max(exit.qty.s, entry.qty.s));
  if (flat) return decStr(decMul(sign, decAdd(exit.value, decMul({ v: -1n, s: 0 }, entry.value))));
  // proceeds - exit_qty * cost / entry_qty = (proceeds * entry_qty - exit_qty * cost) / entry_qty
  const num = decAdd(decMul(exit.value, entry.qty), decMul({ v: -1n, s: 0 }, decMul(exit.qty, entry.value)));
  return "\u2248" + decStr(decMul(sign, decDivCents(num, entry.qty)));
}

function entryFill(t) {
  const filled = (t.orders || []).filter((o) => o.role === "entry" && o.filled_avg_price);
  return filled.map((o) => o.filled_qty + " @ " + o.filled_avg_price).join(", ");
}

async function refreshTrades() {
  const trades = await getPage("trades", "/api/trades");
  const why = await Promise.all(trades.map(failuresOf));
  let i = 0;
  fill("#trades", trades, (t) => {
    const failures = why[i++];
    const tr = document.createElement("tr");
    tr.dataset.tradeId = t.id;
    tr.dataset.symbol = t.symbol;
    if (failures.length) tr.classList.add("failed");
    cell(tr, t.id); cell(tr, t.symbol); cell(tr, t.side); cell(tr, t.qty); stateCell(tr, t.state);
    cell(tr, entryFill(t)); cell(tr, exitsText(t), "exits");
    const pnl = realizedPnl(t);
    cell(tr, pnl, pnl === null ? "pnl" : pnl.replace("\u2248", "").startsWith("-") ? "pnl bad" : "pnl good");
    cell(tr, failures.length ? failures.join("; ") : t.note, failures.length ? "why bad" : "why");
    cell(tr, age(t.created_at));
    const td = document.createElement("td");
    td.className = "actions";
    // cancel: what has not filled (a pending trade); close: cancel and flatten (one that holds
    // something); exits: move its take-profit / stop-loss (PATCH).
    if (t.state === "pending") td.appendChild(actionButton("cancel", () => cancelTrade(t, false)));
    if (t.state === "open") td.appendChild(actionButton("close", () => cancelTrade(t, true)));
    if ((t.state === "pending" || t.state === "open") && t.exits !== "none")
      td.appendChild(actionButton("exits", () => modifyExits(t)));
    tr.appendChild(td);
    return tr;
  });
}

const TERMINAL_TRADE = new Set(["closed", "canceled", "failed"]);

function actionButton(name, onClick) {
  const b = document.createElement("button");
  b.type = "button"; b.className = name; b.textContent = name;
  b.addEventListener("click", onClick);
  return b;
}

// One mutating call, its outcome in #action-msg ("trade 7: close requested, now closing").
async function act(t, what, method, path, body) {
  const init = { method, headers: { Authorization: "Bearer " + token() } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const r = await fetch(path, init);
  const answer = await r.json().catch(() => ({}));
  if (r.status === 401 || r.status === 403) askToken(answer.error || "");
  const msg = $("#action-msg");
  msg.hidden = false;
  msg.className = "action-msg " + (r.ok ? "ok" : "bad");
  msg.textContent = r.ok ? "trade " + t.id + ": " + what + " requested, now " + answer.state +
                           (what === "modify" ? " (" + answer.note + ")" : "")
                         : "trade " + t.id + ": " + what + " refused (" + r.status + "): " + (answer.error || "");
  refreshAll();
}

// cancel: DELETE /api/trades/ID, what has not filled (the daemon refuses, 409, once something
// is held). close: DELETE ...?flatten=true, working orders canceled at the broker, then what the
// trade holds flattened at market. The dialog says exactly what it sends and does before sending.
function cancelTrade(t, flatten) {
  const undo = t.side === "buy" ? "sells" : "buys back";
  const what = t.id + " (" + t.side + " " + t.qty + " " + t.symbol + ")";
  const path = "/api/trades/" + t.id + (flatten ? "?flatten=true" : "");
  openAction({
    t, what: flatten ? "close" : "cancel", method: "DELETE", path,
    title: (flatten ? "Close trade " : "Cancel trade ") + what,
    explain: flatten
      ? "This sends DELETE " + path + ": orderly cancels the trade's working orders at the broker (its " +
        "take-profit and stop-loss), then " + undo + " at market whatever the trade still holds. It cannot be undone."
      : "This sends DELETE " + path + ": orderly cancels what has not filled (its entry at the broker); " +
        "nothing held is sold. It cannot be undone.",
  });
}

// PATCH /api/trades/ID with the new targets; the daemon checks them (400 naming the rule) and
// its exits at the broker follow (replaced, or canceled and placed again).
function modifyExits(t) {
  openAction({
    t, what: "modify", method: "PATCH", path: "/api/trades/" + t.id, exits: true,
    title: "Exits of trade " + t.id + " (" + t.side + " " + t.qty + " " + t.symbol + ")",
    explain: "Now: " + exitsText(t) + ". Each exit you change is replaced at the broker (or canceled " +
      "and placed again); the daemon refuses (400, naming the rule) a target that cannot protect the position.",
  });
}

// A decimal written as the API takes it: digits, at most one point, above zero.
const DECIMAL_TEXT = /^(\d+\.?\d*|\.\d+)$/;

// "11.40" -> {limit_price|stop_price}, "+2%" / "-1%" -> {percent}, "trail:1%" / "trail:0.50" ->
// {trail_percent|trail_price}, "none" -> null (drop that exit); "" keeps it (undefined). A percent
// is a distance from the fill in the exit's own direction, so its sign is only a reminder.
function exitTarget(input, priceKey, label) {
  let text = (input || "").trim();
  if (text === "") return undefined;
  if (text === "none") return null;
  const trail = text.startsWith("trail:");
  if (trail) text = text.slice(6).trim();
  const percent = text.endsWith("%");
  const value = text.replace(/%$/, "").replace(/^[+-]/, "");
  if (!DECIMAL_TEXT.test(value) || !/[1-9]/.test(value))
    throw new Error(label + ": \"" + input.trim() + "\" is not a price, a percent, trail:X% / trail:P or none");
  if (trail) return percent ? { trail_percent: value } : { trail_price: value };
  return percent ? { percent: value } : { [priceKey]: value };
}

// The body of the exits form, or an Error saying what is wrong with it.
function exitsBody() {
  const body = {};
  const take = exitTarget($("#ta-tp").value, "limit_price", "take-profit");
  const stop = exitTarget($("#ta-sl").value, "stop_price", "stop-loss");
  if (take && (take.trail_percent || take.trail_price)) throw new Error("take-profit: only a stop-loss can trail");
  if (take !== undefined) body.take_profit = take;
  if (stop !== undefined) body.stop_loss = stop;
  if (!Object.keys(body).length) throw new Error("nothing to change: enter a take-profit, a stop-loss or both");
  return body;
}

// "tp 11.40 · sl 9.60 (emulated)": the trade's targets as they are now.
function exitsText(t) {
  if (t.exits === "none") return "none";
  const parts = [];
  if (t.take_profit) parts.push("tp " + targetText(t.take_profit));
  if (t.stop_loss) parts.push("sl " + targetText(t.stop_loss));
  return parts.join(" \u00b7 ") + " (" + t.exits + ")";
}

function targetText(x) {
  if (!x) return "none";
  if (x.limit_price || x.stop_price) return x.limit_price || x.stop_price;
  if (x.trail_percent) return "trail:" + x.trail_percent + "%";
  if (x.trail_price) return "trail:" + x.trail_price;
  return x.percent + "%";
}

let pendingAction = null;  // {t, what, method, path, exits, title, explain}

function openAction(action) {
  pendingAction = action;
  $("#ta-title").textContent = action.title;
  $("#ta-what").textContent = action.explain;
  $("#ta-exits").hidden = !action.exits;
  if (action.exits) {
    $("#ta-tp").value = ""; $("#ta-sl").value = "";
    const t = action.t;
    $("#ta-tp-now").textContent = t.take_profit ? targetText(t.take_profit) : "no take-profit";
    $("#ta-sl-now").textContent = t.stop_loss ? targetText(t.stop_loss) : "no stop-loss";
  }
  showRequest(false);
  $("#trade-action").showModal();
  if (action.exits) $("#ta-tp").focus(); else $("#ta-back").focus();
}

// What send would do, as it is typed; an input it cannot read is named (only on send when
// `strict`, so a half-typed price is not called wrong).
function showRequest(strict) {
  const a = pendingAction;
  let body, error = "";
  try { body = a.exits ? exitsBody() : undefined; } catch (e) { error = e.message; }
  $("#ta-request").textContent = a.method + " " + a.path + (body ? " " + JSON.stringify(body) : "");
  $("#ta-error").textContent = strict || (error && !error.startsWith("nothing")) ? error : "";
  return error ? null : { body };
}

async function sendAction(e) {
  e.preventDefault();
  const ready = showRequest(true);
  if (!ready) return;
  const a = pendingAction;
  $("#trade-action").close();
  await act(a.t, a.what, a.method, a.path, ready.body);
}

let lastHealth = null;
let activeAlerts = [];

function isZero(d) { return d === null || d === undefined || /^[-+]?0*(\.0*)?$/.test(String(d)); }

// Protection: an active unprotected_position alert names the symbol (the engine's judgement,
// after its grace). Otherwise the page shows the exit book's figures as the API gives them: how
// much of what our trades hold the working exits at the broker would close.
function protectionCell(tr, p) {
  const named = activeAlerts.some((a) => a.kind === "unprotected_position" && a.subject === p.symbol);
  if (named) {
    tr.classList.add("unprotected");
    return cell(tr, "UNPROTECTED", "bad");
  }
  if (isZero(p.local_qty) && isZero(p.broker_qty)) return cell(tr, "flat");
  if (p.held_by_trades == null) return cell(tr, "-", "dim");
  if (isZero(p.held_by_trades)) return cell(tr, "held outside orderly", "warn");
  const held = String(p.held_by_trades).replace(/^-/, "");
  const full = Number(p.covered_by_exits) >= Number(held);
  return cell(tr, p.covered_by_exits + " of " + held + " covered", full ? "good" : "warn");
}

async function refreshPositions() {
  const positions = await getJSON("/api/positions");
  const priced = positions.some((p) => "avg_entry_price" in p || "current_price" in p || "unrealized_pl" in p);
  fill("#positions", positions, (p) => {
    const tr = document.createElement("tr");
    tr.dataset.symbol = p.symbol;
    if (p.mismatch) tr.classList.add("drift");
    cell(tr, p.symbol); cell(tr, p.local_qty); cell(tr, p.broker_qty); cell(tr, p.drift);
    cell(tr, p.avg_entry_price, "price-col"); cell(tr, p.current_price ?? p.last_price, "price-col");
    const pl = p.unrealized_pl;
    cell(tr, pl, "price-col " + (pl == null ? "" : String(pl).startsWith("-") ? "bad" : "good"));
    protectionCell(tr, p);
    return tr;
  });
  $("#positions-section").classList.toggle("unpriced", !priced);
  $("#positions-note").hidden = priced || positions.length === 0;
  $("#positions-empty").hidden = positions.length > 0;
}

async function refreshAlerts() {
  const alerts = await getJSON("/api/alerts?active=true");
  activeAlerts = alerts;
  fill("#alerts", alerts, (a) => {
    const tr = document.createElement("tr");
    tr.dataset.kind = a.kind;
    if (a.severity) tr.classList.add("sev-" + a.severity);
    cell(tr, a.severity ? a.kind + " \u00b7 " + a.severity : a.kind); cell(tr, a.subject); cell(tr, a.message); cell(tr, age(a.raised_at) + " ago");
    return tr;
  });
  $("#alerts-count").textContent = alerts.length;
  $("#alerts-count").classList.toggle("hot", alerts.length > 0);
  $("#alerts-empty").hidden = alerts.length > 0;
  if (lastHealth) showBadge(lastHealth);
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

// The daemon's status (ok/degraded/down) and its reasons; an older daemon without them is judged
// from its fields. Never green while an alert is active or a position is unprotected.
function judge(h) {
  let status = ["ok", "degraded", "down"].includes(h.status) ? h.status
    : (h.store_ok === false || h.broker_ok === false) ? "degraded" : "ok";
  const reasons = Array.isArray(h.reasons) ? h.reasons.slice() : [];
  if (!Array.isArray(h.reasons)) {
    if (h.store_ok === false) reasons.push("store: " + (h.store_error || "error"));
    if (h.broker_ok === false) reasons.push("broker unreachable");
  }
  const unprotected = h.unprotected_positions || 0;
  if (unprotected > 0 && !reasons.some((r) => r.includes("unprotected"))) {
    reasons.push(unprotected + " unprotected position" + (unprotected > 1 ? "s" : ""));
  }
  // Alerts the daemon's reasons do not already name.
  const unnamed = [...new Set(activeAlerts.map((a) => a.kind))].filter((k) => !reasons.some((r) => r.includes(k)));
  if (unnamed.length > 0) reasons.push("active alert" + (unnamed.length > 1 ? "s" : "") + ": " + unnamed.join(", "));
  if (status === "ok" && (activeAlerts.length > 0 || unprotected > 0)) status = "attention";
  return { status, reasons };
}

function showBadge(h) {
  const { status, reasons } = judge(h);
  const badge = $("#h-status");
  badge.textContent = status;
  badge.className = "badge " + status;
  badge.title = reasons.join("\n");
  $("#h-reasons").textContent = reasons.join(" \u00b7 ");
  $("#h-unprotected").textContent = typeof h.unprotected_positions === "number" ? h.unprotected_positions : "not reported";
}

function showHealth(h) {
  lastHealth = h;
  showBadge(h);
  $("#h-stream").textContent = h.stream_connected ? "connected" : "down";
  $("#h-sync").textContent = h.last_sync_age_ms === null ? "never" : h.last_sync_age_ms + " ms ago";
  $("#h-store").textContent = h.store_ok ? "ok" : "ERROR " + h.store_error;
  $("#h-broker").textContent = h.broker_ok ? "ok" : "unreachable";
  $("#h-open").textContent = h.open_orders;
  $("#h-rest").textContent = h.rest_calls_last_minute + " of " + h.rest_budget_per_minute;
  // The broker's clock: the session, and when it next changes (local time of the browser).
  const m = h.market;
  $("#h-market").textContent = !m ? "not read yet"
    : m.is_open ? "open, closes " + new Date(m.next_close).toLocaleString()
                : "closed, opens " + new Date(m.next_open).toLocaleString();
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

// Alerts before positions: the protection column reads them.
function refreshAll() {
  return Promise.all([refreshOrders(), refreshTrades(), refreshAlerts().then(refreshPositions)])
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
    if (++ticks % 2 === 0) refreshAlerts().then(refreshPositions).catch(() => {});
  });
  events.onerror = () => { $("#h-status").textContent = "reconnecting…"; $("#h-status").className = "badge degraded"; };
}

pager("trades", refreshTrades);
pager("orders", refreshOrders);
// A new filter starts again from the newest page.
for (const [id, ev] of [["#orders-symbol", "change"], ["#orders-open", "change"]]) {
  $(id).addEventListener(ev, () => { pages.orders.offset = 0; refreshOrders().catch((e) => console.warn(e)); });
}
$("#audit-close").addEventListener("click", () => {
  selectedOrder = null;
  $("#audit-section").hidden = true;
  for (const tr of document.querySelectorAll("#orders tbody tr.selected")) tr.classList.remove("selected");
});
$("#ta-form").addEventListener("submit", sendAction);
$("#ta-back").addEventListener("click", () => $("#trade-action").close());
for (const id of ["#ta-tp", "#ta-sl"]) $(id).addEventListener("input", () => showRequest(false));
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
  // A daemon that is down answers 503 with the same body: it is shown, not dropped.
  fetch("/healthz", { cache: "no-store" }).then((r) => r.json()).then(showHealth).catch(() => {});
  connect();
}
start();
setInterval(() => { if ($("#login").hidden) refreshAll(); }, 10000);
