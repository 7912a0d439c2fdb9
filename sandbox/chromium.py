"""The headless Chromium the browser tests and scripts/screenshots.py drive (Debian's, installed by
`make browser`), with the arguments it needs on a machine without internet: no sandbox
(containers), no GPU, and none of the background fetches that would wait on the network."""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
