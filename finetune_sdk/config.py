"""Settings and credentials: explicit argument, then environment, then an optional .env file.

Secrets are held as ``pydantic.SecretStr`` so ``repr()`` shows ``**********``.

``.env`` files are read and written in python-dotenv's dialect. Unquoted, many readers cut a
value at ``#`` (a Fireworks ``accounts/a/models/m#deployment``) or at a space, so only plain
values stay unquoted; the rest are single-quoted, which every dotenv reader and ``source .env``
take literally. What single quotes cannot hold (a ``'``, a line break, a doubled or trailing
backslash) goes in double quotes, with escapes in python-dotenv's form only where needed.
python-dotenv still expands ``${NAME}`` inside any value unless read with ``interpolate=False``.
"""

from __future__ import annotations

import codecs
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

from pydantic import SecretStr

from .errors import ConfigurationError

__all__ = ["env_file_values", "home_dir", "quote_env_value", "resolve_secret", "setting",
           "write_env_var"]


def home_dir() -> Path:
    """``FINETUNE_SDK_HOME`` or ``~/.finetune_sdk``: ledger, local jobs, fake-provider state."""
    root = os.environ.get("FINETUNE_SDK_HOME") or Path.home() / ".finetune_sdk"
    path = Path(root).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ConfigurationError(
            f"FINETUNE_SDK_HOME {str(path)!r} is a file (or under one), not a folder; point it"
            " at a folder for the ledger and job state") from None
    return path


# One assignment, as python-dotenv parses it: a quoted value may span lines; an unquoted one
# ends at the line's end, less a comment that follows whitespace ("a#b" keeps its "#").
_ASSIGNMENT = re.compile(
    r"""[ \t]*(?:export[ \t]+)?(?P<key>[^=\#\s]+)[ \t]*=[ \t]*"""
    r"""(?:'(?P<single>(?:\\'|[^'])*)'|"(?P<double>(?:\\"|[^"])*)"|(?P<bare>[^\r\n]*))"""
    r"""[^\r\n]*(?:\r?\n|\r|$)""")
_SINGLE_ESCAPES = re.compile(r"\\[\\']")
_DOUBLE_ESCAPES = re.compile(r"""\\[\\'"abfnrtv]""")
# Unquoted, these read the same in every dotenv reader and in a shell (no #, space, quote, =,
# $, backslash, backtick, or ~, which bash expands after = and :).
_PLAIN = re.compile(r"[\w./:@%+,^-]*")


def _assignments(text: str) -> Iterator[tuple[str, str, int, int]]:
    """(key, value, start, end) of every assignment; other lines (comments, junk) skipped."""
    pos = 0
    while pos < len(text):
        match = _ASSIGNMENT.match(text, pos)
        if match is None:
            newline = text.find("\n", pos)
            pos = len(text) if newline < 0 else newline + 1
            continue
        if match.group("single") is not None:
            value = _SINGLE_ESCAPES.sub(lambda m: m.group(0)[1], match.group("single"))
        elif match.group("double") is not None:
            value = _DOUBLE_ESCAPES.sub(lambda m: codecs.decode(m.group(0), "unicode-escape"),
                                        match.group("double"))
        else:
            value = re.sub(r"\s+#.*", "", match.group("bare")).rstrip()
        yield match.group("key"), value, match.start(), match.end()
        pos = max(match.end(), pos + 1)


def quote_env_value(value: str) -> str:
    """``value`` as a .env file holds it: unquoted when plain, else in single quotes, else in
    double quotes, escaped only where it must be (see the module docstring)."""
    if _PLAIN.fullmatch(value):
        return value
    # python-dotenv undoes \\ and \' even in single quotes; a lone backslash (C:\dir) is safe.
    if not any(c in value for c in "'\n\r") and "\\\\" not in value and value[-1:] != "\\":
        return f"'{value}'"
    if not any(c in value for c in '"\\$`\n\r'):
        return f'"{value}"'
    escaped = (value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
               .replace("\r", "\\r"))
    return f'"{escaped}"'


def env_file_values(path: str | Path | None = None) -> dict[str, str]:
    """KEY=VALUE pairs of a .env file (``FINETUNE_SDK_ENV_FILE``, else ./.env); {} if absent.

    Quotes and escapes are undone as python-dotenv does; ``${VAR}`` is left as it is."""
    candidate = Path(path or os.environ.get("FINETUNE_SDK_ENV_FILE") or ".env")
    if not candidate.is_file():
        return {}
    text = candidate.read_text(encoding="utf-8", errors="replace")
    return {key: value for key, value, _, _ in _assignments(text)}


def setting(explicit: str | None, *env_names: str,
            env_file: str | Path | None = None) -> str | None:
    """First of: the explicit value, the env vars in order, the same names in the .env file."""
    if explicit:
        return explicit
    for name in env_names:
        if os.environ.get(name):
            return os.environ[name]
    from_file = env_file_values(env_file)
    for name in env_names:
        if from_file.get(name):
            return from_file[name]
    return None


def resolve_secret(
    explicit: str | SecretStr | None,
    *env_names: str,
    provider: str,
    argument: str = "api_key",
    env_file: str | Path | None = None,
) -> SecretStr:
    """A required secret, or ConfigurationError naming the argument and env vars to set."""
    if isinstance(explicit, SecretStr):
        explicit = explicit.get_secret_value()
    value = setting(explicit, *env_names, env_file=env_file)
    if not value:
        names = " or ".join(env_names)
        raise ConfigurationError(
            f"{provider}: no credentials. Pass {argument}=... or set {names} (environment or .env)."
        )
    return SecretStr(value)


def write_env_var(path: str | Path, name: str, value: str) -> None:
    """Set ``name=value`` in a .env file (quoted as :func:`quote_env_value` says), keeping every
    other line as it was; written atomically."""
    target = Path(path)
    text = target.read_text(encoding="utf-8") if target.exists() else ""
    assignment = f"{name}={quote_env_value(value)}\n"
    pieces: list[str] = []
    done = 0
    for key, _, start, end in _assignments(text):
        if key == name:  # every copy: a reader may take the first one or the last one
            pieces += [text[done:start], assignment]
            done = end
    if done:
        pieces.append(text[done:])
    else:
        pieces = [text, "" if not text or text.endswith("\n") else "\n", assignment]
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".env.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("".join(pieces))
        os.replace(tmp, target)
    except BaseException:  # a full disk or Ctrl-C must not leave a stray temp file behind
        Path(tmp).unlink(missing_ok=True)
        raise
