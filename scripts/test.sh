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
if [ ! -x /usr/bin/chromium ]; then
  # The browser tests (tests/e2e) drive Debian's Chromium; Playwright never downloads one.
  echo "==> installing Debian's chromium for the browser tests"
  if [ "$(id -u)" = "0" ]; then
    apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }
  elif sudo -n true 2>/dev/null; then
    sudo -n apt-get install -y chromium || { sudo -n apt-get update && sudo -n apt-get install -y chromium; }
  else
    echo "error: /usr/bin/chromium is missing and it cannot be installed here (not root, no" >&2
    echo "passwordless sudo). Install it with: sudo apt-get install chromium" >&2
    exit 1
  fi
fi

if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  # tests/integration/test_several_instances.py runs Debian's nginx on loopback (deploy/nginx).
  echo "==> installing Debian's nginx for the several-instances test"
  if [ "$(id -u)" = "0" ]; then
    apt-get install -y nginx || { apt-get update && apt-get install -y nginx; }
  elif sudo -n true 2>/dev/null; then
    sudo -n apt-get install -y nginx || { sudo -n apt-get update && sudo -n apt-get install -y nginx; }
  else
    echo "error: nginx is missing and it cannot be installed here (not root, no passwordless" >&2
    echo "sudo). Install it with: sudo apt-get install nginx" >&2
    exit 1
  fi
fi

echo "==> pytest"
.venv/bin/python -m pytest -q "$@"
