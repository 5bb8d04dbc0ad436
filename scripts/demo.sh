#!/usr/bin/env bash
# Set everything up on a fresh machine and run the demo clinic on http://localhost:8080
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv ""
export FRONTDESK_CONFIG="${FRONTDESK_CONFIG:-config.yml}"
echo "==> checking $FRONTDESK_CONFIG"
.venv/bin/frontdesk config check >/dev/null
echo "==> migrating the database"
.venv/bin/frontdesk db upgrade
echo "==> loading the demo clinic"
.venv/bin/frontdesk demo seed
echo "==> training the language model"
.venv/bin/frontdesk nlu train
echo "==> serving on http://localhost:${PORT:-8080} (Ctrl-C to stop)"
echo "    try it in another terminal: .venv/bin/frontdesk chat --as anna"
exec .venv/bin/frontdesk run --port "${PORT:-8080}"
