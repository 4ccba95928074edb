// The dashboard in a real headless Chromium: the page loads from the daemon, a trade opened
// through the API appears in the orders table (live, without reload), a trade the broker refuses
// shows why, a trade's take-profit moved from the page is replaced at the simulator, a trade
// canceled (closed) from the page is canceled (flattened) at the simulator, a position drift shows
// up highlighted with its alert and turns the badge from ok, and the lists page with older/newer.
// Usage: node dashboard.test.mjs API_URL TOKEN SIM_URL SCREENSHOT
import { chromium } from "playwright-core";

const [api, token, sim, screenshot] = process.argv.slice(2);
const fail = (msg) => { console.error("dashboard test: FAIL: " + msg); process.exit(1); };

const auth = { Authorization: "Bearer " + token };
const simAuth = { "APCA-API-KEY-ID": "PKDASHBOARDTEST", "APCA-API-SECRET-KEY": "DASHBOARDTESTSECRET" };

async function post(url, body, headers = {}) {
  const r = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json", ...headers },
                               body: JSON.stringify(body) });
  return { status: r.status, body: await r.text() };
}

// Clicks a trade's `action` button (cancel, close, exits), reads what its dialog says it sends
// and does, fills the exits form with `exits` ([take-profit, stop-loss]), sends, waits for the
// page to report the request, and returns what the dialog said.
async function actFromPage(page, id, action, exits = null) {
  const button = `#trades tbody tr[data-trade-id="${id}"] button.${action}`;
  await page.waitForSelector(button, { timeout: 20000 });
  await page.click(button);
  await page.waitForSelector("#trade-action[open]", { timeout: 5000 })
    .catch(() => fail(action + " of trade " + id + ": no dialog opened"));
  if (exits) {
    await page.fill("#ta-tp", exits[0]);
    await page.fill("#ta-sl", exits[1]);
  }
  const said = (await page.textContent("#ta-what")) + "\n" + (await page.textContent("#ta-request"));
  if (exits) await page.screenshot({ path: screenshot.replace(/\.png$/, "-exits.png") });
  await page.click("#ta-send");
  const what = action === "exits" ? "modify" : action;
  await page.waitForFunction(([id, what]) => document.querySelector("#action-msg").textContent
    .startsWith("trade " + id + ": " + what + " requested"), [id, what], { timeout: 20000 })
    .catch(async () => fail(action + " of trade " + id + ": " + await page.textContent("#action-msg")));
  return said;
}

// A target the exits form cannot read is named in the dialog, which stays open, and nothing is
// sent (the trade's exits are unchanged).
async function unreadableTargetIsNamed(page, id) {
  const button = `#trades tbody tr[data-trade-id="${id}"] button.exits`;
  await page.waitForSelector(button, { timeout: 20000 });
  await page.click(button);
  await page.waitForSelector("#trade-action[open]", { timeout: 5000 });
  await page.fill("#ta-tp", "11,40");
  await page.click("#ta-send");
  const error = await page.textContent("#ta-error");
  if (!error.includes('take-profit: "11,40" is not a price')) fail("unreadable take-profit, dialog said: " + error);
  if (!(await page.$("#trade-action[open]"))) fail("the dialog closed on an unreadable take-profit");
  await page.click("#ta-back");
  if (await page.$("#trade-action[open]")) fail("back did not close the dialog");
}

async function cancelFromPage(page, id) {
  const asked = await actFromPage(page, id, "cancel");
  if (!asked.includes("DELETE /api/trades/" + id + ":") || !asked.includes("nothing held is sold"))
    fail("the dialog does not say what cancel does: " + JSON.stringify(asked));
}

async function closeFromPage(page, id) {
  const asked = await actFromPage(page, id, "close");
  if (!asked.includes("DELETE /api/trades/" + id + "?flatten=true") || !asked.includes("at market"))
    fail("the dialog does not say what close does: " + JSON.stringify(asked));
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(api + "/", { waitUntil: "load" });
  if ((await page.title()) !== "orderly") fail("title is " + (await page.title()));
  // Every read needs the token: the page asks for it once (a wrong one is refused, and asked
  // again), then keeps it for the browser session.
  await page.waitForSelector("#login:not([hidden])", { timeout: 20000 });
  await page.fill("#login-token", "not-the-token-at-all");
  await page.click("#login button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#login-error").textContent.includes("refused"),
    null, { timeout: 20000 });
  await page.fill("#login-token", token);
  await page.click("#login button[type=submit]");
  await page.waitForSelector("#h-status.badge.ok", { timeout: 20000 });
  await page.reload({ waitUntil: "load" });
  await page.waitForSelector("#h-status.badge.ok", { timeout: 20000 });
  if (await page.isVisible("#login")) fail("the token form shows after a reload");

  // A trade opened through the API appears, and moves on to a filled entry + a take-profit.
  const opened = await post(api + "/api/trades",
    { symbol: "STWD", side: "buy", qty: "37", entry: { type: "market" },
      take_profit: { percent: "2" }, exits: "emulated" },
    { Authorization: "Bearer " + token });
  if (opened.status !== 201) fail("POST /api/trades answered " + opened.status + " " + opened.body);
  const openedId = JSON.parse(opened.body).id;
  await page.waitForSelector('#orders tbody tr[data-symbol="STWD"]', { timeout: 20000 });
  await page.waitForFunction(() => [...document.querySelectorAll("#orders tbody tr")]
    .some((tr) => tr.textContent.includes("take_profit")), null, { timeout: 30000 });

  // Its take-profit moved from the page (PATCH): replaced at the simulator at the new price.
  const stwdTrade = await (await fetch(api + "/api/trades/" + openedId, { headers: auth })).json();
  const stwdFill = Number(stwdTrade.orders.find((o) => o.role === "entry").filled_avg_price);
  const newTp = (Math.ceil(stwdFill * 105) / 100).toFixed(2);
  await unreadableTargetIsNamed(page, openedId);
  const said = await actFromPage(page, openedId, "exits", [newTp, ""]);
  const request = "PATCH /api/trades/" + openedId + ' {"take_profit":{"limit_price":"' + newTp + '"}}';
  if (!said.includes(request)) fail("the exits dialog does not show its request " + request + ": " + said);
  const simTp = async () => (await (await fetch(sim + "/v2/orders?status=open&symbols=STWD", { headers: simAuth }))
    .json()).filter((o) => o.side === "sell").map((o) => o.type + " " + o.limit_price);
  for (let i = 0; i < 100 && JSON.stringify(await simTp()) !== JSON.stringify(["limit " + newTp]); ++i)
    await page.waitForTimeout(100);
  if (JSON.stringify(await simTp()) !== JSON.stringify(["limit " + newTp]))
    fail("STWD take-profit at the simulator: " + JSON.stringify(await simTp()) + ", expected limit " + newTp);
  await page.waitForFunction(([id, tp]) => document.querySelector(`#trades tbody tr[data-trade-id="${id}"] td.exits`)
    .textContent.startsWith("tp " + tp), [openedId, newTp], { timeout: 20000 })
    .catch(() => fail("trade " + openedId + " does not show its new take-profit " + newTp));

  // The broker refuses a trade (buying power): its row says why, in the broker's words.
  const refused = await post(api + "/api/trades",
    { symbol: "AAPL", side: "buy", qty: "1000000", entry: { type: "market" },
      take_profit: { percent: "2" }, exits: "emulated" }, auth);
  if (refused.status !== 201) fail("POST /api/trades (AAPL) answered " + refused.status + " " + refused.body);
  const refusedId = JSON.parse(refused.body).id;
  await page.waitForFunction((id) => {
    const td = document.querySelector(`#trades tbody tr[data-trade-id="${id}"] td.why.bad`);
    return td && td.textContent.includes("insufficient buying power");
  }, refusedId, { timeout: 30000 }).catch(() => fail("trade " + refusedId + " shows no refusal reason"));

  // Cancel from the page: a resting limit entry, the dialog names the DELETE and what it does,
  // and the simulator's order ends canceled.
  const resting = await post(api + "/api/trades",
    { symbol: "KO", side: "buy", qty: "10", entry: { type: "limit", limit_price: "1.00" },
      take_profit: { percent: "2" }, exits: "emulated" }, auth);
  if (resting.status !== 201) fail("POST /api/trades (KO) answered " + resting.status + " " + resting.body);
  const restingId = JSON.parse(resting.body).id;
  await cancelFromPage(page, restingId);
  await page.waitForSelector(`#trades tbody tr[data-trade-id="${restingId}"] .state.canceled`, { timeout: 30000 })
    .catch(() => fail("trade " + restingId + " never shows canceled"));
  const simOrders = await (await fetch(sim + "/v2/orders?status=all&limit=500", { headers: simAuth })).json();
  const ko = simOrders.filter((o) => o.symbol === "KO");
  if (ko.length !== 1 || ko[0].status !== "canceled")
    fail("at the simulator, KO orders: " + JSON.stringify(ko.map((o) => o.status)));

  // Cancel a filled trade from the page: flattened at market, flat at the simulator, and its
  // realized P&L is its exit's proceeds less its entry's cost.
  const held = await post(api + "/api/trades",
    { symbol: "PFE", side: "buy", qty: "5", entry: { type: "market" }, take_profit: { percent: "5" },
      exits: "emulated" }, auth);
  if (held.status !== 201) fail("POST /api/trades (PFE) answered " + held.status + " " + held.body);
  const heldId = JSON.parse(held.body).id;
  await page.waitForSelector(`#trades tbody tr[data-trade-id="${heldId}"] .state.open`, { timeout: 30000 });
  const moved = await post(sim + "/sim/prices", { PFE: "29.10" });  // below the 5% take-profit
  if (moved.status !== 200) fail("POST /sim/prices answered " + moved.status + " " + moved.body);
  await closeFromPage(page, heldId);
  await page.waitForSelector(`#trades tbody tr[data-trade-id="${heldId}"] .state.closed`, { timeout: 30000 })
    .catch(() => fail("trade " + heldId + " never shows closed"));
  const closed = await (await fetch(api + "/api/trades/" + heldId, { headers: auth })).json();
  const avg = (role) => Number(closed.orders.find((o) => o.role === role && o.filled_qty === "5").filled_avg_price);
  const expected = ((avg("exit") - avg("entry")) * 5).toFixed(2);
  const shown = await page.textContent(`#trades tbody tr[data-trade-id="${heldId}"] td.pnl`);
  if (Number(shown).toFixed(2) !== expected || shown !== "5.5")
    fail("PFE realized P&L shows " + shown + ", expected " + expected + " (5 x 1.10 at the moved price)");
  const simPositions = await (await fetch(sim + "/v2/positions", { headers: simAuth })).json();
  if (simPositions.some((p) => p.symbol === "PFE")) fail("PFE still held at the simulator");

  // Drift: shares bought at the broker behind orderly's back (an order placed directly at the
  // simulator), then a reconciliation: the position row is flagged and an alert is raised.
  const external = await post(sim + "/v2/orders",
    { symbol: "F", qty: "5", side: "buy", type: "market", time_in_force: "day" },
    { "APCA-API-KEY-ID": "PKEXTERNAL", "APCA-API-SECRET-KEY": "EXTERNALSECRET" });
  if (external.status !== 200) fail("external order at the simulator: " + external.status + " " + external.body);
  // The engine raises reconciliation_mismatch when the drift persists over two reconciliations
  // (hysteresis): reconcile until the page shows both the flagged row and the alert.
  let seen = false;
  for (let i = 0; i < 30 && !seen; ++i) {
    const rec = await post(api + "/api/reconcile", { fix: false }, { Authorization: "Bearer " + token });
    if (rec.status !== 200) fail("reconcile answered " + rec.status + " " + rec.body);
    seen = await page.waitForFunction(() =>
      document.querySelector('#positions tbody tr.drift[data-symbol="F"]') &&
      document.querySelector('#alerts tbody tr[data-kind="reconciliation_mismatch"]'),
      null, { timeout: 1500 }).then(() => true, () => false);
  }
  if (!seen) {
    await page.screenshot({ path: screenshot, fullPage: true });
    fail("no drift row and reconciliation_mismatch alert on the page (screenshot " + screenshot + ")");
  }

  // The market's session from the broker's clock, in the header.
  await page.waitForFunction(() => /^(open, closes|closed, opens) /.test(document.querySelector("#h-market").textContent),
    null, { timeout: 20000 }).catch(() => fail("no market session in the header"));

  // Never green with an active alert: the badge says why.
  await page.waitForFunction(() => !document.querySelector("#h-status").classList.contains("ok") &&
    document.querySelector("#h-reasons").textContent.includes("reconciliation_mismatch"), null, { timeout: 20000 })
    .catch(() => fail("badge still ok, or no reason, with reconciliation_mismatch active"));

  // Positions: the held STWD with its protection state; price columns only when the API has them.
  const stwd = await page.waitForSelector('#positions tbody tr[data-symbol="STWD"]', { timeout: 20000 });
  const stwdCells = await stwd.$$eval("td", (tds) => tds.map((td) => td.textContent));
  if (stwdCells[1] !== "37" || !["37 of 37 covered", "UNPROTECTED"].includes(stwdCells[7]))
    fail("STWD position row: " + JSON.stringify(stwdCells));
  // The price columns come from the broker's own position: its average entry, and unrealized
  // P&L consistent with the last price shown (the simulator's price may have moved since).
  const simStwd = (await (await fetch(sim + "/v2/positions", { headers: simAuth })).json())
    .find((p) => p.symbol === "STWD");
  if (!simStwd || Number(stwdCells[4]) !== Number(simStwd.avg_entry_price))
    fail("STWD avg entry " + stwdCells[4] + " vs the simulator's " + JSON.stringify(simStwd));
  if (!(Number(stwdCells[5]) > 0) || Number(stwdCells[6]).toFixed(2) !==
      ((Number(stwdCells[5]) - Number(stwdCells[4])) * 37).toFixed(2))
    fail("STWD last / unrealized P&L: " + JSON.stringify(stwdCells));
  const fCells = await page.$$eval('#positions tbody tr[data-symbol="F"] td', (tds) => tds.map((td) => td.textContent));
  if (fCells[7] !== "held outside orderly") fail("F (bought outside orderly) position row: " + JSON.stringify(fCells));

  // One order's audit trail on click.
  await page.click('#orders tbody tr[data-symbol="STWD"]');
  await page.waitForSelector("#audit-section:not([hidden]) #audit tbody tr", { timeout: 10000 });
  await page.waitForTimeout(1500);  // a few health samples for the chart in the screenshot
  await page.screenshot({ path: screenshot, fullPage: true });

  // Paging, two at a time: the newest two trades, then the oldest two, never a silent cap.
  await page.goto(api + "/?page_size=2", { waitUntil: "load" });
  const ids = () => page.$$eval("#trades tbody tr", (trs) => trs.map((tr) => Number(tr.dataset.tradeId)));
  await page.waitForFunction(() => document.querySelectorAll("#trades tbody tr").length === 2, null, { timeout: 20000 });
  if (JSON.stringify(await ids()) !== JSON.stringify([heldId, restingId])) fail("first page: " + await ids());
  if (!(await page.$eval("#trades-newer", (b) => b.disabled)) || await page.$eval("#trades-older", (b) => b.disabled))
    fail("first page: newer should be off and older on");
  if (!(await page.textContent("#trades-range")).includes("1\u20132, older ones exist"))
    fail("first page range: " + await page.textContent("#trades-range"));
  await page.click("#trades-older");
  await page.waitForFunction(() => document.querySelector("#trades-range").textContent.startsWith("3\u20134 (the oldest)"),
    null, { timeout: 20000 });
  if (JSON.stringify(await ids()) !== JSON.stringify([refusedId, openedId])) fail("second page: " + await ids());
  if (!(await page.$eval("#trades-older", (b) => b.disabled))) fail("the oldest page still offers older");
  // Orders filtered through the API (?symbol=, ?open=true), paged the same way.
  const orderRows = () => page.$$eval("#orders tbody tr", (trs) => trs.map((tr) => tr.dataset.symbol + ":" +
    tr.querySelector(".state").textContent));
  await page.fill("#orders-symbol", "pfe");
  await page.press("#orders-symbol", "Enter");
  await page.waitForFunction(() => [...document.querySelectorAll("#orders tbody tr")]
    .every((tr) => tr.dataset.symbol === "PFE"), null, { timeout: 20000 });
  if ((await orderRows()).length !== 2 || await page.$eval("#orders-older", (b) => b.disabled))
    fail("PFE orders, two a page (three in all): " + await orderRows());
  await page.fill("#orders-symbol", "STWD");
  await page.check("#orders-open");
  await page.waitForFunction(() => document.querySelectorAll("#orders tbody tr").length === 1, null, { timeout: 20000 })
    .catch(async () => fail("open STWD orders: " + await orderRows()));
  if (JSON.stringify(await orderRows()) !== JSON.stringify(["STWD:new"])) fail("open STWD orders: " + await orderRows());
  await page.screenshot({ path: screenshot.replace(/\.png$/, "-paging.png"), fullPage: true });

  // Protection, where the engine watches it (its orderly_unprotected_positions gauge): a filled
  // entry whose take-profit the broker refuses leaves T unprotected, and the page says so.
  const metrics = await (await fetch(api + "/metrics", { headers: auth })).text();
  if (metrics.includes("orderly_unprotected_positions")) {
    await page.goto(api + "/", { waitUntil: "load" });
    const naked = await post(api + "/api/trades",
      { symbol: "T", side: "buy", qty: "10", entry: { type: "limit", limit_price: "21.00" },
        take_profit: { percent: "5" }, exits: "emulated" }, auth);
    if (naked.status !== 201) fail("POST /api/trades (T) answered " + naked.status + " " + naked.body);
    await page.waitForSelector(`#orders tbody tr[data-symbol="T"] .state.new`, { timeout: 20000 });
    const refuse = await post(sim + "/sim/faults",
      { rules: [{ on: "http", action: "status", status: 403, route: "POST /v2/orders", symbol: "T" }] });
    if (refuse.status !== 200) fail("POST /sim/faults answered " + refuse.status + " " + refuse.body);
    await post(sim + "/sim/prices", { T: "20.90" });  // the resting entry fills
    await page.waitForFunction(() => {
      const tr = document.querySelector('#positions tbody tr.unprotected[data-symbol="T"]');
      return tr && tr.textContent.includes("UNPROTECTED") &&
        !document.querySelector("#h-status").classList.contains("ok");
    }, null, { timeout: 60000 }).catch(async () => {
      await page.screenshot({ path: screenshot.replace(/\.png$/, "-unprotected.png"), fullPage: true });
      fail("T is not marked unprotected");
    });
    await post(sim + "/sim/faults", { rules: [] });
    await page.screenshot({ path: screenshot.replace(/\.png$/, "-unprotected.png"), fullPage: true });
  } else {
    console.log("dashboard test: this engine does not watch protection; the unprotected mark is not exercised");
  }
  if (errors.length) fail("page errors: " + errors.join("; "));
  console.log("dashboard test: ok (screenshot " + screenshot + ")");
} finally {
  await browser.close();
}
