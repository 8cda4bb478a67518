#!/usr/bin/env bash
# Installs what the build and the tests need on Debian 12, as root: the headers of the C
# libraries the shim links (OpenSSL, zlib, hiredis), the openssl and curl tools, redis-server
# for the backplane tests, Chromium and a font for the browser tests, valgrind for the
# deployment build's start-up profile, and the Python packages (PyJWT is also used by the
# Swift token tests).
# Idempotent, and quick when everything is already there.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

APT_PACKAGES=(libssl-dev openssl zlib1g-dev curl chromium fonts-dejavu-core libhiredis-dev redis-server valgrind)
PYTHON=${PYTHON:-python3}
REQUIREMENTS=Tests/Interop/requirements.txt

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done

if ((${#missing[@]} > 0)); then
    export DEBIAN_FRONTEND=noninteractive
    log=$(mktemp)
    trap 'rm -f "$log"' EXIT
    echo "apt: updating package lists"
    apt-get update -qq >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
    echo "apt: installing ${missing[*]}"
    apt-get install -y -qq "${missing[@]}" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
else
    echo "apt: ${APT_PACKAGES[*]} already installed"
fi

# Mirrors requirements.txt: websockets>=14 (asyncio API), pytest>=8, pyjwt>=2 (the
# token tests verify what PyJWT mints) and prometheus-client (parses /metrics).
if "$PYTHON" - 2>/dev/null <<'PY'
import importlib.metadata as md
def major(name):
    return int(md.version(name).split(".")[0])
def version(name):
    return tuple(int(part) for part in md.version(name).split(".")[:2])
assert major("websockets") >= 14 and major("pytest") >= 8 and major("pyjwt") >= 2
assert version("prometheus-client") >= (0, 20)
PY
then
    echo "pip: requirements of $REQUIREMENTS already satisfied ($PYTHON)"
else
    echo "pip: installing $REQUIREMENTS ($PYTHON)"
    "$PYTHON" -m pip install -q --disable-pip-version-check --root-user-action=ignore -r "$REQUIREMENTS"
fi
