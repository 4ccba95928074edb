"""examples/ against a real daemon: the strategy runs to completion over the simulator (scripted
prices), reacting to its fills and refusals, and the day's report adds up the same P&L; the broker
(the simulator) holds nothing afterwards."""

import json
import subprocess
import sys
import unittest
from decimal import Decimal

from support import REPO, Sandbox, broker, orderly_bin


class StrategyTest(unittest.TestCase):
    def test_the_strategy_scales_out_stops_out_and_skips_a_refused_symbol(self):
        with Sandbox(orderly_bin()) as box:
            env = box.env()
            env["PYTHONPATH"] = str(REPO / "clients/python")
            run = subprocess.run([sys.executable, str(REPO / "examples/strategy.py"), "--tick-s", "0.2", "--timeout-s", "90"],
                                 env=env, capture_output=True, text=True, timeout=60)
            out = run.stdout
            self.assertEqual(run.returncode, 0, out + run.stderr + box.logs())
            self.assertIn("STWD: take-profit of the first half filled", out)
            self.assertIn("STWD: take-profit of the second half filled", out)
            self.assertIn("PFE: stopped out of trade", out)
            self.assertRegex(out, r"T: the broker refused our entry order: .*insufficient buying power")

            report = subprocess.run([sys.executable, str(REPO / "examples/daily_report.py"), "--json"],
                                    env=env, capture_output=True, text=True, timeout=30)
            self.assertEqual(report.returncode, 0, report.stderr)
            day = json.loads(report.stdout)
            by_symbol = {}
            for t in day["trades"]:
                by_symbol.setdefault(t["symbol"], []).append(t)
            self.assertEqual({s: [t["state"] for t in ts] for s, ts in by_symbol.items()},
                             {"STWD": ["closed", "closed"], "PFE": ["closed", "closed"], "T": ["failed", "failed"]})
            self.assertTrue(all(Decimal(t["realized_pnl"]) > 0 for t in by_symbol["STWD"]))
            self.assertTrue(all(Decimal(t["realized_pnl"]) < 0 for t in by_symbol["PFE"]))
            self.assertIn(f"realized P&L: {day['realized_pnl']}", out)
            # The broker's side: every position closed, no order left working.
            self.assertEqual(broker(box, "/v2/positions"), [])
            self.assertEqual(broker(box, "/v2/orders?status=open"), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
