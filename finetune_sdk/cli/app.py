"""The shared Typer app, console and error handling that every CLI command module uses.

Exit codes (``EXIT_CODES``): 0 ok, 1 the job failed or was cancelled, 2 usage or input error (bad
file, bad flag, missing key), 3 an API or network error, 4 ``finetune wait`` gave up waiting
(``--timeout``; the job keeps running), 130 interrupted (Ctrl-C). Errors print one clear line,
never a traceback: a bug we did not foresee prints its type and message and exits 1
(``FINETUNE_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import errno
import json
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click
import typer
from rich.console import Console
from rich.markup import escape

from ..errors import (
    APIError,
    ConfigurationError,
    DatasetError,
    FinetuneError,
    JobError,
    UnsupportedFeatureError,
    WaitTimeoutError,
)

__all__ = ["EXIT_API", "EXIT_CODES", "EXIT_CODES_HELP", "EXIT_INTERRUPTED", "EXIT_JOB", "EXIT_OK",
           "EXIT_TIMEOUT", "EXIT_USAGE", "app", "console", "err_console", "fail", "friendly_errors",
           "input_file", "output_path", "print_json"]

EXIT_OK, EXIT_JOB, EXIT_USAGE, EXIT_API = 0, 1, 2, 3
# A wait that gave up is not a failed job: scripts must be able to tell "still running" apart.
EXIT_TIMEOUT = 4
EXIT_INTERRUPTED = 130  # what shells report for a process ended by SIGINT

EXIT_CODES = {
    EXIT_OK: "ok",
    EXIT_JOB: "the job failed or was cancelled (or an unforeseen bug)",
    EXIT_USAGE: "usage or input error (bad file, bad flag, missing key)",
    EXIT_API: "API or network error",
    EXIT_TIMEOUT: "gave up waiting (wait --timeout; the job keeps running)",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
}
"""Every exit code of ``finetune``, for --help and docs/cli.md."""
EXIT_CODES_HELP = "Exit codes: " + ", ".join(f"{c} {m}" for c, m in EXIT_CODES.items()) + "."

app = typer.Typer(
    name="finetune",
    help="Fine-tune chat models on OpenAI, Fireworks, Together, Bedrock, Azure OpenAI, Vertex"
    " Gemini, Hugging Face or your own GPU.",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print one red line on stderr and exit with ``code``."""
    # escape: messages hold "[openai]", "[EMAIL]"... that rich would otherwise eat as markup
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _exit_code(exc: FinetuneError) -> int:
    if isinstance(exc, JobError):
        return EXIT_JOB
    if isinstance(exc, WaitTimeoutError):
        return EXIT_TIMEOUT
    if isinstance(exc, APIError):
        return EXIT_API
    if isinstance(exc, (ConfigurationError, DatasetError, UnsupportedFeatureError, ValueError)):
        return EXIT_USAGE
    return EXIT_USAGE


# Atomic writers name their temp file ".NAME.1234.tmp" (or ".NAME.tmp") next to NAME: report NAME.
_TEMP_NAME = re.compile(r"(^|/)\.([^/]+?)(\.\d+)?\.tmp$")


def _shown_path(filename: Any) -> str:
    return _TEMP_NAME.sub(r"\1\2", os.fsdecode(filename)) if filename is not None else ""


def _os_error_message(exc: OSError) -> str:
    """One line naming the path and what is wrong with it, for any OSError."""
    path = _shown_path(exc.filename)
    if not path:  # e.g. huggingface_hub's LocalEntryNotFoundError has no filename
        return str(exc) or type(exc).__name__
    home = os.environ.get("FINETUNE_SDK_HOME")
    hint = " (FINETUNE_SDK_HOME: point it to a folder you can write)" if home and (
        os.path.abspath(path) == os.path.abspath(home)) else ""
    reasons: dict[int | None, str] = {
        errno.ENOENT: f"no such file or folder: {path}",
        errno.EISDIR: f"{path} is a folder; expected a file",
        errno.ENOTDIR: f"{path}: a part of this path is a file, not a folder",
        errno.EEXIST: f"{path} exists and is not a folder; expected a folder",
        errno.EACCES: f"permission denied: {path}",
        errno.EPERM: f"permission denied: {path}",
        errno.EROFS: f"{path} is on a read-only file system",
        errno.ENOSPC: f"no space left on the device holding {path}",
    }
    return reasons.get(exc.errno, f"{path}: {exc.strerror or exc}") + hint


def _flags_of(fn: Callable[..., Any]) -> dict[str, str]:
    """Parameter name -> its flag(s), e.g. ``learning_rate`` -> ``--learning-rate/--lr``."""
    import typing

    from typer.models import OptionInfo

    flags: dict[str, str] = {}
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception:  # an unresolvable annotation only costs the flag names in messages
        return flags
    for name, hint in hints.items():
        for info in getattr(hint, "__metadata__", ()):
            if isinstance(info, OptionInfo):
                # With Annotated, typer keeps the first declaration in ``default``.
                first = [info.default] if isinstance(info.default, str) else []
                decls = [d for d in [*first, *(info.param_decls or ())] if d.startswith("-")]
                flags[name] = "/".join(decls) or "--" + name.replace("_", "-")
    if "suffix" in flags:  # train's --suffix fills JobSpec.output_name
        flags.setdefault("output_name", flags["suffix"])
    return flags


def _validation_message(exc: Any, flags: dict[str, str]) -> str:
    """A pydantic ValidationError as one line: the flag, what was expected, what was given."""
    errors = exc.errors(include_url=False)
    parts = []
    for error in errors[:3]:
        loc = [str(p) for p in error.get("loc", ()) if not isinstance(p, int)]
        where = flags.get(loc[-1], ".".join(loc)) if loc else exc.title
        given = f" (got {error['input']!r})" if "input" in error and not isinstance(
            error["input"], (dict, list)) else ""
        parts.append(f"{where}: {error['msg'].lower()}{given}")
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return "invalid value for " + "; ".join(parts) + more


def _csv_hint(exc: FinetuneError) -> str:
    """Point a CSV given where JSONL is expected at the command that reads CSV."""
    ctx = click.get_current_context(silent=True)
    if (isinstance(exc, DatasetError) and exc.file
            and Path(exc.file).suffix.lower() in (".csv", ".tsv")
            and (ctx is None or ctx.info_name != "export-records")):
        return (" -- this is a CSV file; expected JSONL (one JSON example per line): build it"
                f" with `finetune export-records {exc.file} -o data.jsonl`")
    return ""


def _api_hint(exc: FinetuneError) -> str:
    """What to do about the API errors a user can fix."""
    from ..errors import APIConnectionError, AuthenticationError, PermissionDeniedError

    provider = getattr(exc, "provider", None) or "the provider"
    if isinstance(exc, AuthenticationError):
        return f" -- check the API key or token for {provider} (environment variable or .env)"
    if isinstance(exc, PermissionDeniedError):
        return f" -- the key for {provider} is valid but may not do this (account, plan, region)"
    if isinstance(exc, APIConnectionError):
        return " -- check the network (proxy, base URL) and run the command again"
    return ""


@contextmanager
def friendly_errors(flags: dict[str, str] | None = None) -> Iterator[None]:
    """Turn our errors (and bad files, bad values, Ctrl-C) into one line and the exit code."""
    from pydantic import ValidationError

    try:
        yield
    except (typer.Exit, click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
        raise
    except FinetuneError as exc:
        fail(str(exc) + _csv_hint(exc) + _api_hint(exc), _exit_code(exc))
    except OSError as exc:
        fail(_os_error_message(exc), EXIT_USAGE)
    except ValidationError as exc:
        fail(_validation_message(exc, flags or {}), EXIT_USAGE)
    except UnicodeDecodeError as exc:
        fail(f"a file is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8",
             EXIT_USAGE)
    except KeyboardInterrupt:
        fail("interrupted", EXIT_INTERRUPTED)
    except Exception as exc:
        if os.environ.get("FINETUNE_DEBUG"):
            raise
        fail(f"unexpected {type(exc).__name__}: {exc} (a bug in finetune_sdk: run again with"
             " FINETUNE_DEBUG=1 for the traceback and report it)", EXIT_JOB)


def input_file(path: Path, flag: str | None = None, *, expected: str = "a JSONL file") -> Path:
    """``path`` when it is a readable file; else exit 2 naming the flag and what was expected."""
    what = f"{flag} {path}" if flag else str(path)
    if not path.exists():
        fail(f"{what}: no such file (expected {expected})")
    if path.is_dir():
        fail(f"{what} is a folder; expected {expected}")
    if not os.access(path, os.R_OK):
        fail(f"{what}: permission denied (cannot read it)")
    return path


def _role(source: Path, sources: tuple[Path | None, ...]) -> str:
    return "the input file" if source == sources[0] else f"the output {source}"


def output_path(path: Path, flag: str, *, sources: tuple[Path | None, ...] = (),
                folder: bool = False) -> Path:
    """``path`` when something can be written there, checked before any work starts.

    Refuses an existing folder where a file is expected (and the reverse), a parent that is a
    file, a folder we may not write, and the input file itself (that would replace the data).
    """
    kind = "folder" if folder else "file"
    if path.is_dir() and not folder:
        fail(f"{flag} {path} is a folder; expected a file path")
    if path.exists() and not path.is_dir() and folder:
        fail(f"{flag} {path} is a file; expected a folder")
    for source in sources:
        if source is not None and (path.resolve() == source.resolve() or (
                path.exists() and source.exists() and path.samefile(source))):
            fail(f"{flag} {path} is also {_role(source, sources)}; write the {kind} somewhere"
                 " else")
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        fail(f"{flag} {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        fail(f"{flag} {path}: cannot write in {parent} (permission denied)")
    return path


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    """Warnings (e.g. a vendor's shutdown date) as one yellow line, without source paths."""
    err_console.print(f"[yellow]warning:[/] {escape(str(message))}", highlight=False,
                      soft_wrap=True)


def command(*args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``@app.command`` whose body runs inside ``friendly_errors``."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        import functools

        flags = _flags_of(fn)

        @functools.wraps(fn)
        def wrapper(*a: Any, **kw: Any) -> Any:
            with warnings.catch_warnings(), friendly_errors(flags):
                warnings.showwarning = _show_warning
                return fn(*a, **kw)

        return app.command(*args, **kwargs)(wrapper)

    return register


def print_json(data: Any) -> None:
    """Machine-readable output for ``--json`` (plain stdout, no colour)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
