"""Errors raised by the client: every answer of the API that is not a success becomes an ApiError
carrying the HTTP status and the API's own message ({"error": "..."})."""

from typing import Optional


class ApiError(Exception):
    """The daemon answered with an error. `status` is the HTTP status, `message` the API's text."""

    def __init__(self, status: Optional[int], message: str, method: str = "", path: str = ""):
        self.status = status
        self.message = message
        self.method = method
        self.path = path
        where = f"{method} {path}: " if method else ""
        super().__init__(f"{where}{status if status is not None else 'no answer'}: {message}")


class BadRequest(ApiError):
    """400: the input was refused; the message names the field."""


class Unauthorized(ApiError):
    """401: no token or a wrong one (ORDERLY_TOKEN)."""


class Forbidden(ApiError):
    """403: the daemon has no [api] token, so it refuses every mutating call."""


class NotFound(ApiError):
    """404: no such trade, order, account or route."""


class Conflict(ApiError):
    """409: e.g. a client_trade_id reused with a different body, or an id found in several accounts."""


class Unavailable(ApiError):
    """503: the account's lease is lost, the store (busy) or the broker cannot answer, or the
    account does not run in this process."""


class DaemonUnreachable(ApiError):
    """No answer at all: the daemon is not running at that address (`sent` False: the request
    never left), or the connection failed after the request was sent (`sent` True)."""

    def __init__(self, message: str, method: str = "", path: str = "", sent: bool = False):
        super().__init__(None, message, method, path)
        self.sent = sent


class OutcomeUnknown(ApiError):
    """A trade request was sent but its answer was lost, and the daemon is not known to honour
    client_trade_id (older daemons): it may or may not have been created. Look for it before
    sending it again; `client_trade_id` names it on daemons that keep the key."""

    def __init__(self, message: str, client_trade_id: str):
        super().__init__(None, message, "POST", "/api/trades")
        self.client_trade_id = client_trade_id


_BY_STATUS = {400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict,
              503: Unavailable}


def error_for(status: int, message: str, method: str, path: str) -> ApiError:
    return _BY_STATUS.get(status, ApiError)(status, message, method, path)
