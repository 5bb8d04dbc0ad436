"""The end-to-end message benchmark: messages/s and p50/p99 through the REST channel.

The same as `frontdesk bench e2e` (see bot/bench_e2e.py for the set-ups and what is measured):

    .venv/bin/python bench/e2e.py
    .venv/bin/python bench/e2e.py --json --messages 2000 --conversations 64 \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test \\
        --redis-url redis://127.0.0.1:6379/13

It is a benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "e2e", *sys.argv[1:]]))
