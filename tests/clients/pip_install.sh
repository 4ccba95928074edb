#!/usr/bin/env bash
# `pip install clients/python` works offline: a fresh venv that sees Debian's setuptools
# (--system-site-packages), no index, no build isolation (which would fetch setuptools from PyPI).
# The venv gets no pip of its own (ensurepip is slow); Debian's pip installs into it (--python).
# Usage: pip_install.sh PYTHON3 PACKAGE_DIR VENV_DIR
set -euo pipefail
python=$1 package=$2 venv=$3
rm -rf "$venv"
mkdir -p "$venv"
# setuptools writes build/ and *.egg-info next to the sources: build from a copy.
cp -r "$package" "$venv/src"
"$python" -m venv --without-pip --system-site-packages "$venv/env"
PIP_DISABLE_PIP_VERSION_CHECK=1 "$python" -m pip --python "$venv/env/bin/python" install --quiet \
  --no-index --no-build-isolation "$venv/src"
# Imported from the venv's site-packages, not from the source tree.
cd /
"$venv/env/bin/python" - <<'PY'
import orderly_client, sys
assert "site-packages" in orderly_client.__file__, orderly_client.__file__
from orderly_client import Client, Trade
print("installed", orderly_client.__version__, "at", orderly_client.__file__)
PY
rm -rf "$venv"
