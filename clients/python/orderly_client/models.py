"""Typed results of the API (api/openapi.json's component schemas). Decimals are decimal.Decimal
(the API sends them as strings so nothing is rounded); times are timezone-aware datetimes. Fields a
newer daemon adds are kept in `extra`, so an older client keeps working."""

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Dict, List, Optional, Type, TypeVar, Union, get_args, get_origin, get_type_hints

T = TypeVar("T")

TERMINAL_ORDER_STATES = frozenset({"filled", "canceled", "expired", "rejected", "replaced",
                                   "submit_failed", "done_for_day", "stopped", "suspended", "calculated"})
TERMINAL_TRADE_STATES = frozenset({"closed", "canceled", "failed"})

_RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$")


def parse_time(text: str) -> datetime:
    """RFC 3339 with up to nanoseconds (orderly's format) -> datetime (microseconds kept)."""
    m = _RFC3339.match(text)
    if not m:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    base = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")
    micros = int((m.group(2) or "0").ljust(9, "0")[:6])
    zone = m.group(3)
    if zone == "Z":
        tz = timezone.utc
    else:
        sign = 1 if zone[0] == "+" else -1
        tz = timezone(sign * (datetime.strptime(zone[1:], "%H:%M") - datetime(1900, 1, 1)))
    return base.replace(microsecond=micros, tzinfo=tz)


def _convert(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = get_origin(tp)
    if origin is Union:  # Optional[X]
        inner = [a for a in get_args(tp) if a is not type(None)]
        return _convert(inner[0], value)
    if origin in (list, List):
        return [_convert(get_args(tp)[0], v) for v in value]
    if tp is Decimal:
        if not isinstance(value, str):
            raise ValueError(f"a decimal must travel as a string, got {value!r}")
        return Decimal(value)
    if tp is datetime:
        return parse_time(value)
    if dataclasses.is_dataclass(tp):
        return from_json(tp, value)
    return value


def from_json(cls: Type[T], obj: Dict[str, Any]) -> T:
    """Builds dataclass `cls` from a JSON object; unknown keys go to `extra`."""
    if not isinstance(obj, dict):
        raise ValueError(f"{cls.__name__}: expected a JSON object, got {type(obj).__name__}")
    hints = get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
    kwargs: Dict[str, Any] = {"extra": {}}
    for key, value in obj.items():
        name = key + "_" if key + "_" in known else key  # "from" -> from_
        if name in known:
            kwargs[name] = _convert(hints[name], value)
        else:
            kwargs["extra"][key] = value
    try:
        return cls(**kwargs)
    except TypeError as e:  # a field the schema requires is missing
        raise ValueError(f"{cls.__name__}: {e}") from None


@dataclass(frozen=True)
class Order:
    id: int
    trade_id: int
    role: str  # entry | take_profit | stop_loss | exit
    symbol: str
    side: str  # buy | sell
    type: str  # market | limit | stop | stop_limit | trailing_stop
    tif: str
    order_class: str
    qty: Optional[Decimal]  # None for a notional entry (it names dollars)
    limit_price: Optional[Decimal]
    stop_price: Optional[Decimal]
    state: str
    client_order_id: str
    broker_order_id: Optional[str]
    filled_qty: Decimal
    filled_avg_price: Optional[Decimal]
    attempts: int
    next_attempt_at: Optional[datetime]
    last_error: str
    parent_order_id: Optional[int]
    replaces_order_id: Optional[int]
    created_at: Optional[datetime]
    updated_at: Optional[datetime]
    account: Optional[str] = None
    notional: Optional[Decimal] = None
    trail_price: Optional[Decimal] = None  # a trailing stop's trail (its stop_price moves)
    trail_percent: Optional[Decimal] = None
    extended_hours: bool = False
    extra: Dict[str, Any] = field(default_factory=dict)

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_ORDER_STATES


@dataclass(frozen=True)
class Entry:
    type: str
    limit_price: Optional[Decimal] = None
    stop_price: Optional[Decimal] = None
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TakeProfit:
    limit_price: Optional[Decimal] = None
    percent: Optional[Decimal] = None
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StopLoss:
    stop_price: Optional[Decimal] = None
    percent: Optional[Decimal] = None
    trail_percent: Optional[Decimal] = None
    trail_price: Optional[Decimal] = None
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Trade:
    id: int
    symbol: str
    side: str  # buy, or sell: a short whose exits buy
    qty: Optional[Decimal]  # None when the trade names dollars (notional)
    entry: Entry
    take_profit: Optional[TakeProfit]
    stop_loss: Optional[StopLoss]
    exits: str  # emulated | native | none
    tif: str
    state: str  # pending | open | closing | closed | canceled | failed
    note: str  # why the trade is where it is (a failure's reason)
    created_at: Optional[datetime]
    updated_at: Optional[datetime]
    orders: List[Order]
    client_trade_id: Optional[str] = None
    account: Optional[str] = None
    notional: Optional[Decimal] = None
    extended_hours: bool = False
    extra: Dict[str, Any] = field(default_factory=dict)

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_TRADE_STATES

    @property
    def entry_order(self) -> Optional[Order]:
        return next((o for o in self.orders if o.role == "entry"), None)

    @property
    def exit_orders(self) -> List[Order]:
        return [o for o in self.orders if o.role != "entry"]

    @property
    def reason(self) -> str:
        """The trade's note and, when one of its orders was refused, the broker's message."""
        refused = next((o.last_error for o in sorted(self.orders, key=lambda o: o.role != "entry")
                        if o.last_error), "")
        return f"{self.note}: {refused}" if refused and refused not in self.note else self.note

    def realized_pnl(self) -> Decimal:
        """Profit of the quantity closed so far: exits' fills against the entry's average price
        (a short profits when it buys back lower). Exact; 0 before any exit fills."""
        entry = self.entry_order
        if entry is None or entry.filled_avg_price is None:
            return Decimal(0)
        sign = 1 if self.side == "buy" else -1
        pnl = Decimal(0)
        for o in self.exit_orders:
            if o.filled_qty and o.filled_avg_price is not None:
                pnl += sign * o.filled_qty * (o.filled_avg_price - entry.filled_avg_price)
        return pnl


@dataclass(frozen=True)
class OrderEvent:
    seq: int
    order_id: int
    at: Optional[datetime]
    source: str  # intent | response | stream | poll | lookup | reconcile | error
    to: str
    filled_qty: Decimal
    note: str
    from_: Optional[str] = None  # "from" in JSON (a Python keyword)
    payload: str = ""  # the raw broker payload; "" on the event stream (read the audit trail)
    account: Optional[str] = None
    account_seq: Optional[int] = None
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Fill:
    execution_id: str
    qty: Decimal
    price: Decimal
    at: Optional[datetime]
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditTrail:
    order: Order
    events: List[OrderEvent]
    fills: List[Fill]
    account: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Position:
    symbol: str
    local_qty: Decimal
    broker_qty: Optional[Decimal]
    drift: Decimal
    mismatch: bool
    avg_entry_price: Optional[Decimal] = None
    current_price: Optional[Decimal] = None  # the broker's, as of priced_at
    unrealized_pl: Optional[Decimal] = None
    priced_at: Optional[datetime] = None
    held_by_trades: Optional[Decimal] = None
    covered_by_exits: Optional[Decimal] = None
    account: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Alert:
    id: Optional[int]
    kind: str
    subject: str
    message: str
    raised_at: Optional[datetime]
    cleared_at: Optional[datetime]
    active: bool
    severity: Optional[str] = None
    account: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReconcileReport:
    fix: bool
    orders_checked: int
    orders_adopted: int
    orders_external: int
    fills_adopted: int
    position_mismatches: int
    findings: List[str]
    ok: bool
    error: Optional[str]
    orders_unadopted: Optional[int] = None
    complete: Optional[bool] = None
    account: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Account:
    name: str
    state: str  # starting | standby | active | stopping | failed
    since: Optional[datetime]
    detail: str
    store_account: str
    leases_acquired: int
    leases_lost: int
    last_lost_at: Optional[datetime]
    last_lost_reason: str
    health: Optional["Health"] = None
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Market:
    """The market's session as the broker's clock last said (GET /v2/clock)."""
    is_open: bool
    next_open: Optional[datetime]
    next_close: Optional[datetime]
    as_of: Optional[datetime]  # when the broker was asked
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Health:
    status: str  # ok | degraded | down
    stream_connected: bool
    last_stream_event_at: Optional[datetime]
    last_sync_at: Optional[datetime]
    last_sync_age_ms: Optional[int]
    sync_lag_ms: int
    store_ok: bool
    store_error: str
    broker_ok: bool
    open_orders: int
    rest_calls_last_minute: int
    rest_budget_per_minute: int
    now: Optional[datetime]
    reasons: List[str] = field(default_factory=list)  # why the status is not ok
    unprotected_positions: Optional[int] = None  # filled positions without working exits
    stream_expected: Optional[bool] = None
    broker_reachable: Optional[bool] = None
    credentials_refused: Optional[bool] = None
    snapshot_age_ms: Optional[int] = None
    market: Optional[Market] = None  # null before the broker's clock was read
    accounts: List[Account] = field(default_factory=list)
    account: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    """One message of /api/events: `kind` "order_event" (then `order_event` is set and `id` is its
    id for Last-Event-ID) or "health" (then `health` is set)."""

    kind: str
    id: Optional[str] = None
    order_event: Optional[OrderEvent] = None
    health: Optional[Health] = None
    data: Any = None  # the decoded JSON, for kinds this client does not know
