#!/usr/bin/env python3
"""End-to-end load driver over real processes on loopback: `orderly sim` + `orderly run`.

Figures (one JSON object per line on stdout, collected by scripts/bench):
  detection_stream_p50/p99   fill emitted by the simulator -> orderly's local state, stream on
  detection_poll_p50/p99     the same with [sync] stream = false (found by the fill catch-up)
  ws_loopback_rtt_p50/p99    WebSocket ping -> pong against the simulator's /stream: the floor
  e2e_recovery_time          restart of `orderly run` over a store with 1,000,000 historical
                             orders and 10,000 open ones the simulator holds: process start ->
                             /healthz shows 10,000 open orders and a completed sync
  e2e_recovery_peak_rss      that daemon's VmHWM when it got there
  footprint_rss/idle_cpu     that daemon, idle, stream healthy: VmRSS and (utime+stime) over 30 s
  slow_broker_calls_per_min  REST calls reaching the simulator in the minute after 250 entries are
                             asked for at once, every call answered after 2 s; beside the same
                             with calls answered at once (the budget's share entries may use)
  hung_call_calls_per_min    the same with one symbol's calls never answered (read deadline 30 s)

The 10,000 open orders are opened through the daemon itself (its API, an unlimited REST budget),
so they are its own trades in its own store, as after a day of use. The daemon persists the REST
calls of the last minute (Alpaca's 200/min is per account, so a crash loop must not multiply it),
and the seeding's calls (all to this run's own simulator, which counts no limit) would make the
restart first wait the window out. The persisted window is therefore cleared in the store with
the rest of the seeding (the calls it held are reported as `window_cleared_calls`; waiting it
out instead cost 53 s of every run), and the timed restart runs with the default budget of
190/min: what a restart after a quiet minute costs, not what the seeding left behind.

Detection is timed with the two clocks of one machine: the simulator's event time (the stream
message's "timestamp", or the activity's "transaction_time" for a fill found by polling), both
carried in the audit row's payload, against the audit row's `at` (stamped when the engine applied
the event; the batch is committed right after it, before anything else is processed).

  bench/e2e_bench.py --orderly BUILD/src/app/orderly [--quick]
"""
import argparse
import base64
import datetime
import http.client
import json
import os
import re
import shutil
import socket
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

TOKEN = "bench-token-0123456789"  # 16+ characters: shorter ones stop `orderly run`


def emit(name, value, unit, **extra):
    d = {"name": name, "value": round(value, 3) if value is not None else None, "unit": unit}
    d.update(extra)
    print(json.dumps(d), flush=True)


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * (len(xs) - 1)))))
    return xs[k]


def parse_ts_ns(text):
    """RFC 3339 with up to 9 fractional digits -> ns since the epoch (UTC)."""
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", text)
    if not m:
        return None
    base = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")
    tz = m.group(3)
    off = 0
    if tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        off = sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    secs = int(base.replace(tzinfo=datetime.timezone.utc).timestamp()) - off
    frac = (m.group(2) or ".")[1:]
    ns = int((frac + "000000000")[:9]) if frac else 0
    return secs * 1_000_000_000 + ns


class Proc:
    """A child process whose output lines are collected by a thread."""

    def __init__(self, args, env=None):
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  env=env)
        self.lines = []
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_line(self, pattern, timeout):
        deadline = time.time() + timeout
        rx = re.compile(pattern)
        while time.time() < deadline:
            for line in list(self.lines):
                m = rx.search(line)
                if m:
                    return m
            if self.p.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError("no line matching %r; output:\n%s" % (pattern, "\n".join(self.lines[-30:])))

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


class Http:
    def __init__(self, port):
        self.port = port
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method, path, body=None, token=None):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = "Bearer " + token
        for attempt in range(2):
            try:
                self.c.request(method, path, body=json.dumps(body) if body is not None else None,
                               headers=headers)
                r = self.c.getresponse()
                data = r.read()
                return r.status, (json.loads(data) if data[:1] in (b"{", b"[") else data)
            except (http.client.HTTPException, OSError):
                self.c.close()
                self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt:
                    raise


def check_fresh(orderly):
    """The binary must be newer than every library of its build tree: a bench run once used an
    `orderly` linked before a simulator fix (only other targets had been rebuilt since) and
    measured a crash that the sources no longer had (issue 3)."""
    build = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(orderly))))
    t_bin = os.path.getmtime(orderly)
    newer = []
    for root, _dirs, files in os.walk(os.path.join(build, "src")):
        for f in files:
            if f.startswith("liborderly") and f.endswith(".a"):
                path = os.path.join(root, f)
                if os.path.getmtime(path) > t_bin + 1:
                    newer.append(os.path.relpath(path, build))
    if newer:
        raise RuntimeError("%s is older than %s of its build tree: rebuild the `orderly` target "
                           "first (cmake --build %s --target orderly)"
                           % (orderly, ", ".join(sorted(newer)), build))


def start_sim(orderly):
    sim = Proc([orderly, "sim", "--listen", "127.0.0.1:0", "--rate-limit", "0"])
    port = int(sim.wait_line(r"orderly sim listening on [\d.]+:(\d+)", 30).group(1))
    return sim, port


def write_config(d, sim_port, stream, rate_limit):
    path = os.path.join(d, "orderly.toml")
    with open(path, "w") as f:
        f.write(f"""[broker]
base_url = "http://127.0.0.1:{sim_port}"
key_id = "bench-key"
secret_key = "bench-secret"
rate_limit_per_min = {rate_limit}

[store]
url = "sqlite:{d}/orderly.db"

[api]
listen = "127.0.0.1:0"
token = "{TOKEN}"

[sync]
stream = {"true" if stream else "false"}
""")
    return path


def start_daemon(orderly, config):
    d = Proc([orderly, "run", "--config", config])
    try:
        d.port = int(d.wait_line(r"API listening on http://[\d.]+:(\d+)", 60).group(1))
    except Exception:
        d.stop()
        raise
    return d, d.port


def daemon_port(daemon):
    return daemon.port


def wait_health(api, pred, timeout):
    deadline = time.time() + timeout
    h = None
    while time.time() < deadline:
        try:
            st, h = api.call("GET", "/healthz")
            if st == 200 and isinstance(h, dict) and pred(h):
                return h
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("health never matched; last: %r" % (h,))


def open_trade(api, symbol, limit):
    body = {"symbol": symbol, "qty": "1", "entry": {"type": "limit", "limit_price": limit},
            "take_profit": {"percent": "50"}, "tif": "gtc"}
    st, r = api.call("POST", "/api/trades", body, TOKEN)
    if st not in (200, 201):
        raise RuntimeError("open_trade %s: %s %r" % (symbol, st, r))
    return r


def set_prices(sim_api, prices):
    st, r = sim_api.call("POST", "/sim/prices", prices)
    if st != 200:
        raise RuntimeError("set prices: %s %r" % (st, r))


def find_ts(obj, keys):
    if isinstance(obj, dict):
        for k in keys:
            v = obj.get(k)
            if isinstance(v, str):
                return v
        for v in obj.values():
            r = find_ts(v, keys)
            if r:
                return r
    return None


def detection_samples(db, symbols):
    """(audit at - simulator fill time) in ms for each entry order of `symbols` that filled."""
    con = sqlite3.connect(db, timeout=10)
    q = ("SELECT e.at, e.source, e.payload FROM order_events e JOIN orders o "
         "ON o.account = e.account AND o.id = e.order_id WHERE o.symbol = ? AND o.role = 'entry' "
         "AND e.to_state IN ('filled', 'partially_filled') ORDER BY e.seq LIMIT 1")
    out = {}
    for s in symbols:
        row = con.execute(q, (s,)).fetchone()
        if not row:
            continue
        at, source, payload = row
        try:
            p = json.loads(payload)
        except ValueError:
            continue
        t = find_ts(p, ["transaction_time"] if source == "poll" else ["timestamp"])
        t = t or find_ts(p, ["timestamp", "transaction_time", "filled_at", "updated_at"])
        ns = parse_ts_ns(t) if t else None
        if ns is not None:
            out[s] = ((at - ns) / 1e6, source)
    con.close()
    return out


def stream_share(api):
    """orderly's own share of the stream path from its /metrics summary (seconds -> ms)."""
    status, text = api.call("GET", "/metrics", token=TOKEN)
    if status != 200:
        raise RuntimeError("GET /metrics answered %s" % status)
    text = text.decode() if isinstance(text, bytes) else str(text)
    out = {}
    for key, pattern in (("p50", r'orderly_stream_event_seconds\{quantile="0.5"\} ([0-9.]+)'),
                         ("p99", r'orderly_stream_event_seconds\{quantile="0.99"\} ([0-9.]+)'),
                         ("count", r"orderly_stream_event_seconds_count ([0-9]+)"),
                         ("commits", r"orderly_store_commits_total ([0-9]+)")):
        m = re.search(pattern, text)
        if m:
            out[key] = float(m.group(1)) * (1 if key in ("count", "commits") else 1000.0)
    return out


def serving_daemon(orderly, d, sim_port, stream):
    """A daemon over a new store in `d` at the default budget, once it has completed a sync (and
    connected the stream, when on). Returns (daemon, its API, the simulator's API)."""
    daemon, port = start_daemon(orderly, write_config(d, sim_port, stream, 190))
    api = Http(port)
    try:
        wait_health(api, lambda h: h.get("last_sync_at") and (h["stream_connected"] or not stream),
                    60)
    except Exception:
        daemon.stop()
        raise
    return daemon, api, Http(sim_port)


def run_detection(orderly, sim_port, stream, samples, spacing_s, share=None):
    d = tempfile.mkdtemp(prefix="orderly-e2e-")
    daemon = None
    try:
        daemon, api, sim_api = serving_daemon(orderly, d, sim_port, stream)
        tag = "S" if stream else "P"
        syms = ["%s%03d" % (tag, i) for i in range(samples)]
        set_prices(sim_api, {s: "100" for s in syms})
        for s in syms:
            open_trade(api, s, "50")
        wait_health(api, lambda h: h["open_orders"] >= samples, 120)
        # Entries go out at the budget less what it keeps for exits and polls (about 2 a second).
        wait_acknowledged(os.path.join(d, "orderly.db"), samples, 60 + samples)
        time.sleep(1.0)  # the acknowledgements' stream events are in: the fills below are the only events
        for s in syms:
            set_prices(sim_api, {s: "40"})
            time.sleep(spacing_s)
        deadline = time.time() + 30
        got = {}
        while time.time() < deadline:
            got = detection_samples(os.path.join(d, "orderly.db"), syms)
            if len(got) >= samples:
                break
            time.sleep(0.5)
        if share is not None:
            share.update(stream_share(api))
        return got
    finally:
        if daemon:
            daemon.stop()
        shutil.rmtree(d, ignore_errors=True)


def sim_requests(sim_api):
    """REST calls the simulator has received so far (every Alpaca route; /sim/* not counted)."""
    st, r = sim_api.call("GET", "/sim/stats")
    if st != 200:
        raise RuntimeError("GET /sim/stats answered %s" % st)
    return sum(r.get("requests", {}).values())


# Fault plans of the slow-broker runs: every REST call answered after 2 s, or one symbol's calls
# not answered for 10 minutes (the longest the simulator allows): the daemon's read deadline (30 s)
# ends each, and its lookup by client id hangs as well.
SLOW_PLANS = {
    "fast": None,
    "slow": {"rules": [{"on": "http", "action": "slow", "delay_ms": 2000}]},
    "hung": {"rules": [{"on": "http", "action": "slow", "delay_ms": 600_000, "symbol": "HUNG"}]},
}


def run_slow_broker(orderly, mode, trades, window_s):
    """REST calls that reach the simulator in the first `window_s` after `trades` entries are
    asked for at once, at the default budget (190/min). Limit entries that rest, with native exits
    (one POST each, no exit reserve held back for them): the engine always has work, so the count
    is bounded by its budget and by how many calls it can have outstanding at once, nothing else.
    The budget is a rolling minute that a burst may spend at once (the engine sends its deferrable
    share, 171, within a second when the broker answers at once, then waits): the window is
    therefore a whole minute from the first request, not a slice of it.
    Returns (calls/min over the window, orders acknowledged at its end)."""
    sim, sim_port = start_sim(orderly)
    d = tempfile.mkdtemp(prefix="orderly-e2e-slow-")
    daemon = None
    try:
        daemon, api, sim_api = serving_daemon(orderly, d, sim_port, True)
        syms = (["HUNG"] if mode == "hung" else []) + ["W%03d" % i for i in range(trades)]
        set_prices(sim_api, {s: "100" for s in syms})
        if SLOW_PLANS[mode]:
            st, r = sim_api.call("POST", "/sim/faults", SLOW_PLANS[mode])
            if st != 200:
                raise RuntimeError("fault plan refused: %s %r" % (st, r))
        n0, t0 = sim_requests(sim_api), time.time()
        for s in syms:
            body = {"symbol": s, "qty": "1", "entry": {"type": "limit", "limit_price": "50"},
                    "take_profit": {"percent": "50"}, "stop_loss": {"percent": "20"}, "tif": "gtc",
                    "exits": "native"}
            st, r = api.call("POST", "/api/trades", body, TOKEN)
            if st not in (200, 201):
                raise RuntimeError("open_trade %s: %s %r" % (s, st, r))
        time.sleep(max(0.0, t0 + window_s - time.time()))
        n1, t1 = sim_requests(sim_api), time.time()
        return (n1 - n0) * 60.0 / (t1 - t0), acknowledged_open(os.path.join(d, "orderly.db"))
    finally:
        if daemon:
            daemon.stop()
        sim.stop()
        shutil.rmtree(d, ignore_errors=True)


def slow_broker_figures(orderly):
    """Issue 20 item 2: throughput bounded by the rate budget, not by broker latency."""
    trades, window_s = 250, 60
    fast, fast_acked = run_slow_broker(orderly, "fast", trades, window_s)
    slow, slow_acked = run_slow_broker(orderly, "slow", trades, window_s)
    hung, hung_acked = run_slow_broker(orderly, "hung", trades, window_s)
    common = dict(window_s=window_s, budget=190, baseline_name="the same burst, broker answering "
                  "at once (calls/min)", baseline=round(fast, 1), baseline_acked=fast_acked)
    emit("slow_broker_calls_per_min", slow, "calls/min", delay_ms=2000, acked=slow_acked,
         target=">= 90% of baseline", met=slow >= 0.9 * fast, **common)
    emit("hung_call_calls_per_min", hung, "calls/min", acked=hung_acked,
         target=">= 90% of baseline", met=hung >= 0.9 * fast, **common)


def fsync_times(n):
    """One 4 KiB append + fdatasync, n times, in the temp directory the daemons' stores live in:
    what one SQLite commit (WAL, synchronous=FULL) waits for at the least, in ms."""
    fd, path = tempfile.mkstemp(prefix="orderly-e2e-fsync-")
    out = []
    try:
        block = b"\0" * 4096
        for _ in range(n):
            t0 = time.perf_counter()
            os.write(fd, block)
            os.fdatasync(fd)
            out.append((time.perf_counter() - t0) * 1000.0)
    finally:
        os.close(fd)
        os.unlink(path)
    return out


def ws_rtt(sim_port, n):
    """WebSocket ping -> pong round trips against the simulator's /stream (RFC 6455 by hand)."""
    s = socket.create_connection(("127.0.0.1", sim_port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
               % key).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            raise RuntimeError("websocket handshake: connection closed")
        buf += chunk
    if b" 101 " not in buf.split(b"\r\n", 1)[0]:
        raise RuntimeError("websocket handshake refused: %r" % buf[:80])
    buf = buf.split(b"\r\n\r\n", 1)[1]

    def read_frame():
        nonlocal buf
        while True:
            if len(buf) >= 2:
                ln = buf[1] & 0x7F
                hdr = 2 + (2 if ln == 126 else 8 if ln == 127 else 0)
                if len(buf) >= hdr:
                    if ln == 126:
                        ln = struct.unpack(">H", buf[2:4])[0]
                    elif ln == 127:
                        ln = struct.unpack(">Q", buf[2:10])[0]
                    if len(buf) >= hdr + ln:
                        op = buf[0] & 0x0F
                        payload = buf[hdr:hdr + ln]
                        buf = buf[hdr + ln:]
                        return op, payload
            chunk = s.recv(65536)
            if not chunk:
                raise RuntimeError("websocket closed")
            buf += chunk

    out = []
    mask = b"\x01\x02\x03\x04"
    for i in range(n):
        payload = struct.pack(">I", i)
        frame = bytes([0x89, 0x80 | len(payload)]) + mask + bytes(
            b ^ mask[j % 4] for j, b in enumerate(payload))
        t0 = time.perf_counter_ns()
        s.sendall(frame)
        while True:
            op, p = read_frame()
            if op == 0xA and p == payload:
                break
        out.append((time.perf_counter_ns() - t0) / 1e6)
    s.close()
    return out


def proc_stat(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime, clock ticks


def proc_status_kb(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1])
    return None


def add_history(db, n):
    """n closed orders (and their trades) written straight into the store file, ids above the
    current maxima: the history a long-running account accumulates."""
    con = sqlite3.connect(db, timeout=30)
    acct = con.execute("SELECT account FROM orders LIMIT 1").fetchone()[0]
    base_o = con.execute("SELECT COALESCE(MAX(id), 0) FROM orders").fetchone()[0]
    base_t = con.execute("SELECT COALESCE(MAX(id), 0) FROM trades").fetchone()[0]
    series = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < %d) " % n
    con.execute("PRAGMA synchronous = OFF")
    con.execute("BEGIN")
    con.execute(series +
                "INSERT INTO trades (account, id, symbol, side, qty, entry_type, entry_limit_price, "
                "tif, tp_price, tp_percent, has_stop_loss, sl_price, sl_percent, exits, state, "
                "is_open, note, created_at, updated_at) SELECT ?, ? + x, 'HIST', 'buy', '10', "
                "'limit', '150.25', 'gtc', NULL, '2', 0, NULL, NULL, 'emulated', 'closed', 0, '', "
                "x, x FROM c", (acct, base_t))
    con.execute(series +
                "INSERT INTO orders (account, id, trade_id, role, client_order_id, "
                "broker_order_id, symbol, side, type, tif, order_class, qty, limit_price, "
                "stop_price, parent_order_id, replaces_order_id, state, is_open, filled_qty, "
                "filled_avg_price, broker_updated_at, attempts, next_attempt_at, last_error, "
                "created_at, updated_at, version) SELECT ?, ? + x, ? + x, 'entry', "
                "'ol-hist000000-' || x || '-e0', 'h-' || x, 'HIST', 'buy', 'limit', 'gtc', "
                "'simple', '10', '150.25', NULL, NULL, NULL, 'filled', 0, '10', '150.25', x, 1, "
                "NULL, '', x, x, 3 FROM c", (acct, base_o, base_t))
    con.commit()
    con.close()


def acknowledged_open(db):
    """Open orders the broker has acknowledged, from the daemon's store (WAL: readable while it
    runs). /healthz counts open orders from the moment they are recorded, before they are sent;
    a daemon stopped then restarts with those in doubt and resolves each by a lookup first."""
    con = sqlite3.connect(db, timeout=30)
    n = con.execute("SELECT COUNT(*) FROM orders WHERE is_open = 1 AND state NOT IN "
                    "('created', 'submitting', 'unknown')").fetchone()[0]
    con.close()
    return n


def wait_acknowledged(db, n, timeout):
    deadline = time.time() + timeout
    got = 0
    while time.time() < deadline:
        got = acknowledged_open(db)
        if got >= n:
            return
        time.sleep(0.2)
    raise RuntimeError("only %d of %d open orders acknowledged by the simulator" % (got, n))


def clear_rate_window(db):
    """Removes the REST window the daemon persisted ("second:count,..."), as after a quiet minute;
    returns how many calls it held."""
    con = sqlite3.connect(db, timeout=30)
    key = "rest_calls_last_minute"
    row = con.execute("SELECT value FROM sync_state WHERE key = ?", (key,)).fetchone()
    con.execute("DELETE FROM sync_state WHERE key = ?", (key,))
    con.commit()
    con.close()
    return sum(int(item.split(":")[1]) for item in (row[0] if row else "").split(",")
               if ":" in item)


def b36(v):
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        out = digits[v % 36] + out
        v //= 36
        if v == 0:
            return out


def clone_open_trades(db, sim_api, syms, open_n):
    """Grows the one trade the daemon opened (id 1, entry acknowledged) to open_n: each clone's
    entry is placed at the simulator over its own HTTP with the client order id the daemon would
    have given it (ol-<owner>-<trade id>-e0), and its trade and order rows are copies of the
    daemon's rows with that id, the broker's order id and timestamps."""
    con = sqlite3.connect(db, timeout=30)
    cid = con.execute("SELECT client_order_id FROM orders WHERE trade_id = 1 AND role = 'entry'"
                      ).fetchone()[0]
    m = re.match(r"^ol-(.+)-1-e0$", cid)
    if not m:
        raise RuntimeError("unexpected client order id format: %r" % cid)
    owner = m.group(1)
    placed = []
    for tid in range(2, open_n + 1):
        sym = syms[tid % len(syms)]
        st, r = sim_api.call("POST", "/v2/orders", {
            "symbol": sym, "qty": "1", "side": "buy", "type": "limit", "limit_price": "1",
            "time_in_force": "gtc", "client_order_id": "ol-%s-%s-e0" % (owner, b36(tid))})
        if st != 200:
            raise RuntimeError("seeding order %d at the simulator: %s %r" % (tid, st, r))
        placed.append((tid, sym, r["id"], parse_ts_ns(r["created_at"])))
    con.execute("BEGIN")
    tcols = [c[1] for c in con.execute("PRAGMA table_info(trades)")]
    ocols = [c[1] for c in con.execute("PRAGMA table_info(orders)")]
    trade = dict(zip(tcols, con.execute("SELECT * FROM trades WHERE id = 1").fetchone()))
    order = dict(zip(ocols, con.execute("SELECT * FROM orders WHERE trade_id = 1").fetchone()))
    for tid, sym, broker_id, at in placed:
        trade.update(id=tid, symbol=sym, created_at=at, updated_at=at)
        order.update(id=tid, trade_id=tid, symbol=sym, client_order_id="ol-%s-%s-e0" % (owner, b36(tid)),
                     broker_order_id=broker_id, broker_updated_at=at, created_at=at, updated_at=at)
        con.execute("INSERT INTO trades (%s) VALUES (%s)" % (",".join(tcols), ",".join("?" * len(tcols))),
                    [trade[c] for c in tcols])
        con.execute("INSERT INTO orders (%s) VALUES (%s)" % (",".join(ocols), ",".join("?" * len(ocols))),
                    [order[c] for c in ocols])
    con.commit()
    con.close()


def wait_reconciled(api, open_n, timeout):
    """POST /api/reconcile answers once a full resync (fill catch-up, open-order sweep, positions)
    has finished. /healthz alone does not say that: its last_sync_at is also set by the fill
    catch-up, which finishes before a sweep of 20 pages does. A reconcile asked while the start-up
    sweep runs joins it and counts only the rest, so it is asked again until one counts them all."""
    deadline = time.time() + timeout
    rep = None
    while time.time() < deadline:
        st, rep = api.call("POST", "/api/reconcile", {}, TOKEN)
        if st == 200 and isinstance(rep, dict) and rep.get("ok") and \
                rep.get("orders_checked", 0) >= open_n:
            return rep
        time.sleep(0.05)
    raise RuntimeError("never reconciled; last: %r" % (rep,))


def start_healthy(orderly, d, sim_port, budget, open_n, timeout):
    """Starts the daemon and waits until it serves (/healthz: open_n open orders, a completed
    sync, stream up) and has reconciled every open order with the broker.
    Returns (daemon, seconds from process start to reconciled, to serving)."""
    t0 = time.time()
    daemon, port = start_daemon(orderly, write_config(d, sim_port, True, budget))
    try:
        api = Http(port)
        wait_health(api, lambda h: h["open_orders"] >= open_n and h.get("last_sync_at")
                    and h["stream_connected"], timeout)
        serving = time.time() - t0
        wait_reconciled(api, open_n, timeout)
    except Exception:
        daemon.stop()
        raise
    return daemon, time.time() - t0, serving


def idle_footprint(daemon, footprint_s):
    """(RSS MB, VmHWM MB, CPU % of one core) of an idle daemon over footprint_s."""
    time.sleep(5)  # the start-up work settles
    tick = os.sysconf("SC_CLK_TCK")
    c0, w0 = proc_stat(daemon.p.pid), time.time()
    time.sleep(footprint_s)
    c1, w1 = proc_stat(daemon.p.pid), time.time()
    return (proc_status_kb(daemon.p.pid, "VmRSS:") / 1024.0,
            proc_status_kb(daemon.p.pid, "VmHWM:") / 1024.0,
            100.0 * (c1 - c0) / tick / (w1 - w0))


def run_recovery_footprint(orderly, sim, sim_port, open_n, history_n, footprint_s):
    d = tempfile.mkdtemp(prefix="orderly-e2e-")
    d0 = tempfile.mkdtemp(prefix="orderly-e2e-empty-")
    daemon = None
    res = {}
    try:
        # 0. Baseline: the same daemon over an empty store, same simulator (nothing open yet).
        daemon, res["empty_start_s"], _ = start_healthy(orderly, d0, sim_port, 190, 0, 60)
        res["empty_rss_mb"], _, res["empty_cpu_pct"] = idle_footprint(daemon, footprint_s)
        daemon.stop()
        daemon = None
        # 1. Seed: one trade through the daemon's API (its rows are the template), the rest
        #    cloned (see clone_open_trades). Through the API alone 10,000 would take 53 min:
        #    the broker client never exceeds Alpaca's 200 requests/min, whatever the budget says.
        daemon, _, _ = start_healthy(orderly, d, sim_port, 190, 0, 60)
        sim_api = Http(sim_port)
        syms = ["R%02d" % i for i in range(50)]
        set_prices(sim_api, {s: "100" for s in syms})
        t0 = time.time()
        open_trade(Http(daemon_port(daemon)), syms[1], "1")
        db = os.path.join(d, "orderly.db")
        wait_acknowledged(db, 1, 60)
        daemon.stop()
        daemon = None
        clone_open_trades(db, sim_api, syms, open_n)
        res["seed_s"] = time.time() - t0
        # 2. History straight into the file while the daemon is down.
        add_history(db, history_n)
        # 3. Restart with the default budget and an empty REST window (see the module comment):
        #    time to reconciled and serving.
        res["window_cleared_calls"] = clear_rate_window(db)
        if sim.p.poll() is not None:
            raise RuntimeError("orderly sim exited (%s) while seeding" % sim.p.returncode)
        daemon, res["recovery_s"], res["serving_s"] = start_healthy(orderly, d, sim_port, 190,
                                                                   open_n, 120)
        res["recovery_hwm_mb"] = proc_status_kb(daemon.p.pid, "VmHWM:") / 1024.0
        st, h = Http(daemon_port(daemon)).call("GET", "/healthz")
        res["recovery_rest_calls"] = h.get("rest_calls_last_minute") if st == 200 else None
        # 4. Idle footprint, stream healthy, open_n open orders.
        res["rss_mb"], res["hwm_mb"], res["cpu_pct"] = idle_footprint(daemon, footprint_s)
        st, h = Http(daemon_port(daemon)).call("GET", "/healthz")
        if st != 200 or not h.get("stream_connected") or h.get("open_orders", 0) < open_n:
            raise RuntimeError("daemon not healthy after the footprint sample: %r" % (h,))
        res["idle_rest_calls_per_min"] = h.get("rest_calls_last_minute")
        return res
    finally:
        if daemon:
            daemon.stop()
        shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(d0, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--orderly", required=True)
    ap.add_argument("--quick", action="store_true", help="fewer samples, smaller recovery")
    ap.add_argument("--skip-recovery", action="store_true")
    ap.add_argument("--skip-slow-broker", action="store_true")
    ap.add_argument("--only", choices=["slow-broker"], default=None,
                    help="run one group of figures")
    ap.add_argument("--stream-samples", type=int, default=None,
                    help="fills timed through the stream (default 200, --quick 30)")
    a = ap.parse_args()
    try:
        check_fresh(a.orderly)
    except (RuntimeError, OSError) as e:
        print("e2e_bench: %s" % e, file=sys.stderr)
        return 1
    if a.only == "slow-broker":
        slow_broker_figures(a.orderly)
        return 0
    sim, sim_port = start_sim(a.orderly)
    rc = 0
    try:
        rtt = ws_rtt(sim_port, 2000)
        emit("ws_loopback_rtt_p50", pct(rtt, 50), "ms")
        emit("ws_loopback_rtt_p99", pct(rtt, 99), "ms")
        floor99 = pct(rtt, 99)

        # A fresh simulator per run: each run's daemon sees only its own orders.
        sim.stop()
        sim, sim_port = start_sim(a.orderly)
        n = a.stream_samples or (30 if a.quick else 200)
        share = {}
        got = run_detection(a.orderly, sim_port, True, n, 0.2, share)
        lat = [v for v, src in got.values()]
        srcs = [src for v, src in got.values()]
        emit("detection_stream_p50", pct(lat, 50), "ms", samples=len(lat),
             via_stream=srcs.count("stream"), baseline_name="ws_loopback_rtt_p50",
             baseline=pct(rtt, 50))
        p99 = pct(lat, 99)
        emit("detection_stream_p99", p99, "ms", samples=len(lat), baseline_name="ws_loopback_rtt_p99",
             baseline=floor99, target="< 2", met=p99 is not None and p99 < 2)
        # orderly's share: the stream client handing an event over -> its commit returned (every
        # stream event of that run, the last 1024: acknowledgements, new, fills).
        # The share ends at a commit: its floor is one fsync of this disk, measured right after.
        sync = fsync_times(200)
        emit("fsync_p50", pct(sync, 50), "ms", samples=len(sync))
        emit("fsync_p99", pct(sync, 99), "ms", samples=len(sync))
        emit("stream_orderly_share_p50", share.get("p50"), "ms", events=share.get("count"),
             baseline_name="detection_stream_p50 (the whole path)", baseline=pct(lat, 50),
             fsync_p50=pct(sync, 50))
        emit("stream_orderly_share_p99", share.get("p99"), "ms", events=share.get("count"),
             store_commits=share.get("commits"), fsync_p99=pct(sync, 99),
             baseline_name="detection_stream_p99 (the whole path)", baseline=p99, target="< 1",
             met=share.get("p99") is not None and share["p99"] < 1)

        sim.stop()
        sim, sim_port = start_sim(a.orderly)
        n = 10 if a.quick else 15
        got = run_detection(a.orderly, sim_port, False, n, 1.37)
        lat = [v for v, src in got.values()]
        emit("detection_poll_p50", pct(lat, 50), "ms", samples=len(lat),
             baseline_name="poll interval", baseline=1000)
        p99 = pct(lat, 99)
        emit("detection_poll_p99", p99, "ms", samples=len(lat), baseline_name="poll interval",
             baseline=1000, target="< 1100", met=p99 is not None and p99 < 1100)

        if not a.skip_recovery:
            sim.stop()
            sim, sim_port = start_sim(a.orderly)
            open_n = 1000 if a.quick else 10_000
            hist = 100_000 if a.quick else 1_000_000
            r = run_recovery_footprint(a.orderly, sim, sim_port, open_n, hist,
                                       10 if a.quick else 30)
            emit("e2e_recovery_time", r["recovery_s"], "s", open_orders=open_n,
                 history_orders=hist, target="<= 3", met=r["recovery_s"] <= 3,
                 baseline_name="the same start over an empty store (s)",
                 baseline=r["empty_start_s"], serving_s=r["serving_s"],
                 window_cleared_calls=r["window_cleared_calls"],
                 rest_calls_last_minute=r["recovery_rest_calls"])
            emit("e2e_recovery_peak_rss", r["recovery_hwm_mb"], "MB", open_orders=open_n,
                 history_orders=hist, target="<= 200", met=r["recovery_hwm_mb"] <= 200)
            emit("footprint_rss", r["rss_mb"], "MB", open_orders=open_n, target="<= 150",
                 met=r["rss_mb"] <= 150, peak_mb=r["hwm_mb"],
                 baseline_name="the same daemon over an empty store (MB)",
                 baseline=r["empty_rss_mb"])
            emit("footprint_idle_cpu", r["cpu_pct"], "% of a core", open_orders=open_n,
                 target="<= 2", met=r["cpu_pct"] <= 2, sample_s=10 if a.quick else 30,
                 rest_calls_last_minute=r["idle_rest_calls_per_min"],
                 baseline_name="the same daemon over an empty store (% of a core)",
                 baseline=r["empty_cpu_pct"])
        if not a.skip_slow_broker:
            sim.stop()  # each run starts its own simulator
            slow_broker_figures(a.orderly)
    except Exception as e:  # a failed run still reports what it measured
        print("e2e_bench: %s" % e, file=sys.stderr)
        rc = 1
    finally:
        sim.stop()
    return rc


if __name__ == "__main__":
    sys.exit(main())
