""".env files: a value the SDK writes reads back whole, with our reader and with python-dotenv
(skipped when it is not installed), and a reader that cuts unquoted values at ``#`` gets the
Fireworks ``model#deployment`` id whole too."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from finetune_sdk.config import env_file_values, quote_env_value, setting, write_env_var

VALUES = [
    "sk-plain_key.123",
    "accounts/x/models/m#deployment",
    "accounts/acme/models/coach#accounts/acme/deployments/d1",
    "two words",
    "  leading and trailing  ",
    "a=b=c",
    "it's",
    'say "hi"',
    "it's \"both\"",
    "it's $5 and a \\ too",
    "C:\\Users\\me",
    "double \\\\ backslash",
    "ends with a backslash\\",
    "line one\nline two",
    "tab\there",
    "$HOME stays literal",
    "`backticks`",
    "~/not/expanded",
    "#",
    "'",
    '"',
    "café ☕",
    "",
]


@pytest.fixture
def env(tmp_path: Path) -> Path:
    return tmp_path / ".env"


@pytest.mark.parametrize("value", VALUES)
def test_every_value_reads_back_whole(env, value):
    write_env_var(env, "MODEL", value)
    assert env_file_values(env) == {"MODEL": value}


@pytest.mark.parametrize("value", VALUES)
def test_python_dotenv_reads_what_we_write(env, value):
    dotenv = pytest.importorskip("dotenv")
    write_env_var(env, "OTHER", "x")
    write_env_var(env, "MODEL", value)
    assert dotenv.dotenv_values(env) == {"OTHER": "x", "MODEL": value}


@pytest.mark.parametrize("value", ["it's", "a#b", " x ", "back\\slash", "plain"])
def test_we_read_what_python_dotenv_writes(env, value):
    dotenv = pytest.importorskip("dotenv")
    for mode in ("always", "auto"):
        dotenv.set_key(env, "MODEL", value, quote_mode=mode)
        assert env_file_values(env)["MODEL"] == value, (mode, env.read_text())


def cut_at_hash(text: str) -> dict[str, str]:
    """A reader of the kind that ends an unquoted value at '#' (node's dotenv does), and takes a
    single-quoted one literally."""
    found = {}
    for line in text.splitlines():
        match = re.match(r"\s*(\w+)\s*=\s*(?:'([^']*)'|([^#]*))", line)
        if match:
            found[match.group(1)] = match.group(2) if match.group(2) is not None else \
                match.group(3).strip()
    return found


def test_a_fireworks_deployment_id_is_quoted_so_hash_cutting_readers_keep_it(env):
    model = "accounts/x/models/m#deployment"
    write_env_var(env, "FIREWORKS_MODEL_ID", model)
    assert env.read_text() == f"FIREWORKS_MODEL_ID='{model}'\n"
    assert cut_at_hash(env.read_text()) == {"FIREWORKS_MODEL_ID": model}


def test_plain_values_stay_unquoted(env):
    write_env_var(env, "OPENAI_MODEL", "ft:gpt-4o-mini:org::abc123")
    assert env.read_text() == "OPENAI_MODEL=ft:gpt-4o-mini:org::abc123\n"


def test_quoting_picks_the_simplest_form():
    assert quote_env_value("a b") == "'a b'"
    assert quote_env_value("it's") == '"it\'s"'
    assert quote_env_value("it's \"x\"") == '"it\'s \\"x\\""'
    assert quote_env_value("one\ntwo") == '"one\\ntwo"'  # never a raw line break in the file


def test_rewriting_keeps_every_other_line_and_replaces_each_copy(env):
    env.write_text("# keys\nexport A=1\nMODEL='old\nvalue over two lines'\nB = two  # note\n"
                   "MODEL=again\nC=3", encoding="utf-8")
    write_env_var(env, "MODEL", "new#one")
    assert env.read_text() == ("# keys\nexport A=1\nMODEL='new#one'\nB = two  # note\n"
                               "MODEL='new#one'\nC=3")
    assert env_file_values(env) == {"A": "1", "MODEL": "new#one", "B": "two", "C": "3"}
    write_env_var(env, "D", "4")  # appended on a line of its own
    assert env.read_text().endswith("C=3\nD=4\n")


def test_the_reader_follows_python_dotenv(env):
    env.write_text(
        "PLAIN=a#b\n"            # no whitespace before '#': part of the value
        "COMMENTED=a #b\n"       # whitespace then '#': a comment
        "SINGLE='x \\' y' # c\n"
        'DOUBLE="tab\\there \\"q\\""\r\n'
        "  export SPACED = v  \n"
        "not an assignment\n"
        "EMPTY=\n", encoding="utf-8")
    assert env_file_values(env) == {
        "PLAIN": "a#b", "COMMENTED": "a", "SINGLE": "x ' y", "DOUBLE": 'tab\there "q"',
        "SPACED": "v", "EMPTY": ""}


def test_setting_reads_a_quoted_value_from_the_env_file(env, monkeypatch):
    write_env_var(env, "FIREWORKS_MODEL_ID", "accounts/x/models/m#d")
    monkeypatch.delenv("FIREWORKS_MODEL_ID", raising=False)
    assert setting(None, "FIREWORKS_MODEL_ID", env_file=env) == "accounts/x/models/m#d"
