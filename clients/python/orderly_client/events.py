"""/api/events: Server-Sent Events (https://html.spec.whatwg.org/multipage/server-sent-events.html)
read with http.client, resumed with Last-Event-ID after a dropped connection."""

import http.client
import json
import time
from typing import TYPE_CHECKING, Iterator, List, Optional, Tuple

from .errors import DaemonUnreachable, error_for
from .models import Event, Health, OrderEvent, from_json

if TYPE_CHECKING:
    from .client import Client


def parse_messages(lines: Iterator[str]) -> Iterator[Tuple[str, Optional[str], str, Optional[int]]]:
    """(event, id, data, retry_ms) per message; a blank line ends a message, ':' lines are
    comments. `id` is None when the message set none."""
    event, event_id, data, retry = "message", None, [], None  # type: str, Optional[str], List[str], Optional[int]
    for line in lines:
        if line == "":
            if data or retry is not None:
                yield event, event_id, "\n".join(data), retry
            event, event_id, data, retry = "message", None, [], None
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id" and "\0" not in value:
            event_id = value
        elif name == "retry" and value.isdigit():
            retry = int(value)


def _to_event(kind: str, event_id: Optional[str], data: str) -> Event:
    value = json.loads(data)
    if kind == "order_event":
        return Event(kind, event_id, order_event=from_json(OrderEvent, value), data=value)
    if kind == "health":
        return Event(kind, event_id, health=from_json(Health, value), data=value)
    return Event(kind, event_id, data=value)


def _lines(resp: http.client.HTTPResponse) -> Iterator[str]:
    while True:
        raw = resp.readline()
        if not raw:
            return
        yield raw.decode("utf-8", errors="replace").rstrip("\r\n")


def stream_events(client: "Client", last_event_id: Optional[str], reconnect: bool,
                  read_timeout_s: float) -> Iterator[Event]:
    wait_ms = 2000  # until the server says otherwise (retry:)
    failures = 0
    while True:
        conn = http.client.HTTPConnection(client.host, client.port, timeout=read_timeout_s)
        try:
            headers = client._headers({"Accept": "text/event-stream"})
            if last_event_id is not None:
                headers["Last-Event-ID"] = last_event_id
            path = client._path("/api/events")
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            if resp.status != 200:
                raw = resp.read()
                client._decode("GET", path, resp.status, raw)  # raises the API's error
                raise error_for(resp.status, f"HTTP {resp.status}", "GET", path)
            failures = 0
            for kind, event_id, data, retry in parse_messages(_lines(resp)):
                if retry is not None:
                    wait_ms = retry
                if not data:
                    continue
                if event_id is not None:
                    last_event_id = event_id
                yield _to_event(kind, event_id, data)
        except (OSError, http.client.HTTPException) as e:
            failures += 1
            if not reconnect or failures > 1 + client.retries:
                raise DaemonUnreachable(f"event stream: {e}", "GET", "/api/events") from None
        finally:
            conn.close()
        if not reconnect:
            return
        time.sleep(wait_ms / 1000.0)
