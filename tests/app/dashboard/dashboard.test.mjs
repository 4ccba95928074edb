// The dashboard in a real headless Chromium: the page loads from the daemon, a trade opened
// through the API appears in the orders table (live, without reload), and a position drift shows
// up highlighted with its alert. Usage: node dashboard.test.mjs API_URL TOKEN SIM_URL SCREENSHOT
import { chromium } from "playwright-core";

const [api, token, sim, screenshot] = process.argv.slice(2);
const fail = (msg) => { console.error("dashboard test: FAIL: " + msg); process.exit(1); };

async function post(url, body, headers = {}) {
  const r = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json", ...headers },
                               body: JSON.stringify(body) });
  return { status: r.status, body: await r.text() };
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
  if (!(await page.$eval("#login", (f) => f.hidden))) fail("the token was asked for again after a reload");

  // A trade opened through the API appears, and moves on to a filled entry + a take-profit.
  const opened = await post(api + "/api/trades",
    { symbol: "STWD", side: "buy", qty: "37", entry: { type: "market" },
      take_profit: { percent: "2" }, exits: "emulated" },
    { Authorization: "Bearer " + token });
  if (opened.status !== 201) fail("POST /api/trades answered " + opened.status + " " + opened.body);
  await page.waitForSelector('#orders tbody tr[data-symbol="STWD"]', { timeout: 20000 });
  await page.waitForFunction(() => [...document.querySelectorAll("#orders tbody tr")]
    .some((tr) => tr.textContent.includes("take_profit")), null, { timeout: 30000 });

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

  // One order's audit trail on click.
  await page.click('#orders tbody tr[data-symbol="STWD"]');
  await page.waitForSelector("#audit-section:not([hidden]) #audit tbody tr", { timeout: 10000 });
  await page.waitForTimeout(1500);  // a few health samples for the chart in the screenshot
  await page.screenshot({ path: screenshot, fullPage: true });
  if (errors.length) fail("page errors: " + errors.join("; "));
  console.log("dashboard test: ok (screenshot " + screenshot + ")");
} finally {
  await browser.close();
}
