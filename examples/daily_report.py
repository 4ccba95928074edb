#!/usr/bin/env python3
"""Prints the day's trades with their realized P&L, from orderly's API (ORDERLY_API/ORDERLY_TOKEN).

    python3 examples/daily_report.py                 # today (UTC)
    python3 examples/daily_report.py --date 2026-03-02 --json

For each trade opened that day: symbol, side, quantity, the entry's fill, the exits' fills,
state, realized P&L (exits against the entry's average price, exact decimals) and, for a trade
that failed, the broker's reason. Totals at the end. Exit status 0, 3 when the daemon cannot be
reached (as the CLI).
"""

import argparse
import json
import sys
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import List, Optional

from orderly_client import ApiError, Client, DaemonUnreachable, Order, Trade


def fill_text(orders: List[Order]) -> str:
    parts = [f"{o.filled_qty}@{o.filled_avg_price}" for o in orders if o.filled_qty and o.filled_avg_price]
    return " ".join(parts) or "-"


def trades_of(client: Client, day: date) -> List[Trade]:
    out = []
    for t in client.all_trades():  # newest first: stop at the first trade before that day
        opened: Optional[datetime] = t.created_at
        if opened is None:
            continue
        opened_day = opened.astimezone(timezone.utc).date()
        if opened_day < day:
            break
        if opened_day == day:
            out.append(t)
    return list(reversed(out))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--date", help="YYYY-MM-DD (UTC); default today")
    parser.add_argument("--json", action="store_true", help="one JSON document instead of a table")
    args = parser.parse_args()
    day = date.fromisoformat(args.date) if args.date else datetime.now(timezone.utc).date()

    try:
        trades = trades_of(Client(), day)
    except DaemonUnreachable as e:
        print(f"daily_report: {e.message}", file=sys.stderr)
        return 3
    except ApiError as e:
        print(f"daily_report: {e}", file=sys.stderr)
        return 2 if e.status in (401, 403) else 1

    total = sum((t.realized_pnl() for t in trades), Decimal(0))
    if args.json:
        rows = [{"id": t.id, "symbol": t.symbol, "side": t.side, "qty": str(t.qty), "state": t.state,
                 "entry": fill_text([t.entry_order] if t.entry_order else []),
                 "exits": fill_text(t.exit_orders), "realized_pnl": str(t.realized_pnl()),
                 "note": t.reason} for t in trades]
        print(json.dumps({"date": day.isoformat(), "trades": rows, "realized_pnl": str(total)}, indent=2))
        return 0
    print(f"trades opened {day.isoformat()} (UTC): {len(trades)}")
    print(f"{'id':>5} {'symbol':<8} {'side':<4} {'qty':>8} {'entry':>16} {'exits':>24} {'state':<9} {'P&L':>10}  note")
    for t in trades:
        entry = fill_text([t.entry_order] if t.entry_order else [])
        print(f"{t.id:>5} {t.symbol:<8} {t.side:<4} {str(t.qty):>8} {entry:>16} {fill_text(t.exit_orders):>24} "
              f"{t.state:<9} {str(t.realized_pnl()):>10}  {t.reason}")
    print(f"realized P&L: {total}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
