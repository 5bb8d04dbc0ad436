#!/usr/bin/env bash
# Set up and run the whole test suite: lint, types, architecture contracts, then pytest.
# PostgreSQL and Redis tests read DATABASE_URL / REDIS_URL (local standard ports by default);
# they skip when the services are down, except with CI=true, where they must run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv "[test,dense]"

if [ "${CI:-}" = "true" ]; then
  export FRONTDESK_REQUIRE_SERVICES=1
  if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null && command -v pg_ctlcluster >/dev/null; then
    echo "==> starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  fi
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && command -v redis-server >/dev/null; then
    echo "==> starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  fi
fi

echo "==> ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "==> mypy"
.venv/bin/mypy
echo "==> import contracts"
.venv/bin/lint-imports
# Install a Debian package the tests need (as root, or with passwordless sudo), or say how to.
install_debian() {
  local package="$1" why="$2"
  echo "==> installing Debian's ${package} ${why}"
  if [ "$(id -u)" = "0" ]; then
    apt-get install -y "$package" || { apt-get update && apt-get install -y "$package"; }
  elif sudo -n true 2>/dev/null; then
    sudo -n apt-get install -y "$package" || { sudo -n apt-get update && sudo -n apt-get install -y "$package"; }
  else
    echo "error: ${package} is missing and it cannot be installed here (not root, no" >&2
    echo "passwordless sudo). Install it with: sudo apt-get install ${package}" >&2
    exit 1
  fi
}

# The browser tests (tests/e2e) drive Debian's Chromium; Playwright never downloads one.
if [ ! -x /usr/bin/chromium ]; then
  install_debian chromium "for the browser tests"
fi
# tests/integration/test_several_instances.py runs Debian's nginx on loopback (deploy/nginx).
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  install_debian nginx "for the several-instances test"
fi

echo "==> pytest"
.venv/bin/python -m pytest -q "$@"
