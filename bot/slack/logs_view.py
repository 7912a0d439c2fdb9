"""A tier's logs as Slack messages: one code block per container, split across thread replies.

Each message stays under `MAX_CHARS` (as the progress message's failure details do), far below
Slack's 40,000-character text limit; a container's lines that do not fit continue in the next
message under the same heading. The lines are escaped for mrkdwn (`&`, `<`, `>`: no mention or
link a log line writes is ever rendered) and a ``` in a line cannot close the code block early.
"""

from __future__ import annotations

from bot.core.ports import PodLog
from bot.slack.blocks import plural
from bot.usecases.logs import LogsAnswer

MAX_CHARS = 3500
MAX_MESSAGES = 20  # a thread of logs, not a flood: beyond it, ask for fewer lines
MAX_EPHEMERAL = 4  # a command's response_url takes 5 answers; the last says what happened
_FENCE = "```"
MIN_PIECE = 400  # a container's lines start a new message rather than fill a sliver of this one


def escape(text: str) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace(_FENCE, "``\u200b`")  # a zero-width space: shown as ```, not a fence


def heading(log: PodLog) -> str:
    what = " (previous container, crashed)" if log.previous else ""
    return f"*{escape(log.pod)}* · `{escape(log.container)}`{what}"


def intro(answer: LogsAnswer, user: str) -> str:
    return (
        f"Logs of *{answer.tier}* ({answer.deployment} on {answer.cluster}, namespace "
        f"`{answer.namespace}`): the last {plural(answer.lines, 'line')} of each container, "
        f"for <@{user}>; secrets scrubbed."
    )


def _take(lines: list[str], room: int) -> tuple[str, list[str]]:
    """As many whole lines as fit in `room` characters (a single longer line is cut), and the rest."""
    taken, used = 0, 0
    while taken < len(lines) and used + len(lines[taken]) <= room:
        used += len(lines[taken])
        taken += 1
    if taken == 0:  # one very long line: what fits now, the rest of it next
        first = lines[0]
        return first[:room], [first[room:], *lines[1:]]
    return "".join(lines[:taken]), lines[taken:]


def messages(answer: LogsAnswer, user: str, *, limit: int = MAX_MESSAGES) -> list[str]:
    """The texts to post, in order; at most `limit`, the last one saying what was left out."""
    out: list[str] = [intro(answer, user)]

    def add(part: str) -> None:
        if out[-1] and len(out[-1]) + 1 + len(part) > MAX_CHARS:
            out.append("")
        out[-1] = f"{out[-1]}\n{part}" if out[-1] else part

    for log in answer.logs:
        head = heading(log)
        if not log.text:
            add(f"{head}: _{escape(log.note) or 'nothing logged yet'}_")
            continue
        lines = escape(log.text if log.text.endswith("\n") else log.text + "\n").splitlines(keepends=True)
        label = head
        while lines:
            overhead = len(label) + 2 * len(_FENCE) + 3  # the newline before, after the label and fence
            room = MAX_CHARS - len(out[-1]) - overhead
            if room < MIN_PIECE:  # too little left here: the next message
                out.append("")
                room = MAX_CHARS - overhead
            piece, lines = _take(lines, room)
            add(f"{label}\n{_FENCE}\n{piece}{_FENCE}")
            label = f"{head} (continued)"
    if len(out) > limit:
        left = out[limit - 1 :]
        cut = sum(p.count("\n") for p in left)
        note = f"… {plural(len(left), 'more message')} (about {cut} lines) not posted: ask for fewer with `--lines N`"
        out = [*out[: limit - 1], note]
    return out


def empty(answer: LogsAnswer) -> str:
    """The answer when there are no lines to post."""
    where = f"`{answer.namespace}` on {answer.cluster}"
    if not answer.logs:
        return f"No pods of *{answer.tier}* ({answer.deployment}) are running in {where}: no logs to post."
    notes = "\n".join(f"• {heading(log)}: {escape(log.note) or 'nothing logged yet'}" for log in answer.logs)
    return f"The pods of *{answer.tier}* ({answer.deployment}) in {where} have logged nothing yet:\n{notes}"[
        :MAX_CHARS
    ]


def posted(answer: LogsAnswer, where: str) -> str:
    pods = ", ".join(answer.pods[:5]) + (f" and {len(answer.pods) - 5} more" if len(answer.pods) > 5 else "")
    return f"Posted {plural(answer.line_count, 'line')} of {answer.tier}'s pods ({pods}) {where}."
