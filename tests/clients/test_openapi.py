"""api/openapi.json against a real daemon: every documented operation is called on `orderly run`
(over `orderly sim`) and every answer is validated against the schema the document gives for its
status, strictly (a field the daemon sends that the document does not describe is a failure),
so the description cannot drift from the code. The document's own examples are validated too."""

import copy
import json
import time
import unittest
import urllib.error
import urllib.request
from typing import Any, Dict, Optional, Set, Tuple

import jsonschema

from support import REPO, Sandbox, orderly_bin

DOC = json.loads((REPO / "api/openapi.json").read_text())
METHODS = ("get", "post", "put", "patch", "delete")


def pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def resolve(node: Dict[str, Any]) -> Dict[str, Any]:
    """A Reference Object ({"$ref": "#/components/..."}) -> the object it names."""
    while "$ref" in node:
        target: Any = DOC
        for part in node["$ref"][2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def strict_document() -> Dict[str, Any]:
    """The document with every object schema closed (unevaluatedProperties: false), but the bases
    that others extend through allOf (closing those would refuse the extension's fields)."""
    doc = copy.deepcopy(DOC)
    bases: Set[str] = set()

    def find_bases(node: Any) -> None:
        if isinstance(node, dict):
            for sub in node.get("allOf", []):
                if "$ref" in sub:
                    bases.add(sub["$ref"])
            for v in node.values():
                find_bases(v)
        elif isinstance(node, list):
            for v in node:
                find_bases(v)

    def close(node: Any) -> None:
        if isinstance(node, dict):
            if ("properties" in node or "allOf" in node) and not (
                    "additionalProperties" in node or "unevaluatedProperties" in node):
                node["unevaluatedProperties"] = False
            for key, v in node.items():
                if key != "examples" and key != "example":
                    close(v)
        elif isinstance(node, list):
            for v in node:
                close(v)

    find_bases(doc)
    for name, schema in doc["components"]["schemas"].items():
        if pointer("components", "schemas", name) not in bases:
            close(schema)
    return doc


STRICT = strict_document()


def validate(instance: Any, schema_pointer: str, doc: Dict[str, Any] = STRICT) -> None:
    # The whole document as the root schema, so its "#/components/..." references resolve.
    schema = dict(doc)
    schema["$ref"] = schema_pointer
    jsonschema.Draft202012Validator(schema).validate(instance)


class DocumentTest(unittest.TestCase):
    def test_is_openapi_3_1_with_valid_schemas(self):
        self.assertEqual(DOC["openapi"], "3.1.0")
        for name, schema in DOC["components"]["schemas"].items():
            with self.subTest(schema=name):
                jsonschema.Draft202012Validator.check_schema(schema)

    def test_every_reference_resolves(self):
        def walk(node: Any, where: str) -> None:
            if isinstance(node, dict):
                if isinstance(node.get("$ref"), str):
                    with self.subTest(ref=node["$ref"], at=where):
                        resolve({"$ref": node["$ref"]})
                for k, v in node.items():
                    walk(v, where + "/" + k)
            elif isinstance(node, list):
                for i, v in enumerate(node):
                    walk(v, f"{where}/{i}")
        walk(DOC, "#")

    def test_examples_match_their_schemas(self):
        checked = 0
        for name, schema in DOC["components"]["schemas"].items():
            if "example" in schema:
                validate(schema["example"], pointer("components", "schemas", name))
                checked += 1
        for path, item in DOC["paths"].items():
            for method in METHODS:
                op = item.get(method)
                if not op:
                    continue
                bodies = [("requestBody", op.get("requestBody", {}))]
                bodies += [(f"responses/{code}", r) for code, r in op["responses"].items()]
                for where, holder in bodies:
                    holder = resolve(holder)
                    media = holder.get("content", {}).get("application/json")
                    if not media:
                        continue
                    base = resolve_pointer(path, method, where)
                    samples = [media["example"]] if "example" in media else []
                    samples += [resolve(e)["value"] for e in media.get("examples", {}).values()]
                    for sample in samples:
                        with self.subTest(path=path, method=method, at=where):
                            validate(sample, base)
                            checked += 1
        self.assertGreater(checked, 10)


def resolve_pointer(path: str, method: str, where: str) -> str:
    """JSON pointer of the application/json schema of an operation's requestBody or response."""
    op = DOC["paths"][path][method]
    if where == "requestBody":
        return pointer("paths", path, method, "requestBody", "content", "application/json", "schema")
    code = where.split("/")[1]
    ref = op["responses"][code].get("$ref")
    if ref:
        return ref + "/content/application~1json/schema"
    return pointer("paths", path, method, "responses", code, "content", "application/json", "schema")


class DaemonTest(unittest.TestCase):
    """One daemon for every call; `call` validates each answer and records the operation."""

    @classmethod
    def setUpClass(cls):
        cls.box = Sandbox(orderly_bin()).__enter__()
        cls.called: Set[Tuple[str, str]] = set()

    @classmethod
    def tearDownClass(cls):
        cls.box.__exit__(None, None, None)

    def call(self, method: str, template: str, path: Optional[str] = None, body: Any = None,
             token: bool = True, expect: int = 200, headers: Optional[Dict[str, str]] = None) -> Any:
        path = path or template
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = f"Bearer {self.box.token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(f"http://{self.box.api}{path}", data=data, method=method,
                                     headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                status, ctype, raw = r.status, r.headers.get("Content-Type", ""), r.read()
        except urllib.error.HTTPError as e:
            status, ctype, raw = e.code, e.headers.get("Content-Type", ""), e.read()
        self.assertEqual(status, expect, f"{method} {path}: {raw[:300]!r}")
        op = DOC["paths"][template][method.lower()]
        self.assertIn(str(status), op["responses"], f"{method} {template} answers an undocumented {status}")
        response = resolve(op["responses"][str(status)])
        media_type = ctype.split(";")[0]
        self.assertIn(media_type, response["content"], f"{method} {template} {status}: {ctype}")
        self.called.add((template, method.lower()))
        if media_type != "application/json":
            return raw.decode()
        value = json.loads(raw)
        validate(value, resolve_pointer(template, method.lower(), f"responses/{status}"))
        return value

    def wait_trade(self, trade_id: int, done, timeout_s: float = 20.0) -> Dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            t = self.call("GET", "/api/trades/{id}", f"/api/trades/{trade_id}")
            if done(t) or time.monotonic() > deadline:
                return t
            time.sleep(0.1)

    def test_every_operation_answers_as_documented(self):
        served = self.call("GET", "/openapi.json")
        self.assertEqual(served, DOC, "GET /openapi.json is not api/openapi.json")
        health = self.call("GET", "/healthz", token=False)
        self.assertIn(health["status"], ("ok", "degraded"))
        self.assertIn("orderly_http_requests_total", self.call("GET", "/metrics"))
        self.call("GET", "/api/accounts")
        self.assertIn("<html", self.call("GET", "/").lower())

        # A market trade whose entry fills at once; its exits are then placed at the simulator.
        spec = {"symbol": "STWD", "side": "buy", "qty": "37", "entry": {"type": "market"},
                "take_profit": {"percent": "2"}, "stop_loss": {"percent": "1"}, "exits": "emulated"}
        validate(spec, pointer("components", "schemas", "TradeRequest"))
        trade = self.call("POST", "/api/trades", body=spec, expect=201)
        trade = self.wait_trade(trade["id"], lambda t: t["state"] == "open" and all(
            o["broker_order_id"] for o in t["orders"]) and len(t["orders"]) >= 2)
        self.assertEqual(trade["state"], "open", trade)
        entry = next(o for o in trade["orders"] if o["role"] == "entry")
        self.assertEqual(entry["state"], "filled")

        # A limit entry far below the market rests; cancelling it answers 202.
        resting = self.call("POST", "/api/trades", expect=201, body={
            "symbol": "PFE", "qty": "5", "entry": {"type": "limit", "limit_price": "1.00"},
            "take_profit": {"limit_price": "1.40"}})
        # A cancel while the entry is on its way is a 409 "ask again once it is there": wait.
        self.wait_trade(resting["id"], lambda t: all(o["broker_order_id"] for o in t["orders"]))
        self.call("DELETE", "/api/trades/{id}", f"/api/trades/{resting['id']}", expect=202)

        self.call("GET", "/api/trades")
        self.assertEqual(len(self.call("GET", "/api/trades", "/api/trades?limit=1&offset=1")), 1)
        orders = self.call("GET", "/api/orders", f"/api/orders?symbol=STWD&trade_id={trade['id']}&open=false")
        self.assertGreaterEqual(len(orders), 2)
        self.assertEqual([o["id"] for o in self.call("GET", "/api/orders", "/api/orders?state=filled&symbol=STWD")],
                         [entry["id"]])
        for ref in (str(entry["id"]), entry["client_order_id"], entry["broker_order_id"]):
            self.assertEqual(self.call("GET", "/api/orders/{ref}", f"/api/orders/{ref}")["id"], entry["id"])
        audit = self.call("GET", "/api/orders/{ref}/audit", f"/api/orders/{entry['id']}/audit")
        self.assertEqual(audit["events"][-1]["to"], "filled")
        self.assertEqual(sum(int(f["qty"]) for f in audit["fills"]), 37)
        positions = self.call("GET", "/api/positions")
        self.assertIn({"symbol": "STWD", "local_qty": "37", "broker_qty": "37", "drift": "0", "mismatch": False},
                      [{k: p[k] for k in ("symbol", "local_qty", "broker_qty", "drift", "mismatch")} for p in positions])
        self.call("GET", "/api/alerts")
        self.call("GET", "/api/alerts", "/api/alerts?active=true&limit=5")
        report = self.call("POST", "/api/reconcile", body={"fix": False})
        self.assertTrue(report["ok"], report)

        # The open trade's exits move: replaced at the simulator (a modify while they are still
        # on their way is a 409 "ask again": wait until the broker holds them working).
        self.wait_trade(trade["id"], lambda t: all(
            o["state"] in ("new", "held", "filled") for o in t["orders"]))
        moved = self.call("PATCH", "/api/trades/{id}", f"/api/trades/{trade['id']}", expect=202,
                          body={"take_profit": {"percent": "3"}, "stop_loss": {"percent": "1.5"}})
        self.assertEqual((moved["take_profit"], moved["stop_loss"]), ({"percent": "3"}, {"percent": "1.5"}))
        self.call("PATCH", "/api/trades/{id}", f"/api/trades/{trade['id']}", body={}, expect=400)
        self.call("PATCH", "/api/trades/{id}", "/api/trades/999999", body={"take_profit": None}, expect=404)

        # Errors: each documented shape, with the API's message.
        self.call("POST", "/api/trades", body=dict(spec, qty="abc"), expect=400)
        self.call("POST", "/api/trades", body=spec, token=False, expect=401)
        self.call("GET", "/api/trades/{id}", "/api/trades/999999", expect=404)
        self.call("GET", "/api/trades/{id}", "/api/trades/abc", expect=400)
        self.call("DELETE", "/api/trades/{id}", "/api/trades/999999", expect=404)
        # The open trade holds 37: a cancel without flatten refuses and changes nothing.
        self.call("DELETE", "/api/trades/{id}", f"/api/trades/{trade['id']}", expect=409)
        self.call("GET", "/api/orders", "/api/orders?state=bogus", expect=400)
        self.call("GET", "/api/orders/{ref}", "/api/orders/no-such-order", expect=404)
        self.call("GET", "/api/orders/{ref}/audit", "/api/orders/no-such-order/audit", expect=404)
        self.call("GET", "/api/alerts", "/api/alerts?limit=0", expect=400)
        self.call("POST", "/api/reconcile", body=[1], expect=400)

        self.call("GET", "/api/trades", token=False, expect=401)  # reads need the token too
        self.call("GET", "/api/trades", headers={"Host": "attacker.example"}, expect=421)
        # A client_trade_id names one trade: a repeat answers 200 with it, another body 409.
        keyed = dict(spec, symbol="T", qty="2")
        first = self.call("POST", "/api/trades", body=keyed, headers={"Idempotency-Key": "oa-1"}, expect=201)
        self.assertEqual(first["client_trade_id"], "oa-1")
        again = self.call("POST", "/api/trades", body=keyed, headers={"Idempotency-Key": "oa-1"})
        self.assertEqual(again["id"], first["id"])
        self.call("POST", "/api/trades", body=dict(keyed, qty="3"), headers={"Idempotency-Key": "oa-1"},
                  expect=409)
        with_body = self.call("POST", "/api/trades", body=dict(keyed, client_trade_id="oa-2"), expect=201)
        self.assertEqual(with_body["client_trade_id"], "oa-2")

        self.call("DELETE", "/api/trades/{id}", f"/api/trades/{first['id']}?flatten=true", expect=202)
        closing = self.call("POST", "/api/close-all", expect=202)["closing"]
        self.assertIn(trade["id"], closing)
        self.call("PATCH", "/api/trades/{id}", f"/api/trades/{trade['id']}", expect=409,
                  body={"stop_loss": {"percent": "2"}})

        self.check_event_stream(entry["id"])
        documented = {(p, m) for p, item in DOC["paths"].items() for m in METHODS if m in item}
        self.assertEqual(documented - self.called, set(), "documented operations never called")

    def check_event_stream(self, entry_id: int) -> None:
        """From the start (Last-Event-ID: 0): the entry's events as order_event messages, and a
        health message, each valid against its schema."""
        op = DOC["paths"]["/api/events"]["get"]
        schemas = {k: v["$ref"] for k, v in op["x-orderly-messages"].items()}
        req = urllib.request.Request(f"http://{self.box.api}/api/events", headers={
            "Authorization": f"Bearer {self.box.token}", "Last-Event-ID": "0"})
        seen: Dict[str, int] = {}
        last_id = 0
        with urllib.request.urlopen(req, timeout=10) as r:
            self.assertEqual(r.headers.get_content_type(), "text/event-stream")
            self.called.add(("/api/events", "get"))
            event, event_id = None, None
            while "health" not in seen or seen.get("entry_filled", 0) == 0:
                line = r.readline().decode().rstrip("\n")
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("id: "):
                    event_id = int(line[4:])
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                    self.assertIn(event, schemas, f"undocumented event {event}")
                    validate(data, schemas[event])
                    seen[event] = seen.get(event, 0) + 1
                    if event == "order_event":
                        self.assertGreater(event_id, last_id)
                        last_id = event_id
                        if data["order_id"] == entry_id and data["to"] == "filled":
                            seen["entry_filled"] = 1


if __name__ == "__main__":
    unittest.main(verbosity=2)
