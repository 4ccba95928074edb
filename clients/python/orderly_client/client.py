"""The client of orderly's local API (api/openapi.json). Standard library only."""

import http.client
import json
import os
import time
import uuid
from decimal import Decimal
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union
from urllib.parse import quote, urlencode

from .errors import ApiError, DaemonUnreachable, OutcomeUnknown, error_for
from .models import (Account, Alert, AuditTrail, Event, Health, Order, Position,
                     ReconcileReport, Trade, from_json)

DecimalLike = Union[str, int, Decimal]
DEFAULT_ADDRESS = "127.0.0.1:8930"


def _decimal_text(name: str, value: DecimalLike) -> str:
    # A float may already be rounded (0.1 + 0.2): refuse it rather than send a price nobody chose.
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise TypeError(f"{name} must be a str, int or decimal.Decimal (exact), not {type(value).__name__}")
    text = str(value)
    try:
        Decimal(text)
    except Exception:
        raise ValueError(f"{name} is not a decimal: {text!r}") from None
    return text


def _read_config(path: Optional[str]) -> Tuple[Optional[str], Optional[str]]:
    """[api] listen and token of an orderly.toml, as the CLI reads them (Python >= 3.11: tomllib)."""
    if path is None:
        if not os.path.exists("orderly.toml"):
            return None, None
        path = "orderly.toml"
    try:
        import tomllib
    except ImportError:  # Python < 3.11: use ORDERLY_API / ORDERLY_TOKEN or the arguments
        return None, None
    with open(path, "rb") as f:
        api = tomllib.load(f).get("api", {})
    return api.get("listen"), api.get("token")


def _split_address(address: str) -> Tuple[str, int]:
    for scheme in ("http://", "https://"):
        if address.startswith(scheme):
            address = address[len(scheme):]
    address = address.rstrip("/")
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"daemon address must be HOST:PORT, got {address!r}")
    host = host.strip("[]")
    # A daemon listening on every interface is reached on loopback.
    return ("127.0.0.1" if host in ("0.0.0.0", "::", "") else host), int(port)


class Client:
    """One daemon. Address and token: the arguments, else ORDERLY_API / ORDERLY_TOKEN, else the
    `[api]` table of `config` (default ./orderly.toml when present), else 127.0.0.1:8930.

    Every call returns typed results (orderly_client.models) or raises an ApiError subclass with
    the API's status and message."""

    def __init__(self, address: Optional[str] = None, token: Optional[str] = None, *,
                 account: Optional[str] = None, config: Optional[str] = None,
                 timeout_s: float = 10.0, retries: int = 3, retry_wait_s: float = 0.5):
        listen, config_token = _read_config(config)
        address = address or os.environ.get("ORDERLY_API") or listen or DEFAULT_ADDRESS
        self.host, self.port = _split_address(address)
        self.token = token or os.environ.get("ORDERLY_TOKEN") or config_token or ""
        self.account = account or os.environ.get("ORDERLY_ACCOUNT") or None
        self.timeout_s = timeout_s
        self.retries = retries
        self.retry_wait_s = retry_wait_s
        # Learned from answers: a daemon that echoes client_trade_id deduplicates retries.
        self._keys_honoured = False

    def __repr__(self) -> str:  # never the token
        return f"Client({self.host}:{self.port}, account={self.account!r})"

    # ---- HTTP ------------------------------------------------------------------------------

    def _headers(self, extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": "orderly-client-python/0.1"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        headers.update(extra or {})
        return headers

    def _path(self, path: str, query: Optional[Dict[str, Any]] = None) -> str:
        params = {k: v for k, v in (query or {}).items() if v is not None}
        if self.account and "account" not in params:
            params["account"] = self.account
        for k, v in params.items():
            if isinstance(v, bool):
                params[k] = "true" if v else "false"
        return path + ("?" + urlencode(params) if params else "")

    def _send(self, method: str, path: str, body: Optional[bytes],
              headers: Dict[str, str]) -> Tuple[int, bytes]:
        """One request. Raises DaemonUnreachable when nothing reached the daemon, OSError or
        HTTPException when the answer was lost after sending."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
        try:
            try:
                conn.connect()
            except OSError as e:
                raise DaemonUnreachable(f"cannot reach orderly at {self.host}:{self.port}: {e}",
                                        method, path) from None
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def request(self, method: str, path: str, *, query: Optional[Dict[str, Any]] = None,
                body: Any = None, headers: Optional[Dict[str, str]] = None,
                idempotent: bool = True, answer_key: Optional[str] = None) -> Tuple[int, Any]:
        """Sends one call and returns (status, decoded JSON or text); errors raise ApiError.
        Reads (idempotent) are retried on 503 and lost connections; a non-idempotent call only
        when the daemon was not reached. An error status whose JSON object carries `answer_key`
        is an answer (a 503 health or reconciliation report), returned like a success."""
        target = self._path(path, query)
        payload = json.dumps(body).encode() if body is not None else None
        hdrs = self._headers(headers)
        if payload is not None:
            hdrs["Content-Type"] = "application/json"
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                status, raw = self._send(method, target, payload, hdrs)
                return status, self._decode(method, target, status, raw, answer_key)
            except DaemonUnreachable:
                if last:
                    raise
            except ApiError as e:
                if e.status != 503 or not idempotent or last:
                    raise
            except (OSError, http.client.HTTPException) as e:
                if not idempotent or last:
                    raise DaemonUnreachable(f"no answer from orderly: {e}", method, target,
                                            sent=True) from None
            time.sleep(self.retry_wait_s * (2 ** attempt))
        raise AssertionError("unreachable")

    @staticmethod
    def _decode(method: str, target: str, status: int, raw: bytes,
                answer_key: Optional[str] = None) -> Any:
        text = raw.decode("utf-8", errors="replace")
        try:
            value = json.loads(text) if text else None
        except ValueError:
            value = text
        if status >= 400 and not (answer_key and isinstance(value, dict) and answer_key in value):
            message = value.get("error") if isinstance(value, dict) else None
            raise error_for(status, message or text or f"HTTP {status}", method, target)
        return value

    def _get(self, path: str, **query: Any) -> Any:
        return self.request("GET", path, query=query)[1]

    # ---- trades ----------------------------------------------------------------------------

    def open_trade(self, symbol: str, qty: Optional[DecimalLike] = None, *, side: str = "buy",
                   notional: Optional[DecimalLike] = None,
                   limit_price: Optional[DecimalLike] = None,
                   stop_price: Optional[DecimalLike] = None,
                   take_profit: Optional[DecimalLike] = None,
                   take_profit_percent: Optional[DecimalLike] = None,
                   stop_loss: Optional[DecimalLike] = None,
                   stop_loss_percent: Optional[DecimalLike] = None,
                   trail_percent: Optional[DecimalLike] = None,
                   trail_price: Optional[DecimalLike] = None,
                   exits: str = "emulated", tif: Optional[str] = None,
                   extended_hours: bool = False,
                   client_trade_id: Optional[str] = None) -> Trade:
        """Opens a trade: `qty` shares or `notional` dollars; a market entry, a limit one with
        `limit_price`, a stop (breakout) one with `stop_price`, a stop-limit with both; `side`
        "sell" opens a short. Exits: a take-profit (price or percent from the fill) and/or a
        stop-loss (price, percent, or a trailing stop by `trail_percent`/`trail_price`);
        `exits="none"` for the entry alone. The daemon refuses what Alpaca would (400 naming the
        rule). Every call carries a client_trade_id (generated when not given) and reuses it on
        every retry, so a lost answer never opens the trade twice on a daemon that keeps the key."""
        if (qty is None) == (notional is None):
            raise ValueError("open_trade: give exactly one of qty or notional")
        body: Dict[str, Any] = {"symbol": symbol, "side": side, "exits": exits}
        if notional is not None:
            body["notional"] = _decimal_text("notional", notional)
        else:
            body["qty"] = _decimal_text("qty", qty)
        entry: Dict[str, Any] = {"type": "market"}
        if limit_price is not None:
            entry["limit_price"] = _decimal_text("limit_price", limit_price)
        if stop_price is not None:
            entry["stop_price"] = _decimal_text("stop_price", stop_price)
        if limit_price is not None or stop_price is not None:
            entry["type"] = ("stop_limit" if limit_price is not None else "stop") \
                if stop_price is not None else "limit"
        body["entry"] = entry
        if take_profit is not None or take_profit_percent is not None:
            body["take_profit"] = self._target("take_profit", "limit_price", take_profit, take_profit_percent)
        stops = {"stop_price": stop_loss, "percent": stop_loss_percent,
                 "trail_percent": trail_percent, "trail_price": trail_price}
        given = {k: v for k, v in stops.items() if v is not None}
        if len(given) > 1:
            raise ValueError("stop_loss: give one of a price, a percent, trail_percent or trail_price")
        if given:
            key, value = next(iter(given.items()))
            body["stop_loss"] = {key: _decimal_text("stop_loss", value)}
        if tif is not None:
            body["tif"] = tif
        if extended_hours:
            body["extended_hours"] = True
        key = client_trade_id or f"py-{uuid.uuid4().hex[:24]}"
        return self.submit_trade(body, key)

    @staticmethod
    def _target(name: str, price_key: str, price: Optional[DecimalLike],
                percent: Optional[DecimalLike]) -> Dict[str, str]:
        if (price is None) == (percent is None):
            raise ValueError(f"{name}: give exactly one of a price or a percent")
        if price is not None:
            return {price_key: _decimal_text(name, price)}
        return {"percent": _decimal_text(name + "_percent", percent)}

    def submit_trade(self, body: Dict[str, Any], client_trade_id: str) -> Trade:
        """POST /api/trades with `body` (TradeRequest) under `client_trade_id`, sent as the
        Idempotency-Key header (daemons without the key ignore a header, not a body field)."""
        headers = {"Idempotency-Key": client_trade_id}
        for attempt in range(self.retries + 1):
            try:
                _, value = self.request("POST", "/api/trades", body=body, headers=headers,
                                        idempotent=False)
                trade = from_json(Trade, value)
                if trade.client_trade_id is not None:
                    self._keys_honoured = True
                return trade
            except DaemonUnreachable as e:
                if not e.sent or attempt == self.retries:
                    raise  # never arrived (request() retried already), or out of attempts
                if not self._keys_honoured:
                    raise OutcomeUnknown(e.message, client_trade_id) from None
            time.sleep(self.retry_wait_s * (2 ** attempt))
        raise AssertionError("unreachable")

    def trades(self, *, limit: Optional[int] = None, offset: Optional[int] = None) -> List[Trade]:
        return [from_json(Trade, t) for t in self._get("/api/trades", limit=limit, offset=offset)]

    def all_trades(self, page_size: int = 500) -> Iterator[Trade]:
        """Every trade, newest first, page by page (the API caps one page at 1000)."""
        offset = 0
        while True:
            page = self.trades(limit=page_size, offset=offset)
            yield from page
            if len(page) < page_size:
                return
            offset += len(page)

    def trade(self, trade_id: int) -> Trade:
        return from_json(Trade, self._get(f"/api/trades/{int(trade_id)}"))

    def cancel_trade(self, trade_id: int, *, flatten: bool = False) -> Trade:
        """DELETE /api/trades/ID: cancels what has not filled (202; asynchronous). While the
        trade holds a position the daemon refuses (409, raised as Conflict) unless `flatten`:
        then its exits are canceled too and what it holds is sold (bought back) at market."""
        target = f"/api/trades/{int(trade_id)}" + ("?flatten=true" if flatten else "")
        _, value = self.request("DELETE", target)
        return from_json(Trade, value)

    def close_trade(self, trade_id: int) -> Trade:
        """Closes a trade: its orders canceled, what it holds flattened at market (202)."""
        return self.cancel_trade(trade_id, flatten=True)

    def close_all(self) -> List[int]:
        """POST /api/close-all: closes every trade not yet ended; the ids now closing."""
        _, value = self.request("POST", "/api/close-all", idempotent=False)
        return [int(i) for i in value["closing"]]

    def modify_trade(self, trade_id: int, *, take_profit: Optional[DecimalLike] = None,
                     take_profit_percent: Optional[DecimalLike] = None,
                     stop_loss: Optional[DecimalLike] = None,
                     stop_loss_percent: Optional[DecimalLike] = None,
                     trail_percent: Optional[DecimalLike] = None,
                     trail_price: Optional[DecimalLike] = None,
                     remove_take_profit: bool = False, remove_stop_loss: bool = False) -> Trade:
        """PATCH /api/trades/ID: moves a trade's exits (202; the broker's orders follow: replaced,
        or canceled and placed again where Alpaca takes no replace). A new take-profit (price or
        percent) and/or stop-loss (price, percent, or a trailing stop's `trail_percent` /
        `trail_price`); `remove_take_profit` / `remove_stop_loss` drops that exit while the other
        remains. 400 names the rule (BadRequest); 409 (Conflict) when the trade ended or its exits
        are changing at the broker right now (ask again)."""
        body: Dict[str, Any] = {}
        if remove_take_profit:
            body["take_profit"] = None
        elif take_profit is not None or take_profit_percent is not None:
            body["take_profit"] = self._target("take_profit", "limit_price", take_profit, take_profit_percent)
        stops = {"stop_price": stop_loss, "percent": stop_loss_percent,
                 "trail_percent": trail_percent, "trail_price": trail_price}
        given = {k: v for k, v in stops.items() if v is not None}
        if len(given) > 1 or (given and remove_stop_loss):
            raise ValueError("stop_loss: give one of a price, a percent, trail_percent or trail_price")
        if remove_stop_loss:
            body["stop_loss"] = None
        elif given:
            key, value = next(iter(given.items()))
            body["stop_loss"] = {key: _decimal_text("stop_loss", value)}
        if not body:
            raise ValueError("modify_trade: give a new take-profit and/or stop-loss")
        _, value = self.request("PATCH", f"/api/trades/{int(trade_id)}", body=body)
        return from_json(Trade, value)

    def wait_trade(self, trade_id: int, done, timeout_s: float = 30.0, poll_s: float = 0.2) -> Trade:
        """Polls the trade until `done(trade)` is true; TimeoutError after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while True:
            t = self.trade(trade_id)
            if done(t):
                return t
            if time.monotonic() > deadline:
                raise TimeoutError(f"trade {trade_id} still {t.state} after {timeout_s} s")
            time.sleep(poll_s)

    # ---- orders, positions, alerts, reconcile, accounts ------------------------------------

    def orders(self, *, state: Optional[str] = None, symbol: Optional[str] = None,
               trade_id: Optional[int] = None, open: Optional[bool] = None,
               limit: Optional[int] = None, offset: Optional[int] = None) -> List[Order]:
        raw = self._get("/api/orders", state=state, symbol=symbol, trade_id=trade_id, open=open,
                        limit=limit, offset=offset)
        return [from_json(Order, o) for o in raw]

    def order(self, ref: Union[int, str]) -> Order:
        """By local id, client_order_id or broker_order_id."""
        return from_json(Order, self._get(f"/api/orders/{quote(str(ref), safe='')}"))

    def audit(self, ref: Union[int, str]) -> AuditTrail:
        return from_json(AuditTrail, self._get(f"/api/orders/{quote(str(ref), safe='')}/audit"))

    def positions(self) -> List[Position]:
        return [from_json(Position, p) for p in self._get("/api/positions")]

    def alerts(self, *, active: Optional[bool] = None, limit: Optional[int] = None,
               offset: Optional[int] = None) -> List[Alert]:
        return [from_json(Alert, a) for a in self._get("/api/alerts", active=active, limit=limit,
                                                       offset=offset)]

    def reconcile(self, fix: bool = False) -> ReconcileReport:
        """POST /api/reconcile. A report with ok=False (broker or store unreadable, HTTP 503) is
        returned, not raised: it says what was checked before the failure."""
        _, value = self.request("POST", "/api/reconcile", body={"fix": fix}, idempotent=not fix,
                                answer_key="orders_checked")
        return from_json(ReconcileReport, value)

    def accounts(self) -> List[Account]:
        return [from_json(Account, a) for a in self._get("/api/accounts")]

    # ---- operations ------------------------------------------------------------------------

    def health(self) -> Health:
        """GET /healthz. A daemon that is down answers 503 with its health: returned, not raised."""
        return from_json(Health, self.request("GET", "/healthz", answer_key="status")[1])

    def metrics(self) -> str:
        return self._get("/metrics")

    def openapi(self) -> Dict[str, Any]:
        return self._get("/openapi.json")

    def events(self, last_event_id: Optional[str] = None, *, reconnect: bool = True,
               read_timeout_s: float = 15.0) -> Iterator[Event]:
        """Iterates over /api/events (Server-Sent Events). Starts at the newest event, or after
        `last_event_id`; when the connection drops, reconnects with Last-Event-ID so no order
        event is lost (reconnect=False: stops instead). Break out of the loop to stop."""
        from .events import stream_events
        return stream_events(self, last_event_id, reconnect, read_timeout_s)
