"""deploy/: the systemd unit passes `systemd-analyze verify` without a warning and keeps a low
exposure score; the Prometheus rules pass `promtool check rules` and their unit tests; the Grafana
dashboard is JSON whose queries use only metrics orderly exports."""

import json
import re
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

from support import REPO, orderly_bin

DEPLOY = REPO / "deploy"


def exported_metrics():
    """Every orderly_* name the sources print, with a histogram's _bucket/_sum/_count."""
    names = set()
    for path in (REPO / "src").rglob("*.cc"):
        names |= set(re.findall(r"\b(orderly_[a-z_]+)\b", path.read_text(errors="replace")))
    for n in list(names):
        names |= {n + "_bucket", n + "_sum", n + "_count"}
    return names


def used_metrics(expr: str):
    return set(re.findall(r"\b(orderly_[a-z_]+)\b", expr))


class SystemdUnitTest(unittest.TestCase):
    def setUp(self):
        if shutil.which("systemd-analyze") is None:
            self.skipTest("systemd-analyze is not installed (Debian package systemd)")
        self.dir = Path(tempfile.mkdtemp(prefix="orderly-unit-"))
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        # verify checks that ExecStart's binary exists: point it at this build's.
        text = (DEPLOY / "orderly.service").read_text().replace("/usr/local/bin/orderly", orderly_bin())
        self.unit = self.dir / "orderly.service"
        self.unit.write_text(text)

    def test_verify_is_silent(self):
        r = subprocess.run(["systemd-analyze", "verify", str(self.unit)], capture_output=True, text=True)
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))

    def test_a_broken_unit_is_caught(self):  # the check above can fail
        self.unit.write_text(self.unit.read_text().replace("Restart=on-failure", "Restart=sometimes"))
        r = subprocess.run(["systemd-analyze", "verify", str(self.unit)], capture_output=True, text=True)
        self.assertIn("sometimes", r.stderr)

    def test_the_service_is_hardened(self):
        r = subprocess.run(["systemd-analyze", "security", "--offline=true", str(self.unit)],
                           capture_output=True, text=True)
        score = re.search(r"Overall exposure level for orderly.service: ([0-9.]+)", r.stdout + r.stderr)
        self.assertIsNotNone(score, r.stdout + r.stderr)
        self.assertLessEqual(float(score.group(1)), 2.0, r.stdout)
        text = self.unit.read_text()
        for line in ("User=orderly", "StateDirectory=orderly", "Restart=on-failure", "NoNewPrivileges=yes"):
            self.assertIn(line + "\n", text)


class PrometheusRulesTest(unittest.TestCase):
    rules = DEPLOY / "prometheus/orderly-rules.yml"

    def setUp(self):
        if shutil.which("promtool") is None:
            self.skipTest("promtool is not installed (Debian package prometheus)")

    def test_rules_check(self):
        r = subprocess.run(["promtool", "check", "rules", str(self.rules)], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_rules_fire_when_they_should(self):
        r = subprocess.run(["promtool", "test", "rules", "orderly-rules.test.yml"], capture_output=True,
                           text=True, cwd=self.rules.parent)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_rules_use_only_exported_metrics(self):
        exprs = re.findall(r"^\s*expr:\s*(.+)$", self.rules.read_text(), re.M)
        self.assertGreater(len(exprs), 5)
        unknown = set().union(*(used_metrics(e) for e in exprs)) - exported_metrics()
        self.assertEqual(unknown, set())


class GrafanaDashboardTest(unittest.TestCase):
    def test_dashboard_queries_use_only_exported_metrics(self):
        dash = json.loads((DEPLOY / "grafana/orderly.json").read_text())
        exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
        self.assertGreater(len(exprs), 10)
        used = set().union(*(used_metrics(e) for e in exprs))
        self.assertEqual(used - exported_metrics(), set())
        self.assertEqual(len({p["id"] for p in dash["panels"]}), len(dash["panels"]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
