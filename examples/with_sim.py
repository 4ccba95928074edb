#!/usr/bin/env python3
"""Runs a command against a throw-away orderly: `orderly sim` (the Alpaca-compatible simulator)
and `orderly run` (the daemon) on free loopback ports, with ORDERLY_API, ORDERLY_TOKEN and
ORDERLY_SIM (the simulator's URL, for /sim/prices) exported to the command; stops both after.

    examples/with_sim.py -- python3 examples/strategy.py
    examples/with_sim.py --keep-logs /tmp/logs -- python3 examples/daily_report.py

The orderly binary: --orderly PATH, else $ORDERLY_BIN, else build/src/app/orderly of this
checkout, else `orderly` on PATH. Also importable: `with Sandbox(binary) as s: ...`.
"""

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional

REPO = Path(__file__).resolve().parent.parent


def find_orderly(explicit: Optional[str] = None) -> str:
    for candidate in (explicit, os.environ.get("ORDERLY_BIN"), str(REPO / "build/src/app/orderly")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("orderly")
    if found:
        return found
    sys.exit("with_sim: no orderly binary (build it with `make`, or pass --orderly PATH)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sandbox:
    """`orderly sim` + `orderly run` in a temporary directory; a context manager."""

    def __init__(self, binary: str, keep_logs: Optional[str] = None, sim_args: Optional[List[str]] = None):
        self.binary = binary
        self.keep_logs = keep_logs
        self.sim_args = sim_args or []
        self.token = "sandbox-" + secrets.token_hex(12)
        self.dir = Path(tempfile.mkdtemp(prefix="orderly-sandbox-"))
        self.sim_port = free_port()
        self.api_port = free_port()
        self.procs: List[subprocess.Popen] = []

    @property
    def api(self) -> str:
        return f"127.0.0.1:{self.api_port}"

    @property
    def sim_url(self) -> str:
        return f"http://127.0.0.1:{self.sim_port}"

    def env(self) -> Dict[str, str]:
        env = dict(os.environ)
        env.update(ORDERLY_API=self.api, ORDERLY_TOKEN=self.token, ORDERLY_SIM=self.sim_url)
        return env

    def _start(self, name: str, args: List[str]) -> None:
        with open(self.dir / f"{name}.log", "wb") as log:  # the child keeps its own descriptor
            self.procs.append(subprocess.Popen([self.binary] + args, stdout=log, stderr=subprocess.STDOUT,
                                               stdin=subprocess.DEVNULL))

    def __enter__(self) -> "Sandbox":
        config = self.dir / "orderly.toml"
        config.write_text(
            f'[broker]\nbase_url = "{self.sim_url}"\nkey_id = "PKSANDBOXKEY"\nsecret_key = "SANDBOXSECRET"\n'
            f'[store]\nurl = "sqlite:{self.dir / "orderly.db"}"\n'
            f'[api]\nlisten = "{self.api}"\ntoken = "{self.token}"\n'
            "[sync]\npoll_interval_ms = 200\nidle_poll_interval_ms = 500\n")
        try:
            self._start("sim", ["sim", "--listen", f"127.0.0.1:{self.sim_port}"] + self.sim_args)
            self._start("run", ["run", "--config", str(config)])
            self._wait_ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_ready(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for p in self.procs:
                if p.poll() is not None:
                    raise RuntimeError(f"{p.args[1]} exited with {p.returncode}:\n{self.logs()}")
            try:
                req = urllib.request.Request(f"http://{self.api}/healthz",
                                             headers={"Authorization": f"Bearer {self.token}"})
                with urllib.request.urlopen(req, timeout=2) as r:
                    if json.load(r).get("broker_ok"):
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"orderly did not become ready in {timeout_s} s:\n{self.logs()}")

    def set_prices(self, prices: Dict[str, str]) -> None:
        """POST /sim/prices: last prices (decimal strings); resting orders match at once."""
        req = urllib.request.Request(f"{self.sim_url}/sim/prices", data=json.dumps(prices).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        urllib.request.urlopen(req, timeout=5).read()

    def logs(self) -> str:
        out = []
        for name in ("sim", "run"):
            path = self.dir / f"{name}.log"
            if path.exists():
                out.append(f"--- {name}.log (last lines)\n" + "\n".join(path.read_text(errors="replace").splitlines()[-40:]))
        return "\n".join(out)

    def stop(self) -> List[int]:
        """SIGTERM to the daemon, then the simulator; their exit codes."""
        codes = []
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            codes.append(p.returncode)
        self.procs = []
        return codes

    def __exit__(self, *exc) -> None:
        self.stop()
        if self.keep_logs:
            Path(self.keep_logs).mkdir(parents=True, exist_ok=True)
            for name in ("sim.log", "run.log"):
                if (self.dir / name).exists():
                    shutil.copy(self.dir / name, Path(self.keep_logs) / name)
        shutil.rmtree(self.dir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orderly", help="the orderly binary")
    parser.add_argument("--keep-logs", metavar="DIR", help="copy sim.log and run.log here")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ARGS...")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    with Sandbox(find_orderly(args.orderly), args.keep_logs) as box:
        print(f"with_sim: orderly at {box.api}, simulator at {box.sim_url}", file=sys.stderr)
        env = box.env()
        # The client from this checkout, whether or not it is pip-installed.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "clients/python"), env.get("PYTHONPATH")]))
        code = subprocess.call(command, env=env)
        if code != 0:
            print(box.logs(), file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
