#!/usr/bin/env bash
# Re-resolve the locks from the direct dependencies (requirements-*.in) in throwaway venvs:
#   layers/deps/requirements.txt  runtime (the Lambda layer and what the tests run)
#   requirements-dev.txt          dev and test tools, on top of the runtime lock
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(tools/find-python)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
freeze() {  # venv-dir requirement-files...
  "$python" -m venv "$1"
  "$1/bin/pip" install --quiet --disable-pip-version-check "${@:2}"
  "$1/bin/pip" freeze --all --exclude pip --exclude setuptools | LC_ALL=C sort -f
}
# python-jose declares ecdsa, rsa and pyasn1, which its cryptography backend never imports: the
# layer leaves them out (layers/deps/Makefile installs with --no-deps); the dev lock pins them.
jose_unused='^(ecdsa|rsa|pyasn1)=='
{
  grep -m 6 '^#' layers/deps/requirements.txt
  freeze "$work/runtime" -r requirements-runtime.in | grep -viE "$jose_unused"
} > "$work/runtime.txt"
freeze "$work/dev" -r "$work/runtime.txt" -r requirements-dev.in > "$work/dev-all.txt"
# awslambdaric (and what only it pulls in) ships Linux wheels only: keep its marker in the lock,
# so other systems skip it. Run `make lock` on Linux, or these pins disappear.
linux_only='^(awslambdaric|simplejson|snapshot-restore-py)=='
{
  grep '^#' requirements-dev.txt | head -n 4
  echo "-r layers/deps/requirements.txt"
  grep -vxiFf <(grep -v '^#' "$work/runtime.txt") "$work/dev-all.txt" |
    sed -E "/$linux_only/I s/\$/ ; sys_platform == \"linux\"/"
} > "$work/dev.txt"
mv "$work/runtime.txt" layers/deps/requirements.txt
mv "$work/dev.txt" requirements-dev.txt
echo "locks updated: layers/deps/requirements.txt requirements-dev.txt"
