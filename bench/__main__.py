"""``python -m bench NAME [options]``: run one benchmark and record it in bench/results/."""

from __future__ import annotations

import sys

BENCHMARKS = {
    "ingest": "bench.ingest",
    "features": "bench.features",
    "value": "bench.value",
    "recommend": "bench.recommend",
    "corruption": "bench.corruption",
    "text": "bench.text",
    "api": "bench.api",
    "build": "bench.build",
}


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in BENCHMARKS:
        print(f"usage: python -m bench {{{','.join(BENCHMARKS)}}} [options]", file=sys.stderr)
        return 2
    import importlib

    module = importlib.import_module(BENCHMARKS[sys.argv[1]])
    return module.main(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
