"""The ``finetune`` command line. Every module in this package registers its commands on ``app``."""

from __future__ import annotations

import importlib
import pkgutil

from .app import app

__all__ = ["app", "main"]


def _register_commands() -> None:
    for module in pkgutil.iter_modules(__path__):
        if module.name != "app" and not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")


def main() -> None:
    """Entry point of the ``finetune`` console script."""
    try:
        _register_commands()
        app()
    except KeyboardInterrupt:  # Ctrl-C outside a command body (start-up, argument parsing)
        from .app import EXIT_INTERRUPTED, err_console

        err_console.print("[bold red]error:[/] interrupted", highlight=False)
        raise SystemExit(EXIT_INTERRUPTED) from None
