"""`make bench` / `python -m bench [NAME …]`: every figure is ours against the real alternative,
measured side by side in the same run, with its goal (issue 11 item 8). Nothing here is asserted
in tests: timings depend on the machine, ratios much less.

- ack:          `/appprofile list` ack latency with 1,000 profiles vs a bare Bolt app (p50, p99)
- plan:         planning 50 tiers / 500 macros vs `helm template` of the same objects
- requests:     Kubernetes API requests per deploy vs the minimum the deploy needs
- slack_calls:  Slack Web API calls per deploy of 3 and 10 tiers vs 1 post + 1 update per second;
                views.publish per deploy with 20 App Homes open vs republishing each on every event
- store:        list/show/versions with 10,000 profiles × 10 versions vs raw sqlite3
- scale:        deployments/status/audit over 10,000 deployments and 100,000 audit rows vs raw SQL
                (SQLite and PostgreSQL); ack of 50 concurrent deploys over 2 replicas vs idle `list`
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import platform
import sys
import time
import traceback

from bench.common import Figure, show, table

FIGURES = ("ack", "plan", "requests", "slack_calls", "store", "scale")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"one or more of: {', '.join(FIGURES)}")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in FIGURES]
    if unknown:
        parser.error(f"unknown figure {', '.join(unknown)}; choose from {', '.join(FIGURES)}")
    names = args.names or list(FIGURES)
    # The bot's own log (INFO lines, a warning per expected retry) would bury the figures.
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    print(__doc__.strip().splitlines()[0].rstrip(",") + " …")
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs\n")
    figures: list[Figure] = []
    failed: list[str] = []
    begun = time.monotonic()
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        print(f"[{name}] {(module.__doc__ or '').strip().splitlines()[0]}")
        start = time.monotonic()
        try:
            found = module.run()
        except Exception as exc:  # one figure that cannot be measured must not hide the others
            traceback.print_exc()
            failed.append(name)
            found = [Figure(name, None, None, "", 0, note=f"not measured: {type(exc).__name__}: {exc}")]
        for fig in found:
            show(fig)
        figures.extend(found)
        print(f"  ({time.monotonic() - start:.1f} s)\n", flush=True)
    print(f"Summary ({time.monotonic() - begun:.0f} s; ratio = ours / baseline, PASS when ≤ goal)")
    print(table(figures))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
