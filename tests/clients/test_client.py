"""orderly_client against a real `orderly run` + `orderly sim` (outcomes checked at the simulator,
the broker's side), and its retry and resume rules against a scripted fake daemon."""

import http.server
import json
import os
import socket
import threading
import time
import unittest
from decimal import Decimal
from typing import List
from unittest import mock

from support import Sandbox, broker, orderly_bin

import orderly_client
from orderly_client import (BadRequest, Client, DaemonUnreachable, NotFound, OutcomeUnknown,
                            Unauthorized)


def broker_exits(box, symbol: str):
    """The simulator's open orders of `symbol` (legs included) as (type, limit, stop), prices
    normalized, sorted by type."""
    out = []
    for o in broker(box, "/v2/orders?status=open&nested=true"):
        for x in [o] + list(o.get("legs") or []):
            if x["symbol"] == symbol and x["status"] not in ("pending_cancel", "pending_replace"):
                norm = lambda p: None if p is None else str(Decimal(p).normalize())
                out.append((x["type"], norm(x["limit_price"]), norm(x["stop_price"])))
    return sorted(out)


class AgainstDaemon(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.box = Sandbox(orderly_bin()).__enter__()
        cls.client = Client(cls.box.api, cls.box.token)

    @classmethod
    def tearDownClass(cls):
        cls.box.__exit__(None, None, None)

    def test_address_and_token_come_from_the_environment(self):
        with mock.patch.dict(os.environ, {"ORDERLY_API": "http://" + self.box.api + "/",
                                          "ORDERLY_TOKEN": self.box.token}):
            c = Client()
        self.assertEqual(f"{c.host}:{c.port}", self.box.api)
        self.assertNotIn(self.box.token, repr(c))
        self.assertIn(c.health().status, ("ok", "degraded"))

    def test_a_trade_fills_and_its_exits_rest_at_the_broker(self):
        t = self.client.open_trade("STWD", 37, take_profit_percent="2", stop_loss_percent=Decimal("1"))
        self.assertEqual((t.symbol, t.qty, t.take_profit.percent), ("STWD", Decimal(37), Decimal(2)))
        t = self.client.wait_trade(t.id, lambda x: x.state == "open" and len(x.exit_orders) >= 1 and all(
            o.broker_order_id for o in x.orders))
        entry = t.entry_order
        self.assertEqual((entry.state, entry.filled_qty), ("filled", Decimal(37)))
        self.assertIsInstance(entry.filled_avg_price, Decimal)
        self.assertEqual(self.client.order(entry.client_order_id).id, entry.id)
        self.assertEqual(self.client.order(entry.broker_order_id).id, entry.id)
        trail = self.client.audit(entry.id)
        self.assertEqual(trail.events[-1].to, "filled")
        self.assertEqual(sum(f.qty for f in trail.fills), Decimal(37))
        # The broker's side: the position, and every exit working there (an OCO's legs included).
        held = {p["symbol"]: p["qty"] for p in broker(self.box, "/v2/positions")}
        self.assertEqual(held.get("STWD"), "37")
        working = broker(self.box, "/v2/orders?status=open&nested=true")
        at_broker = {o["id"]: o for o in working}
        at_broker.update({leg["id"]: leg for o in working for leg in (o.get("legs") or [])})
        for o in t.exit_orders:
            self.assertIn(o.broker_order_id, at_broker)
            self.assertEqual((at_broker[o.broker_order_id]["side"], at_broker[o.broker_order_id]["qty"]),
                             ("sell", "37"))
        self.assertIn("STWD", {p.symbol for p in self.client.positions()})
        self.assertTrue(all(o.symbol == "STWD" for o in self.client.orders(symbol="STWD", open=True)))

    def test_a_cancelled_trade_leaves_nothing_at_the_broker(self):
        t = self.client.open_trade("PFE", 5, limit_price="1.00", take_profit="1.40")
        t = self.client.wait_trade(t.id, lambda x: x.entry_order is not None and x.entry_order.broker_order_id)
        self.client.cancel_trade(t.id)
        t = self.client.wait_trade(t.id, lambda x: x.is_terminal)
        self.assertEqual(t.state, "canceled")
        order = broker(self.box, f"/v2/orders/{t.entry_order.broker_order_id}")
        self.assertEqual(order["status"], "canceled")

    def test_a_short_with_a_trailing_stop_then_closed(self):
        t = self.client.open_trade("EPD", 3, side="sell", trail_percent="2")
        t = self.client.wait_trade(t.id, lambda x: x.state == "open" and x.exit_orders and all(
            o.broker_order_id for o in x.orders))
        stop = t.exit_orders[0]
        at_broker = broker(self.box, f"/v2/orders/{stop.broker_order_id}")
        self.assertEqual((at_broker["type"], at_broker["side"], at_broker["trail_percent"]),
                         ("trailing_stop", "buy", "2"))
        self.assertEqual(stop.trail_percent, Decimal(2))
        with self.assertRaises(orderly_client.Conflict):
            self.client.cancel_trade(t.id)  # it holds a position: flatten or close it
        self.client.close_trade(t.id)
        t = self.client.wait_trade(t.id, lambda x: x.is_terminal)
        self.assertEqual(t.state, "closed")
        held = {p["symbol"]: p["qty"] for p in broker(self.box, "/v2/positions")}
        self.assertNotIn("EPD", held)

    def test_modify_moves_the_exits_at_the_broker(self):
        t = self.client.open_trade("F", 10, take_profit="11.50", stop_loss="9.50")
        self.client.wait_trade(t.id, lambda x: x.state == "open" and x.exit_orders and all(
            o.state in ("new", "held", "filled") for o in x.orders))
        with self.assertRaises(ValueError):
            self.client.modify_trade(t.id)
        with self.assertRaises(BadRequest):
            self.client.modify_trade(t.id, stop_loss="99.00")  # above the market: named rule
        moved = self.client.modify_trade(t.id, take_profit="11.80", stop_loss=Decimal("9.70"))
        self.assertEqual((moved.take_profit.limit_price, moved.stop_loss.stop_price),
                         (Decimal("11.80"), Decimal("9.70")))
        wanted = [("limit", "11.8", None), ("stop", None, "9.7")]
        deadline = time.monotonic() + 30
        while broker_exits(self.box, "F") != wanted and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(broker_exits(self.box, "F"), wanted)
        self.client.close_trade(t.id)
        self.client.wait_trade(t.id, lambda x: x.is_terminal)
        with self.assertRaises(orderly_client.Conflict):
            self.client.modify_trade(t.id, stop_loss="9.80")

    def test_what_alpaca_refuses_is_refused_first(self):
        with self.assertRaises(BadRequest) as bad:
            self.client.open_trade("STWD", notional="100", limit_price="1.00", take_profit_percent=2)
        self.assertIn("a notional entry must be a market order", bad.exception.message)
        with self.assertRaises(ValueError):
            self.client.open_trade("STWD", 1, notional="100", take_profit_percent=2)

    def test_errors_carry_the_api_status_and_message(self):
        with self.assertRaises(BadRequest) as bad:
            self.client.submit_trade({"symbol": "STWD", "qty": "-5", "take_profit": {"percent": "2"}}, "k-neg")
        self.assertEqual(bad.exception.status, 400)
        self.assertIn("qty", bad.exception.message)
        with self.assertRaises(Unauthorized) as unauth:
            Client(self.box.api, "wrong-token-0123456789").open_trade("STWD", 1, take_profit_percent="2")
        self.assertIn("bearer token", unauth.exception.message)
        with self.assertRaises(NotFound):
            self.client.trade(999999)
        with self.assertRaises(NotFound):
            self.client.order("no-such-order")
        with self.assertRaises(TypeError):  # a float is not exact: refused before sending
            self.client.open_trade("STWD", 1.5, take_profit_percent="2")
        with self.assertRaises(DaemonUnreachable):
            Client(f"127.0.0.1:{free_port()}", retries=0).health()

    def test_reads_are_typed(self):
        self.assertIsInstance(self.client.alerts(active=True), list)
        self.assertIsInstance(self.client.trades(limit=5), list)
        report = self.client.reconcile()
        self.assertTrue(report.ok, report)
        self.assertEqual([a.state for a in self.client.accounts()], ["active"])
        self.assertIn("orderly_stream_connected", self.client.metrics())
        self.assertEqual(self.client.openapi()["openapi"], "3.1.0")

    def test_the_same_client_trade_id_names_one_trade(self):
        first = self.client.open_trade("T", 3, take_profit_percent="2", client_trade_id="same-key-1")
        self.assertEqual(first.client_trade_id, "same-key-1")
        again = self.client.open_trade("T", 3, take_profit_percent="2", client_trade_id="same-key-1")
        self.assertEqual(again.id, first.id)
        # The answer comes once the intent is committed; the entry reaches the broker just after.
        deadline = time.monotonic() + 20
        while True:
            entries = [o for o in broker(self.box, "/v2/orders?status=all&symbols=T")
                       if o["side"] == "buy"]
            if entries or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(len(entries), 1)

    def test_events_resume_after_the_last_id_seen(self):
        stream = self.client.events()
        next(stream)  # connected: what follows is new
        t = self.client.open_trade("VZ", 2, take_profit_percent="2")
        ids: List[str] = []
        for ev in stream:
            if ev.kind == "order_event":
                ids.append(ev.id)
                if self.client.order(ev.order_event.order_id).trade_id == t.id and ev.order_event.to == "filled":
                    break
        stream.close()
        self.assertGreaterEqual(len(ids), 2)
        # Resuming after the first id yields exactly the events that followed it.
        resumed = self.client.events(last_event_id=ids[0])
        again: List[str] = []
        for ev in resumed:
            if ev.kind == "order_event":
                again.append(ev.id)
                if ev.id == ids[-1]:
                    break
        resumed.close()
        self.assertEqual(again, ids[1:])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeDaemon(http.server.ThreadingHTTPServer):
    """Answers from a script: each request pops the next action."""

    def __init__(self, actions):
        self.actions = list(actions)
        self.seen = []  # (method, path, headers)
        super().__init__(("127.0.0.1", 0), FakeHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


TRADE = {"id": 7, "symbol": "STWD", "side": "buy", "qty": "1", "entry": {"type": "market"},
         "take_profit": {"percent": "2"}, "stop_loss": None, "exits": "emulated", "tif": "day",
         "state": "pending", "note": "", "created_at": None, "updated_at": None, "orders": []}


class FakeHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def handle_one(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append((self.command, self.path, dict(self.headers), body))
        action = self.server.actions.pop(0)
        if action == "drop":  # the request arrived; the answer is lost
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        status, payload = action
        if isinstance(payload, str):  # an event stream, closed after the payload
            self.send_response(status)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            self.wfile.write(payload.encode())
            self.close_connection = True
            return
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = do_PATCH = handle_one


class AgainstFakeDaemon(unittest.TestCase):
    def fake(self, actions) -> FakeDaemon:
        fake = FakeDaemon(actions)
        self.addCleanup(fake.stop)
        return fake

    def test_a_lost_answer_is_retried_with_the_same_key_once_the_daemon_keeps_keys(self):
        keyed = dict(TRADE, client_trade_id="k")
        fake = self.fake([(201, keyed), "drop", (200, dict(keyed, id=8))])
        c = Client(fake.address, "token-0123456789abcdef", retry_wait_s=0)
        c.open_trade("STWD", 1, take_profit_percent="2", client_trade_id="k")  # learns: keys kept
        t = c.open_trade("STWD", 1, take_profit_percent="2", client_trade_id="key-2")
        self.assertEqual(t.id, 8)
        keys = [h.get("Idempotency-Key") for _, _, h, _ in fake.seen]
        self.assertEqual(keys, ["k", "key-2", "key-2"])
        self.assertEqual(fake.seen[1][3], fake.seen[2][3], "the retry must send the same body")
        self.assertTrue(all(h["Authorization"] == "Bearer token-0123456789abcdef" for _, _, h, _ in fake.seen))

    def test_a_lost_answer_from_a_daemon_without_keys_is_reported_not_resent(self):
        fake = self.fake(["drop", (201, TRADE)])
        c = Client(fake.address, "token-0123456789abcdef", retry_wait_s=0)
        with self.assertRaises(OutcomeUnknown) as lost:
            c.open_trade("STWD", 1, take_profit_percent="2")
        self.assertTrue(lost.exception.client_trade_id.startswith("py-"))
        self.assertEqual(len(fake.seen), 1)

    def test_every_trade_gets_a_fresh_client_trade_id(self):
        fake = self.fake([(201, TRADE), (201, TRADE)])
        c = Client(fake.address, "token-0123456789abcdef")
        c.open_trade("STWD", 1, take_profit_percent="2")
        c.open_trade("STWD", 1, take_profit_percent="2")
        k1, k2 = (h["Idempotency-Key"] for _, _, h, _ in fake.seen)
        self.assertNotEqual(k1, k2)

    def test_the_event_stream_reconnects_with_last_event_id(self):
        ev = {"seq": 5, "order_id": 1, "at": None, "source": "stream", "from": "new", "to": "filled",
              "filled_qty": "1", "note": ""}
        first = f"retry: 10\n\nid: 5\nevent: order_event\ndata: {json.dumps(ev)}\n\n"
        second = f"id: 6\nevent: order_event\ndata: {json.dumps(dict(ev, seq=6))}\n\n"
        fake = self.fake([(200, first), (200, second)])
        stream = Client(fake.address, "token-0123456789abcdef").events()
        got = [next(stream), next(stream)]
        stream.close()
        self.assertEqual([e.id for e in got], ["5", "6"])
        self.assertEqual(got[0].order_event.from_, "new")
        self.assertNotIn("Last-Event-ID", fake.seen[0][2])
        self.assertEqual(fake.seen[1][2].get("Last-Event-ID"), "5")

    def test_an_error_answer_raises_with_its_status_and_message(self):
        fake = self.fake([(409, {"error": "client_trade_id 'k' names another trade"})])
        with self.assertRaises(orderly_client.Conflict) as e:
            Client(fake.address, "token-0123456789abcdef").open_trade("STWD", 1, take_profit_percent="2",
                                                                        client_trade_id="k")
        self.assertEqual((e.exception.status, e.exception.message), (409, "client_trade_id 'k' names another trade"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
