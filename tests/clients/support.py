"""Shared by the tests under tests/clients: paths, the orderly binary, a sandbox (examples/with_sim.py:
`orderly sim` + `orderly run` on free loopback ports) and the simulator's own view (the broker's side)."""

import json
import os
import sys
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "clients/python"))
sys.path.insert(0, str(REPO / "examples"))

from with_sim import Sandbox, find_orderly  # noqa: E402


def orderly_bin() -> str:
    return find_orderly(os.environ.get("ORDERLY_BIN"))


def broker(box: Sandbox, path: str):
    """GET from the simulator's Alpaca API (it accepts any key pair when started without --key)."""
    req = urllib.request.Request(box.sim_url + path, headers={"APCA-API-KEY-ID": "PKSANDBOXKEY",
                                                              "APCA-API-SECRET-KEY": "SANDBOXSECRET"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.load(r)
