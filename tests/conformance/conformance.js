// Drives a running `orderly sim` with Alpaca's official JavaScript SDK, unchanged: if the SDK
// can parse every response and stream frame, users can rehearse against the simulator.
//
//   node conformance.js http://127.0.0.1:PORT KEY SECRET
//
// Exit status 0 when every check passes; each failure is printed.
"use strict";

const { OrdersApi, trading, streaming, NotFoundError } = require("@alpacahq/alpaca-trade-api");

const [baseUrl, keyId, secret] = process.argv.slice(2);
if (!baseUrl || !keyId || !secret) {
  console.error("usage: node conformance.js BASE_URL KEY SECRET");
  process.exit(2);
}

let failures = 0;
function check(name, ok, detail) {
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${ok || detail === undefined ? "" : ": " + detail}`);
  if (!ok) failures += 1;
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function setPrices(prices) {
  const res = await fetch(`${baseUrl}/sim/prices`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(prices),
  });
  if (res.status !== 200) throw new Error(`POST /sim/prices -> ${res.status}`);
}

async function main() {
  // The SDK's own retries would hide a wrong status code; the check wants the first answer.
  const config = new trading.Configuration({
    keyId,
    secret,
    basePath: baseUrl,
    retry: { maxAttempts: 1 },
  });
  const accounts = new trading.AccountsApi(config);
  const orders = new OrdersApi(config);
  const positions = new trading.PositionsApi(config);

  await setPrices({ AAPL: "190.00" });

  const account = await accounts.getAccount();
  check("getAccount: ACTIVE with cash", account.status === "ACTIVE" && Number(account.cash) > 0,
        JSON.stringify(account));

  // trade_updates: authenticate + listen through the SDK's TradingStream, then wait for the fill.
  const wsUrl = baseUrl.replace(/^http/, "ws") + "/stream";
  const stream = new streaming.TradingStream({
    credentials: { keyId, secret },
    url: wsUrl,
    reconnect: false,
  });
  const updates = [];
  const waiters = [];
  stream.onTradeUpdate((u) => {
    updates.push(u);
    for (const w of waiters.splice(0)) w();
  });
  stream.onError((e) => console.log(`stream error: ${e}`));
  const subscribed = new Promise((resolve) => stream.on("subscription", resolve));
  stream.onConnect(() => stream.subscribeTradeUpdates());
  stream.connect();
  const auth = await withTimeout(stream.whenAuthenticated(), 10000, "stream authorization");
  check("stream authenticated", auth && auth.ok !== false, JSON.stringify(auth));
  const streams = await withTimeout(subscribed, 10000, "listening ack");
  check("stream listening to trade_updates", JSON.stringify(streams).includes("trade_updates"),
        JSON.stringify(streams));

  function waitForUpdate(pred, what) {
    return withTimeout(new Promise((resolve) => {
      const look = () => {
        const u = updates.find(pred);
        if (u) resolve(u);
        else waiters.push(look);
      };
      look();
    }), 15000, what);
  }

  const clientOrderId = `conformance-${Date.now()}`;
  const order = await orders.market({ symbol: "AAPL", qty: 1, side: "buy", clientOrderId });
  check("createOrder (market buy): id and client_order_id",
        typeof order.id === "string" && order.id.length > 0 && order.clientOrderId === clientOrderId,
        JSON.stringify(order));

  const fill = await waitForUpdate((u) => u.event === "fill" && u.order && u.order.id === order.id,
                                   "the fill on trade_updates");
  check("stream: fill event for the order", fill.order.status === "filled", JSON.stringify(fill));

  const got = await orders.getOrderByOrderID({ orderId: order.id });
  check("getOrder: filled, filled_qty 1",
        got.status === "filled" && Number(got.filledQty) === 1 && got.symbol === "AAPL",
        JSON.stringify(got));

  const byClient = await orders.getOrderByClientOrderId({ clientOrderId });
  check("getOrderByClientOrderId: same order", byClient.id === order.id, JSON.stringify(byClient));

  // A resting limit buy far below the market, then cancelled.
  const resting = await orders.limit({
    symbol: "AAPL", qty: 1, side: "buy", limitPrice: "100.00",
    clientOrderId: `${clientOrderId}-limit`,
  });
  const open = await orders.getAllOrders({ status: "open" });
  check("getOrders (open): lists the resting limit", open.some((o) => o.id === resting.id),
        JSON.stringify(open.map((o) => o.id)));
  const all = await orders.getAllOrders({ status: "all" });
  check("getOrders (all): lists both orders",
        all.some((o) => o.id === order.id) && all.some((o) => o.id === resting.id),
        JSON.stringify(all.map((o) => o.id)));

  await orders.deleteOrderByOrderID({ orderId: resting.id });
  const canceled = await waitForUpdate(
      (u) => u.event === "canceled" && u.order && u.order.id === resting.id, "the cancel event");
  check("cancelOrder: canceled event on the stream", canceled.order.status === "canceled",
        JSON.stringify(canceled));
  const afterCancel = await orders.getOrderByOrderID({ orderId: resting.id });
  check("cancelOrder: order is canceled", afterCancel.status === "canceled",
        JSON.stringify(afterCancel));

  const held = await positions.getAllOpenPositions();
  const aapl = held.find((p) => p.symbol === "AAPL");
  check("getPositions: AAPL qty 1", aapl && Number(aapl.qty) === 1, JSON.stringify(held));

  try {
    await orders.getOrderByOrderID({ orderId: "00000000-0000-4000-8000-000000000000" });
    check("unknown order: 404", false, "no error raised");
  } catch (e) {
    check("unknown order: NotFoundError (404)",
          e instanceof NotFoundError || (e.status ?? e.response?.status) === 404, String(e));
  }

  stream.disconnect();
}

main()
  .catch((e) => {
    console.log(`FAIL unexpected error: ${e && e.stack ? e.stack : e}`);
    failures += 1;
  })
  .finally(() => {
    console.log(failures === 0 ? "conformance: all checks passed" : `conformance: ${failures} failed`);
    process.exit(failures === 0 ? 0 : 1);
  });
