#!/usr/bin/env bash
# Prepare a fresh machine for slotstack: Debian packages the tests use, the .venv with pinned
# dependencies, and the three packages (slotstack, booking, uptime) installed editable.
# Idempotent and quick when nothing changed: a stamp records what was installed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV=.venv
APT_LIST=.ci/apt-packages.txt

missing=()
if [[ -f "$APT_LIST" ]]; then
  while read -r pkg; do
    pkg="${pkg%%#*}"; pkg="${pkg// /}"
    [[ -z "$pkg" ]] && continue
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done < "$APT_LIST"
fi
# npm (for axe-core in tests/app/browser) usually comes with the machine's Node.js; Debian's npm package
# conflicts with a Node.js installed from elsewhere, so it is installed only when there is no npm at all.
if ! command -v npm >/dev/null 2>&1; then missing+=(nodejs npm); fi
if (( ${#missing[@]} )); then
  echo "setup: installing Debian packages: ${missing[*]}"
  if [[ $(id -u) -eq 0 ]]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  echo "setup: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi

editables=(-e .)
for pkg in app monitoring; do
  [[ -f "$pkg/pyproject.toml" ]] && editables+=(-e "./$pkg")
done
stamp_inputs=(requirements/*.txt pyproject.toml)
for pkg in app monitoring; do [[ -f "$pkg/pyproject.toml" ]] && stamp_inputs+=("$pkg/pyproject.toml"); done
want="$(cat "${stamp_inputs[@]}" | sha256sum | cut -d' ' -f1)"
if [[ "$(cat "$VENV/.slotstack-stamp" 2>/dev/null)" != "$want" ]]; then
  echo "setup: installing pinned Python packages into $VENV (log: $VENV/pip.log)"
  if ! { "$VENV/bin/python" -m pip install --disable-pip-version-check -r requirements/dev.txt \
             -c requirements/constraints.txt "${editables[@]}"; } > "$VENV/pip.log" 2>&1; then
    grep -v "^WARNING: Location" "$VENV/pip.log" | tail -30 >&2
    echo "setup: pip install failed; see $VENV/pip.log" >&2
    exit 1
  fi
  echo "$want" > "$VENV/.slotstack-stamp"
fi
