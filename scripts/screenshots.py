"""The README's day-two screenshots, taken from the sandbox the way a person would get them.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--only home,drift,...]

Starts the sandbox (fake Slack, two simulated clusters, the real bot) with `drift_check: 1m` on
dev-cluster, opens the channel page in Debian's Chromium through Playwright, types slash commands
and clicks buttons, changes a deployed object by hand through the official kubernetes client, and
saves home.png, drift.png, promote.png, logs.png and tables.png; then a second sandbox whose
`prod` has a change window around the current time gives window.png. It prints a few lines of the
bot's `GET /metrics` at the end (the README shows them as text).

Bounded: every wait has a timeout and the whole script an alarm; a step that fails stops the
script with exit code 1, the step's name, the reason, and a full-page screenshot of that moment
(in the temp directory) to look at.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import sys
import tempfile
import time
import traceback
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import kubernetes  # noqa: E402
from playwright.sync_api import (  # noqa: E402
    Browser,
    FloatRect,
    Locator,
    Page,
    ViewportSize,
    expect,
    sync_playwright,
)

from sandbox.chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from sandbox.run import Sandbox  # noqa: E402

VIEWPORT: ViewportSize = {"width": 1100, "height": 800}
SHORT = 20_000  # ms: an answer to a command or a click
DEPLOY = 90_000  # ms: a deploy of a few tiers (simulated rollouts take ~1.5 s a tier)
FAIL = 120_000  # ms: a tier failing (CrashLoopBackOff needs a few restarts)
NOTICE = 150_000  # ms: the scheduled drift check (every minute) posting its notice
WHOLE_SCRIPT = 900  # s: the alarm that ends a stuck run whatever it waits on
METRICS_SHOWN = (
    "appprofile_runs_total",
    "appprofile_run_duration_seconds_count",
    "appprofile_queue_length",
    "appprofile_pending_approvals",
    "appprofile_drifted_deployments",
)
PREVIEWS = ("pr-101", "pr-102", "pr-103", "pr-104", "pr-105")
STEPS = ("home", "promote", "logs", "tables", "drift", "window")

API_NS, API = "counter-app-api-ns", "counter-app-api"
DB_NS = "counter-app-postgres-db-ns"
GENERATED = "counter-app-postgres-db-generated"
HEADLESS = "counter-app-postgres-db-headless"
CRASHY = """name: web-shop
version: 1.0.0
description: a web tier whose image crashes on start (the sandbox's :crash tag)
tiers:
  - name: cache
    type: redis
  - name: web
    type: container
    properties:
      image: ghcr.io/acme/web-shop:crash
      ports: [8080]
      env:
        - {name: REDIS_HOST, value: "{{.spectro.app.$appDeploymentName.cache.REDISMSTR_SVC}}"}
"""


class StepFailed(Exception):
    pass


# -- driving the page -------------------------------------------------------------------------------


def send(page: Page, command: str) -> None:
    box = page.get_by_test_id("composer")
    box.fill(command)
    box.press("Enter")
    expect(box).to_have_value("", timeout=SHORT)


def messages(page: Page, text: str) -> Locator:
    return page.get_by_test_id("timeline").get_by_test_id("message").filter(has_text=text)


def last(page: Page, text: str, timeout: int = SHORT) -> Locator:
    found = messages(page, text)
    expect(found.last).to_be_visible(timeout=timeout)
    return found.last


def as_user(page: Page, user: str) -> None:
    page.get_by_test_id("user-switch").select_option(user)


def confirm(page: Page, question: str) -> None:
    dialog = page.get_by_test_id("confirm")
    expect(dialog).to_contain_text(question, timeout=SHORT)
    dialog.locator("#confirm-ok").click()
    expect(dialog).to_be_hidden(timeout=SHORT)


def shoot(target: Locator | Page, out: Path) -> None:
    target.screenshot(path=str(out), animations="disabled")
    print(
        f"  saved {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out} ({out.stat().st_size // 1024} KiB)"
    )


def to_top(element: Locator) -> None:
    """Scroll `element`'s pane so that it starts at the pane's top."""
    element.evaluate("e => e.scrollIntoView({block: 'start'})")


def shoot_span(page: Page, first: Locator, end: Locator, out: Path, pad: int = 6) -> None:
    """One picture from the top of `first` to the bottom of `end`, two messages of the timeline
    (`end` after `first`), cut to the timeline's pane."""
    to_top(first)
    pane = page.get_by_test_id("timeline").bounding_box()
    a, b = first.bounding_box(), end.bounding_box()
    if a is None or b is None or pane is None:
        raise StepFailed("an element to photograph is not on the page")
    top = max(pane["y"], a["y"] - pad)
    bottom = min(pane["y"] + pane["height"], b["y"] + b["height"] + pad)
    if b["y"] + b["height"] > pane["y"] + pane["height"]:
        raise StepFailed(
            f"{out.name}: the messages are taller than the window ({b['y'] + b['height'] - a['y']:.0f} px)"
        )
    clip: FloatRect = {"x": pane["x"], "y": top, "width": pane["width"], "height": bottom - top}
    page.screenshot(path=str(out), clip=clip, animations="disabled")
    print(
        f"  saved {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out} ({out.stat().st_size // 1024} KiB)"
    )


# -- the steps ---------------------------------------------------------------------------------------


def deploy_counter_app(page: Page) -> None:
    as_user(page, "U0ALICE")
    send(page, "/appprofile deploy counter-app to dev-cluster")
    expect(last(page, "Deploy counter-app 1.0.0 → dev-cluster")).to_contain_text("Succeeded", timeout=DEPLOY)


def step_home_and_promote(page: Page, out: Path) -> None:
    """bob promotes what succeeded on dev-cluster to prod; alice's Home asks her to approve it
    (home.png); she approves there; the card and progress say where it came from (promote.png)."""
    as_user(page, "U0BOB")
    send(page, "/appprofile promote counter-app from dev-cluster to prod")
    card = last(page, "Approval: deploy to prod")
    expect(card).to_contain_text("promotion of counter-app from dev-cluster", timeout=SHORT)
    expect(card).to_contain_text("Waiting for approval: 0 of 1", timeout=SHORT)

    as_user(page, "U0ALICE")
    page.get_by_test_id("tab-home").click()
    home = page.get_by_test_id("home-view")
    expect(home).to_contain_text("Waiting on your approval (1)", timeout=SHORT)
    expect(home).to_contain_text("Cluster dev-cluster", timeout=SHORT)
    expect(home).to_contain_text("Your last runs", timeout=SHORT)
    top = page.locator("header.top").bounding_box()
    end = page.get_by_test_id("home-dm").bounding_box()
    if top is None or end is None:
        raise StepFailed("the Home tab is not on the page")
    clip: FloatRect = {
        "x": 0,
        "y": 0,
        "width": VIEWPORT["width"],
        "height": min(VIEWPORT["height"], end["y"] + end["height"] + 16),
    }
    page.screenshot(path=str(out / "home.png"), clip=clip, animations="disabled")
    print(f"  saved home.png ({(out / 'home.png').stat().st_size // 1024} KiB)")

    home.get_by_role("button", name="Approve").first.click()
    confirm(page, "Approve this")
    expect(page.get_by_test_id("home-dm")).to_contain_text("Approved", timeout=SHORT)

    page.get_by_test_id("tab-channel").click()
    progress = last(page, "Deploy counter-app 1.0.0 → prod")
    expect(progress).to_contain_text("Succeeded", timeout=DEPLOY)
    expect(progress).to_contain_text("promotion of counter-app from dev-cluster")
    card = last(page, "Approval: deploy to prod")
    expect(card).to_contain_text("Approved — deployed", timeout=DEPLOY)
    shoot(progress, out / "promote.png")


def step_logs(page: Page, out: Path) -> None:
    """A profile whose web tier crashes: the failed tier's Logs button posts the pods' logs in
    the run's thread (logs.png: the failed message and the open thread)."""
    as_user(page, "U0ALICE")
    send(page, f"/appprofile create ```\n{CRASHY}```")
    last(page, "Created web-shop")
    send(page, "/appprofile deploy web-shop to dev-cluster")
    failed = last(page, "Deploy web-shop 1.0.0 → dev-cluster")
    expect(failed).to_contain_text("Failed", timeout=FAIL)
    expect(failed).to_contain_text("CrashLoopBackOff")
    logs = failed.get_by_role("button", name="Logs of web")
    expect(logs).to_be_visible(timeout=FAIL)
    logs.click()
    replies = failed.locator("button.replies-link")
    expect(replies).to_be_visible(timeout=SHORT)
    replies.click()
    thread = page.get_by_test_id("thread")
    expect(thread).to_contain_text("Logs of web", timeout=SHORT)
    expect(thread).to_contain_text("simulated crash", timeout=SHORT)
    # Left: the failed run from its header; right: the thread from the logs' first message.
    to_top(failed)
    to_top(thread.get_by_test_id("message").filter(has_text="secrets scrubbed").first)
    start, pane = failed.bounding_box(), page.get_by_test_id("timeline").bounding_box()
    if start is None or pane is None:
        raise StepFailed("the failed run is not on the page")
    top = max(pane["y"], start["y"] - 4)
    clip: FloatRect = {
        "x": 0,
        "y": top,
        "width": VIEWPORT["width"],
        "height": pane["y"] + pane["height"] - top,
    }
    page.screenshot(path=str(out / "logs.png"), clip=clip, animations="disabled")
    print(f"  saved logs.png ({(out / 'logs.png').stat().st_size // 1024} KiB)")
    page.locator("#thread-close").click()


def step_tables(page: Page, out: Path) -> None:
    """`/appprofile audit 60`: a table of 20 rows with a Next button (tables.png)."""
    as_user(page, "U0ALICE")
    for pr in PREVIEWS:
        send(page, f"/appprofile deploy counter-app to dev-cluster as {pr}")
    for pr in PREVIEWS:
        expect(last(page, f"→ dev-cluster as {pr}")).to_contain_text("Succeeded", timeout=DEPLOY)
    send(page, "/appprofile audit 60")
    answer = last(page, "Audit log")
    expect(answer.get_by_test_id("table")).to_be_visible(timeout=SHORT)
    expect(answer.get_by_role("button", name="Next")).to_be_visible(timeout=SHORT)
    # 20 rows are taller than the window: a taller one for this picture, so nothing is cut.
    page.set_viewport_size(ViewportSize(width=VIEWPORT["width"], height=1400))
    try:
        to_top(answer)
        shoot(answer, out / "tables.png")
    finally:
        page.set_viewport_size(VIEWPORT)


def step_drift(page: Page, sandbox: Sandbox, out: Path) -> None:
    """counter-app on dev-cluster changed by hand (as `kubectl edit` / `kubectl delete` would):
    `status` lists the objects, and the scheduled check posts its notice (drift.png)."""
    client = sandbox.sims["dev-cluster"].api_client()
    apps, core = kubernetes.client.AppsV1Api(client), kubernetes.client.CoreV1Api(client)
    apps.patch_namespaced_deployment(API, API_NS, {"spec": {"replicas": 3}})
    core.patch_namespaced_secret(GENERATED, DB_NS, {"stringData": {"password": "typed-by-hand"}})
    core.delete_namespaced_service(HEADLESS, DB_NS)

    as_user(page, "U0ALICE")
    # The scheduled check (drift_check: 1m) announces it in the channel within two minutes.
    notice = last(page, "Drift in counter-app on dev-cluster", timeout=NOTICE)
    expect(notice.get_by_role("button", name="Revert to 1.0.0")).to_be_visible()
    send(page, "/appprofile status counter-app on dev-cluster")
    status = last(page, "no longer hold what was applied")
    expect(status).to_contain_text("Only visible to you")
    expect(status.get_by_role("button", name="Revert to 1.0.0")).to_be_visible()
    expect(status).to_contain_text("spec.replicas")
    shoot_span(page, notice, status, out / "drift.png")

    runs = messages(page, "Deploy counter-app 1.0.0 → dev-cluster as counter-app")
    before = runs.count()
    notice.get_by_role("button", name="Revert to 1.0.0").click()
    confirm(page, "Revert hand edits?")
    expect(runs).to_have_count(before + 1, timeout=SHORT)
    expect(runs.last).to_contain_text("Succeeded", timeout=DEPLOY)
    send(page, "/appprofile status counter-app on dev-cluster")
    expect(last(page, "No drift")).to_contain_text("objects checked", timeout=SHORT)


def window_span(now: dt.datetime) -> str:
    """A weekly deny range around `now` (the README's weekend freeze when it is the weekend)."""
    weekend = {4: now.hour >= 16, 5: True, 6: True, 0: now.hour < 8}
    if weekend.get(now.weekday()):
        return "Fri 16:00 - Mon 08:00"
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    return f"{days[now.weekday()]} {now.hour:02d}:00 - {days[(now.weekday() + 1) % 7]} 08:00"


def step_window(page: Page, out: Path) -> None:
    """A deploy to prod inside its change window is refused with when it opens; with
    `--override-window` it asks for one more approval (window.png)."""
    as_user(page, "U0ALICE")
    send(page, "/appprofile deploy counter-app to prod")
    refused = last(page, "closed by a change window")
    send(page, "/appprofile deploy counter-app to prod --override-window")
    card = last(page, "Approval: deploy to prod")
    expect(card).to_contain_text("--override-window", timeout=SHORT)
    shoot_span(page, refused, card, out / "window.png")


# -- the run -----------------------------------------------------------------------------------------


@contextmanager
def opened(browser: Browser, sandbox: Sandbox) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(SHORT)
    page.goto(sandbox.url, timeout=SHORT)
    expect(page.get_by_test_id("banner")).to_contain_text("Simulated clusters", timeout=SHORT)
    try:
        yield page
    finally:
        context.close()


def run_step(name: str, page: Page, fn: Callable[[], None]) -> None:
    print(f"{name} …", flush=True)
    started = time.monotonic()
    try:
        fn()
    except Exception as exc:
        shot = Path(tempfile.gettempdir(), f"screenshots-failed-{name}.png")
        try:
            page.screenshot(path=str(shot), full_page=True)
            where = f"; the page at that moment: {shot}"
        except Exception:
            where = ""
        traceback.print_exc()
        raise StepFailed(
            f"step `{name}` failed: {type(exc).__name__}: {str(exc).splitlines()[0]}{where}"
        ) from exc
    print(f"  {name} done in {time.monotonic() - started:.0f} s", flush=True)


def metrics(sandbox: Sandbox) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{sandbox.bot_port}/metrics", timeout=10) as resp:
        text: str = resp.read().decode()
    return text


def sandbox_env(tmp: str, name: str) -> dict[str, Any]:
    return {"db": str(Path(tmp, f"{name}.db")), "env": dict(os.environ)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"), help="where the PNGs go")
    parser.add_argument("--only", default=",".join(STEPS), help=f"comma-separated steps of {','.join(STEPS)}")
    args = parser.parse_args()
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    if only - set(STEPS):
        parser.error(f"unknown steps {sorted(only - set(STEPS))}; the steps are {','.join(STEPS)}")
    if not Path(CHROMIUM).exists():
        print(f"error: {CHROMIUM} is missing: run `make browser`", file=sys.stderr)
        return 1
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)

    def on_alarm(signum: int, frame: Any) -> None:
        raise TimeoutError(f"the script took longer than {WHOLE_SCRIPT} s")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(WHOLE_SCRIPT)
    tmp = tempfile.mkdtemp(prefix="appprofile-screenshots-")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                if only & {"home", "promote", "logs", "tables", "drift"}:
                    # drift_check on dev-cluster: the scheduled check posts "Drift in …".
                    day_two = Sandbox(
                        **sandbox_env(tmp, "day-two"), cluster_config={"dev-cluster": {"drift_check": "1m"}}
                    )
                    with day_two, opened(browser, day_two) as page:
                        run_step("deploy", page, lambda: deploy_counter_app(page))
                        if only & {"home", "promote"}:
                            run_step("home+promote", page, lambda: step_home_and_promote(page, out))
                        if "logs" in only:
                            run_step("logs", page, lambda: step_logs(page, out))
                        if "drift" in only:
                            run_step("drift", page, lambda: step_drift(page, day_two, out))
                        if "tables" in only:
                            run_step("tables", page, lambda: step_tables(page, out))
                        text = metrics(day_two)
                        shown = [line for line in text.splitlines() if line.startswith(METRICS_SHOWN)]
                        print("GET /metrics (a few lines):")
                        print("\n".join(shown[:16]) or text[:1500])
                if "window" in only:
                    berlin = dt.datetime.now(ZoneInfo("Europe/Berlin"))
                    span = window_span(berlin)
                    # A third approver: the override needs two approvals, and alice (asking) is not one.
                    approval = {"required": 1, "approvers": ["U0ALICE", "U0BOB", "U0CAROL"]}
                    windows = {"windows": [{"deny": span, "timezone": "Europe/Berlin"}], "approval": approval}
                    print(f"change window on prod: {span} Europe/Berlin")
                    closed = Sandbox(**sandbox_env(tmp, "window"), cluster_config={"prod": windows})
                    with closed, opened(browser, closed) as page:
                        run_step("window", page, lambda: step_window(page, out))
            finally:
                browser.close()
    except (StepFailed, TimeoutError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.alarm(0)
    print(f"screenshots in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
