"""``finetune serve MODEL``: a local fine-tune behind an OpenAI-compatible API (``serve.py``)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape

from .app import command, console, err_console, fail


@command("serve")
def serve_command(
    model: Annotated[str, typer.Argument(
        help="A local job id, a model or adapter folder, local:<path>, or tiny.")],
    host: Annotated[str, typer.Option(help="Interface to bind (0.0.0.0 exposes it).")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="0 picks a free port.")] = 8000,
    name: Annotated[str | None, typer.Option(
        help="The model id clients see (default: the folder's name).")] = None,
    api_key: Annotated[str | None, typer.Option(
        envvar="FINETUNE_SERVE_API_KEY", help="Require 'Authorization: Bearer KEY'"
        " (FINETUNE_SERVE_API_KEY).", show_default=False)] = None,
    max_tokens: Annotated[int, typer.Option(
        min=1, help="Answer length when a request names none.")] = 256,
    quiet: Annotated[bool, typer.Option("--quiet", help="No request log.")] = False,
) -> None:
    """Serve a local model with an OpenAI-compatible API (/v1/chat/completions, streaming
    included, and /v1/models) until Ctrl-C. No vLLM needed."""
    from pathlib import Path

    from ..inference import resolve_target
    from ..local.tiny import resolve_base_model
    from ..serve import make_server

    ref = resolve_target(model)
    if ref.provider != "local":
        fail(f"{model} is a {ref.provider} model: finetune serve runs local models; a hosted"
             f" one is served by its provider (`finetune deploy {model}`)")
    folder = resolve_base_model(ref.id.removeprefix("local:"))
    shown = name or ("tiny" if model == "tiny" else Path(folder).name)

    def log(line: str) -> None:
        if not quiet:
            err_console.print(escape(line), highlight=False, soft_wrap=True)

    server, chat = make_server(folder, name=shown, host=host, port=port, api_key=api_key,
                               default_max_tokens=max_tokens, log=log)
    where = f"http://{host}:{server.server_address[1]}/v1"
    try:
        err_console.print(f"loading {escape(folder)} ...", highlight=False)
        chat.load()
        console.print(f"serving {shown} on {where}", highlight=False, markup=False,
                      soft_wrap=True)
        key = "<your key>" if api_key else "unused"
        console.print(f"  OpenAI(base_url={where!r}, api_key={key!r}); model={shown!r}."
                      " Ctrl-C stops.", highlight=False, markup=False, soft_wrap=True)
        sys.stdout.flush()
        server.serve_forever()
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a server is stopped: not an error
    finally:
        server.server_close()
    console.print("stopped", highlight=False)
