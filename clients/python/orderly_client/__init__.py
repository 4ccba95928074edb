"""orderly_client: the Python client of orderly's local API.

    from orderly_client import Client
    c = Client()                      # ORDERLY_API / ORDERLY_TOKEN, or ./orderly.toml
    t = c.open_trade("STWD", "37", take_profit_percent="2", stop_loss_percent="1")
    for ev in c.events():             # fills, refusals, health, as they happen
        ...
"""

from .client import Client
from .errors import (ApiError, BadRequest, Conflict, DaemonUnreachable, Forbidden, NotFound,
                     OutcomeUnknown, Unauthorized, Unavailable)
from .models import (Account, Alert, AuditTrail, Entry, Event, Fill, Health, Market, Order,
                     OrderEvent, Position, ReconcileReport, StopLoss, TakeProfit, Trade,
                     parse_time)

__all__ = ["Client", "ApiError", "BadRequest", "Conflict", "DaemonUnreachable", "Forbidden",
           "NotFound", "OutcomeUnknown", "Unauthorized", "Unavailable", "Account", "Alert",
           "AuditTrail", "Market", "Entry", "Event", "Fill", "Health", "Order", "OrderEvent",
           "Position",
           "ReconcileReport", "StopLoss", "TakeProfit", "Trade", "parse_time"]
__version__ = "0.1.0"
