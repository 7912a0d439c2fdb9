"""Any text either parses into a Command or raises a UserError; nothing else escapes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from bot.core import commands
from bot.core.errors import UserError

_COMMAND = TypeAdapter(commands.Command)

_pieces = st.sampled_from(
    [
        *commands.SUBCOMMANDS,
        "to",
        "as",
        "--set",
        "--from",
        "--version",
        "--purge",
        "--profile",
        "--cluster",
        "--",
        "app",
        "app@v2",
        "@",
        "@@",
        "v2",
        "2.0",
        "1.0.0",
        "api.image=x",
        'api.image="a b"',
        "<@U123|bob>",
        "<#C123|general>",
        "<https://x|x>",
        "<!here>",
        "<>",
        "<|>",
        "&amp;",
        "&lt;",
        "&gt;",
        "\u201c",
        "\u201d",
        "\u2018",
        "\u2019",
        '"',
        "'",
        "\\",
        "\u00a0",
        "\u2003",
        "\n",
        "\t",
        "```",
        "```yaml\n",
        "{",
        "}",
        ": ",
        "- ",
        "#",
    ]
)
_texts = st.one_of(
    st.text(max_size=80),
    st.lists(st.one_of(_pieces, st.text(max_size=6)), max_size=12).map(" ".join),
    st.lists(st.one_of(_pieces, st.text(max_size=6)), max_size=12).map("".join),
)


@settings(max_examples=200, deadline=None)
@given(_texts)
def test_any_text_parses_or_is_a_user_error(text: str) -> None:
    try:
        cmd = commands.parse(text)
    except UserError as exc:
        error: UserError | None = exc
    else:
        error = None
    if error is not None:
        assert error.message
        assert error.hint
        return
    # What comes out is a valid Command that round-trips through its own schema.
    assert _COMMAND.validate_python(cmd.model_dump()) == cmd


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["v2", "2", "2.0", "2.0.0", "V2", "02.0"]))
def test_version_shorthands_mean_the_same_version(shorthand: str) -> None:
    assert commands.parse(f"show app@{shorthand}") == commands.Show(name="app", version="2.0.0")
