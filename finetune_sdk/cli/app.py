"""The shared Typer app, console and error handling that every CLI command module uses.

Exit codes: 0 ok, 1 the job failed or was cancelled, 2 usage or input error (bad file, bad
flag, missing key), 3 an API or network error. Errors print one clear line, never a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from rich.console import Console

from ..errors import (
    APIError,
    ConfigurationError,
    DatasetError,
    FinetuneError,
    JobError,
    UnsupportedFeatureError,
    WaitTimeoutError,
)

__all__ = ["EXIT_API", "EXIT_JOB", "EXIT_OK", "EXIT_USAGE", "app", "console", "err_console",
           "fail", "friendly_errors", "print_json"]

EXIT_OK, EXIT_JOB, EXIT_USAGE, EXIT_API = 0, 1, 2, 3

app = typer.Typer(
    name="finetune",
    help="Fine-tune chat models on OpenAI, Fireworks, Vertex Gemini, Hugging Face or your own GPU.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print one red line on stderr and exit with ``code``."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _exit_code(exc: FinetuneError) -> int:
    if isinstance(exc, JobError):
        return EXIT_JOB
    if isinstance(exc, WaitTimeoutError):
        return EXIT_JOB
    if isinstance(exc, APIError):
        return EXIT_API
    if isinstance(exc, (ConfigurationError, DatasetError, UnsupportedFeatureError, ValueError)):
        return EXIT_USAGE
    return EXIT_USAGE


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Turn our errors (and bad files) into one line and the documented exit code."""
    try:
        yield
    except FinetuneError as exc:
        fail(str(exc), _exit_code(exc))
    except FileNotFoundError as exc:
        fail(f"no such file: {exc.filename}", EXIT_USAGE)
    except (IsADirectoryError, PermissionError) as exc:
        fail(f"cannot read {exc.filename}: {exc.strerror}", EXIT_USAGE)
    except KeyboardInterrupt:
        fail("interrupted", 130)


def command(*args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``@app.command`` whose body runs inside ``friendly_errors``."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        import functools

        @functools.wraps(fn)
        def wrapper(*a: Any, **kw: Any) -> Any:
            with friendly_errors():
                return fn(*a, **kw)

        return app.command(*args, **kwargs)(wrapper)

    return register


def print_json(data: Any) -> None:
    """Machine-readable output for ``--json`` (plain stdout, no colour)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
