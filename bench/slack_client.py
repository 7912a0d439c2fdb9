"""Slack's side in a process of its own: signed `/appprofile` commands, each timed to its HTTP response.

`bench.scale` times acks from here, not from the bench process, whose in-process fakes (the fake
Slack answering the bots' Web API calls, the Kubernetes emulator) would otherwise hold the GIL
while a response is being read. Run as `python -m bench.slack_client FAKE_SLACK_BASE`; reads JSON
lines on stdin and answers each with one JSON line:

- `{"port": P, "text": T}` → `{"seconds": s, "status": n, "hook": h}` (one command)
- `{"burst": [[P, T], …]}` → a list of those, the commands sent back to back

Bodies and signatures are `bench.rig.Sender`'s; response_url hooks are numbered across every
port, so no two commands share one.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from bench.rig import Sender


class _Hooks:
    """What `Sender` needs of the fake Slack: its response_url for a hook name."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/").removesuffix("/api")

    def webhook_url(self, name: str) -> str:
        return f"{self.base}/webhook/{name}"


def main(argv: list[str]) -> int:
    sender = Sender(0, _Hooks(argv[0]))  # type: ignore[arg-type]  # only webhook_url is used

    def one(port: int, text: str) -> dict[str, Any]:
        sender.port = port
        seconds, status, hook = sender.command(text)
        return {"seconds": seconds, "status": status, "hook": hook}

    for line in sys.stdin:
        asked = json.loads(line)
        if "burst" in asked:
            answer: Any = [one(int(p), str(t)) for p, t in asked["burst"]]
        else:
            answer = one(int(asked["port"]), str(asked["text"]))
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
