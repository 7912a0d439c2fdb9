"""`python -m sandbox [--port N] [--db FILE]`: the local sandbox (`make run` without a Slack token)."""

from __future__ import annotations

import argparse
import os

from sandbox import run


def main() -> int:
    p = argparse.ArgumentParser(
        prog="python -m sandbox",
        description="try the bot locally: a channel page, a fake Slack, simulated clusters",
    )
    p.add_argument("--port", type=int, default=0, help="port of the channel page (default: any free one)")
    p.add_argument(
        "--db", default=run.DEFAULT_DB, help=f"SQLite file of the sandbox (default {run.DEFAULT_DB})"
    )
    args = p.parse_args()
    # The sandbox is a development tool: it may read the environment it was started from.
    return run.main(
        port=args.port, db=args.db, kubeconfig=os.environ.get("KUBECONFIG") or None, env=os.environ
    )


if __name__ == "__main__":
    raise SystemExit(main())
