"""The dispatch layer's benchmark: claims/s and offer latency against raw Redis round trips.

The same as `frontdesk bench queue` (see bot/bench_queue.py for what each figure means); it reads
config.yml (or $FRONTDESK_CONFIG) for the database and Redis unless they are given:

    .venv/bin/python bench/queue_dispatch.py
    .venv/bin/python bench/queue_dispatch.py --json --redis-url redis://127.0.0.1:6379/12 \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test

It is a benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "queue", *sys.argv[1:]]))
