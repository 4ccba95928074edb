#!/usr/bin/env python3
"""A small strategy on orderly: when a symbol's fast moving average crosses above its slow one, buy
it as two trades of half the size (native brackets), both with a stop-loss 1% below the signal's
price, one taking profit at +1% and the other at +2% (scaling out). It follows every order through orderly's event stream: an entry
filled, a take-profit filled (after the first one the second trade's stop moves to break-even,
where the daemon can modify exits), a stop hit, an order refused by the broker (that symbol is
skipped from then on). It prints each trade's realized P&L at the end.

One command against the simulator (starts `orderly sim` + `orderly run`, stops them after):

    examples/with_sim.py -- python3 examples/strategy.py

The market data here is a scripted price path, also set as the simulator's prices: a rally on
STWD through both targets, a drop on PFE through its stop, a signal on T that the account can no
longer afford (the broker refuses it). So every reaction shows and the run ends by itself: exit 0
once every trade is closed or failed. For paper trading, hand Strategy your market data instead
of ScriptedFeed.
"""

import argparse
import json
import os
import queue
import sys
import threading
import time
import urllib.request
from collections import deque
from decimal import ROUND_DOWN, Decimal
from typing import Dict, List, Optional

from orderly_client import ApiError, Client, Event, Trade

TWO = Decimal(2)


class ScriptedFeed:
    """This example's market data: a fixed price path per symbol, one step per tick, also set as
    the simulator's last prices (POST /sim/prices) so orders fill where the strategy saw the price.
    For paper or live trading, give Strategy a feed of your market data with the same `prices()`."""

    def __init__(self, sim_url: str, paths: Dict[str, List[Decimal]]):
        self.sim_url = sim_url.rstrip("/")
        self.paths = paths
        self.tick = 0

    @property
    def finished(self) -> bool:
        return self.tick >= max(len(p) for p in self.paths.values())

    def prices(self) -> Dict[str, Decimal]:
        now = {s: p[min(self.tick, len(p) - 1)] for s, p in self.paths.items()}
        self.tick += 1
        body = json.dumps({k: str(v) for k, v in now.items()}).encode()
        req = urllib.request.Request(f"{self.sim_url}/sim/prices", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=5).read()
        return now


class Crossover:
    """Fast and slow simple moving averages; signals once when fast crosses above slow."""

    def __init__(self, fast: int = 3, slow: int = 6):
        self.fast, self.slow = fast, slow
        self.prices: deque = deque(maxlen=slow)
        self.above: Optional[bool] = None

    def update(self, price: Decimal) -> bool:
        self.prices.append(price)
        if len(self.prices) < self.slow:
            return False
        fast = sum(list(self.prices)[-self.fast:]) / self.fast
        slow = sum(self.prices) / self.slow
        above = fast > slow
        crossed = self.above is False and above
        self.above = above
        return crossed


def scripted_paths() -> Dict[str, List[Decimal]]:
    """Per tick prices: flat, a dip, a rally (the signal), then each symbol's outcome."""
    def path(base: str, moves: List[str]) -> List[Decimal]:
        b = Decimal(base)
        return [(b * (1 + Decimal(m) / 100)).quantize(Decimal("0.01")) for m in moves]
    warmup = ["0"] * 6 + ["-0.6", "-0.8", "-0.6", "0.2", "0.5"]
    hold = ["0.5"] * 6  # entries fill, exits are placed
    return {
        "STWD": path("20.00", warmup + hold + ["0.9", "1.3", "1.7", "1.9", "2.3", "2.7", "3.0"] + ["3.0"] * 6),
        "PFE": path("28.00", warmup + hold + ["0.2", "-0.2", "-0.6", "-1.0", "-1.4", "-1.8"] + ["-1.8"] * 6),
        # Later than the others: by then STWD and PFE hold the account's buying power.
        "T": path("22.00", ["0"] * 4 + warmup + hold + ["0.5"] * 9),
    }


class Strategy:
    def __init__(self, client: Client, symbols: List[str], usd_per_signal: Decimal):
        self.client = client
        self.signals = {s: Crossover() for s in symbols}
        self.usd_per_signal = usd_per_signal
        self.trades: Dict[int, str] = {}  # trade id -> "first" | "second" (which half)
        self.pairs: Dict[int, int] = {}  # first half's trade id -> second half's
        self.trades_symbol: Dict[int, str] = {}
        self.skipped: set = set()
        self.refused: set = set()  # trade ids
        self.order_trade: Dict[int, int] = {}  # order id -> trade id

    def log(self, text: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {text}", flush=True)

    def on_price(self, symbol: str, price: Decimal) -> None:
        if self.signals[symbol].update(price) and symbol not in self.skipped and not self.holding(symbol):
            self.enter(symbol, price)

    def holding(self, symbol: str) -> bool:
        """One position per symbol: a signal while our trades on it still work is ignored."""
        return any(self.trades_symbol[t] == symbol and not self.client.trade(t).is_terminal
                   for t in self.trades)

    def enter(self, symbol: str, price: Decimal) -> None:
        qty = (self.usd_per_signal / price).quantize(Decimal(1), rounding=ROUND_DOWN)
        half = (qty / TWO).quantize(Decimal(1), rounding=ROUND_DOWN)
        if half < 1:
            return
        self.log(f"{symbol}: fast average crossed above slow at {price}: buying {2 * half} in two halves")
        # Native exits (an Alpaca bracket per half): both halves' stops and targets rest at the
        # broker from the start, and a bracket's entry is not refused as a wash trade against the
        # other half's resting exits (two simple orders on opposite sides would be).
        cent = Decimal("0.01")
        stop = (price * Decimal("0.99")).quantize(cent)
        targets = [(price * Decimal("1.01")).quantize(cent), (price * Decimal("1.02")).quantize(cent)]
        try:
            first, second = (self.client.open_trade(symbol, half, take_profit=tp, stop_loss=stop, exits="native")
                             for tp in targets)
        except ApiError as e:  # refused before anything was sent (bad input, no token, daemon down)
            self.log(f"{symbol}: orderly refused the trade ({e.status}): {e.message}")
            self.skipped.add(symbol)
            return
        self.trades[first.id], self.trades[second.id] = "first", "second"
        self.trades_symbol[first.id] = self.trades_symbol[second.id] = symbol
        self.pairs[first.id] = second.id

    def trade_of(self, order_id: int) -> Optional[int]:
        if order_id not in self.order_trade:
            self.order_trade[order_id] = self.client.order(order_id).trade_id
        return self.order_trade[order_id]

    def on_event(self, ev: Event) -> None:
        e = ev.order_event
        if e is None:
            return
        trade_id = self.trade_of(e.order_id)
        if trade_id not in self.trades or e.from_ == e.to:  # evidence that changes nothing
            return
        if e.to == "filled":
            self.on_filled(trade_id, e.order_id)
        elif e.to in ("submit_failed", "rejected", "parked") and trade_id not in self.refused:
            self.refused.add(trade_id)  # once per trade: a bracket's legs follow their entry
            order = self.client.order(e.order_id)
            self.log(f"{order.symbol}: the broker refused our {order.role} order: {order.last_error or e.note}"
                     f" (trade {trade_id}); skipping {order.symbol} from now on")
            self.skipped.add(order.symbol)

    def on_filled(self, trade_id: int, order_id: int) -> None:
        order = self.client.order(order_id)
        trade = self.client.trade(trade_id)
        if order.role == "entry":
            self.log(f"{order.symbol}: entry of trade {trade_id} filled {order.filled_qty} @ {order.filled_avg_price}")
        elif order.role == "stop_loss":
            self.log(f"{order.symbol}: stopped out of trade {trade_id} @ {order.filled_avg_price}"
                     f" (P&L {trade.realized_pnl()})")
        else:
            self.log(f"{order.symbol}: take-profit of the {self.trades[trade_id]} half filled"
                     f" @ {order.filled_avg_price} (P&L {trade.realized_pnl()}): scaled out")
            if trade_id in self.pairs:
                self.move_stop_to_break_even(self.pairs[trade_id], trade)

    def move_stop_to_break_even(self, second_id: int, first: Trade) -> None:
        entry = first.entry_order
        if entry is None or entry.filled_avg_price is None or self.client.trade(second_id).is_terminal:
            return
        try:
            self.client.modify_trade(second_id, stop_loss=entry.filled_avg_price)
            self.log(f"{first.symbol}: stop of trade {second_id} moved to break-even {entry.filled_avg_price}")
        except ApiError as e:
            self.log(f"{first.symbol}: keeping trade {second_id}'s stop (this daemon: {e.status} {e.message})")

    def entries_pending(self) -> bool:
        """True while an entry has no answer from the broker yet (neither filled nor refused)."""
        for t in self.trades:
            entry = self.client.trade(t).entry_order
            if entry is None or (entry.state != "filled" and not entry.is_terminal):
                return True
        return False

    def all_done(self) -> bool:
        return all(self.client.trade(t).is_terminal for t in self.trades)

    def summary(self) -> int:
        total = Decimal(0)
        print(f"\n{'trade':>5} {'symbol':<6} {'qty':>6} {'state':<9} {'P&L':>10}  note")
        for trade_id in sorted(self.trades):
            t = self.client.trade(trade_id)
            pnl = t.realized_pnl()
            total += pnl
            print(f"{t.id:>5} {t.symbol:<6} {str(t.qty):>6} {t.state:<9} {str(pnl):>10}  {t.reason}")
        print(f"realized P&L: {total}")
        return 0 if all(self.client.trade(t).is_terminal for t in self.trades) else 1


def pump_events(client: Client, out: "queue.Queue[Event]") -> None:
    for ev in client.events():
        out.put(ev)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--symbols", default="STWD,PFE,T")
    parser.add_argument("--usd-per-signal", default="45000", help="dollars per signal (both halves)")
    parser.add_argument("--tick-s", type=float, default=0.25, help="seconds between two price reads")
    parser.add_argument("--timeout-s", type=float, default=25.0, help="give up after this")
    args = parser.parse_args()

    client = Client()  # ORDERLY_API / ORDERLY_TOKEN
    symbols = args.symbols.split(",")
    feed = ScriptedFeed(os.environ.get("ORDERLY_SIM", "http://127.0.0.1:8931"),
                        {s: p for s, p in scripted_paths().items() if s in symbols})
    strategy = Strategy(client, symbols, Decimal(args.usd_per_signal))

    # Events are read on their own thread and handled here, between two ticks.
    events: "queue.Queue[Event]" = queue.Queue()
    threading.Thread(target=pump_events, args=(client, events), daemon=True).start()
    events.get(timeout=10)  # connected: the stream starts now, so nothing after this is missed

    deadline = time.monotonic() + args.timeout_s
    try:
        while not (feed.finished and strategy.all_done()):
            # A replay: the next price waits for the broker's answer to every entry, so the run
            # is the same on a slow machine.
            if not strategy.entries_pending():
                for symbol, price in feed.prices().items():
                    strategy.on_price(symbol, price)
            while not events.empty():
                strategy.on_event(events.get())
            if time.monotonic() > deadline:
                strategy.log("gave up waiting: some trades are still open")
                break
            time.sleep(args.tick_s)
    except KeyboardInterrupt:
        pass
    return strategy.summary()


if __name__ == "__main__":
    sys.exit(main())
