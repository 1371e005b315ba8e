#!/usr/bin/env bash
# Run the pinned AWS SAM CLI (requirements-sam.txt) from its own virtual environment, .venv-sam,
# created on first use and refreshed when the lock changes. Usage: tools/sam.sh <sam arguments>.
#
# - SAM_VENV overrides where the environment lives (default: <repo>/.venv-sam).
# - Telemetry and the weekly "new version" check are switched off: the CLI runs with its own
#   config directory inside the venv, and sends nothing anywhere.
# - `sam build` looks for the runtime's interpreter (python3.13) on PATH: the directory of the
#   interpreter tools/find-python picks is put first on PATH.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${SAM_VENV:-$root/.venv-sam}"
lock="$root/requirements-sam.txt"
stamp="$venv/.installed"
python="$("$root/tools/find-python")"

install() {
  if [ -f "$stamp" ] && cmp -s "$lock" "$stamp"; then return 0; fi
  echo "tools/sam.sh: installing the pinned AWS SAM CLI into $venv (first use, about a minute)" >&2
  test -x "$venv/bin/python" || "$python" -m venv "$venv"
  if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$lock" >"$venv/.install.log" 2>&1; then
    cat "$venv/.install.log" >&2
    echo "tools/sam.sh: installing requirements-sam.txt failed" >&2
    exit 1
  fi
  cp "$lock" "$stamp"
}

mkdir -p "$venv"
if command -v flock >/dev/null 2>&1; then
  # Two test processes starting at once must not both install into the same venv.
  exec 9>"$venv/.install.lock"
  flock 9
  install
  flock -u 9
  exec 9>&-
else
  install
fi

config="$venv/sam-config"
mkdir -p "$config"
if [ ! -f "$config/metadata.json" ]; then
  # lastVersionCheck in 2100: the CLI never asks for a newer version of itself.
  printf '{"telemetryEnabled": false, "lastVersionCheck": 4102444800.0}\n' >"$config/metadata.json"
fi
export SAM_CLI_TELEMETRY=0
export __SAM_CLI_APP_DIR="$config"
export __SAM_CLI_TELEMETRY_ENDPOINT_URL=""
export PATH="$(dirname "$python"):$venv/bin:$PATH"

exec "$venv/bin/sam" "$@"
