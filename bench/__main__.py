"""`python -m bench [--smoke] [--only NAME] [--out PATH]`: run the figures, print the table, write JSON."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench import ack_latency, card_burst, memory, sql_count, startup, tick
from bench.common import FULL, SMOKE, Result, Sizes
from bench.report import notes, summary, table, write_json
from bench.servers import Lab

LabFigure = Callable[[Lab, Sizes], list[Result]]
# Order matters: start-up leaves an untouched server pair for memory, which must be read before any load.
LAB_FIGURES: dict[str, LabFigure] = {
    startup.GROUP: startup.run,
    memory.GROUP: memory.run,
    ack_latency.GROUP: ack_latency.run,
}
# The tick figures run last: they build large databases in this process, which nothing before should feel.
FIGURES = [sql_count.GROUP, *LAB_FIGURES, card_burst.GROUP, tick.GROUP]
DEFAULT_OUT = Path(__file__).resolve().parent / "results.json"


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks that every figure runs")
    parser.add_argument("--only", choices=FIGURES, help="run one figure")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON output (default {DEFAULT_OUT})")
    return parser.parse_args(argv)


def run(names: list[str], sizes: Sizes) -> list[Result]:
    """Run the named figures in their fixed order; servers are shared through one Lab."""
    results: list[Result] = []
    if sql_count.GROUP in names:
        results += _timed(sql_count.GROUP, lambda: sql_count.run(sizes))
    wanted = [name for name in LAB_FIGURES if name in names]
    if wanted:
        with Lab() as lab:
            for name in wanted:
                results += _timed(name, lambda figure=LAB_FIGURES[name]: figure(lab, sizes))
    if card_burst.GROUP in names:
        results += _timed(card_burst.GROUP, lambda: card_burst.run(sizes))
    if tick.GROUP in names:
        results += _timed(tick.GROUP, lambda: tick.run(sizes))
    return results


def _timed(name: str, figure: Callable[[], list[Result]]) -> list[Result]:
    began = time.perf_counter()
    results = figure()
    print(f"  {name}: {time.perf_counter() - began:.1f} s", file=sys.stderr)
    return results


def main(argv: list[str] | None = None) -> int:
    """Always 0 when the figures ran: budgets are reported, not enforced (tests don't time things)."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    sizes = SMOKE if args.smoke else FULL
    names = [args.only] if args.only else FIGURES
    print(f"running {', '.join(names)}{' (smoke sizes)' if args.smoke else ''}…", file=sys.stderr)
    results = run(names, sizes)
    write_json(args.out, results, smoke=args.smoke)
    print(table(results))
    print()
    print(notes(results))
    print()
    print(summary(results))
    print(f"(written to {args.out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
