"""``finetune serve``: a local fine-tune behind an OpenAI-compatible HTTP API, so an app that
speaks the OpenAI API switches to it by base URL (``OpenAI(base_url="http://127.0.0.1:8000/v1")``).

Routes: ``POST /v1/chat/completions`` (plain, or ``stream: true`` as server-sent events, token by
token), ``GET /v1/models``, ``GET /health``. Standard library HTTP (``ThreadingHTTPServer``) and
the local generation stack (transformers + peft, ``local/generate.py``): no vLLM, no web
framework. Requests are answered one generation at a time (a lock: one model in memory, and
torch's generate is not meant to run concurrently on it); the socket stays responsive meanwhile.
It binds 127.0.0.1 by default; ``api_key`` makes it require ``Authorization: Bearer <key>``
(compared in constant time, never logged). For production throughput use a serving engine
(vLLM, TGI) on the exported model; this is for trying the model in your app.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["ChatServer", "GenerationError", "make_server"]

MAX_BODY = 4 << 20
"""Refuse request bodies above 4 MiB (a chat request is a few KB)."""


class GenerationError(ValueError):
    """A request the server cannot honour (answered 400 with OpenAI's error shape)."""


@dataclass
class ChatServer:
    """The model behind the server: generation, serialised by one lock."""

    folder: str
    """The model / adapter folder (``local.generate`` loads it)."""
    name: str
    """The id ``/v1/models`` lists and answers carry."""
    default_max_tokens: int = 256

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.created = int(time.time())

    def load(self) -> None:
        """Load the model now (so the first request does not wait for it)."""
        from .local.generate import load_local_model

        load_local_model(self.folder)

    def _prepare(self, body: dict[str, Any]) -> tuple[Any, Any, dict[str, Any], dict[str, Any]]:
        import torch

        from .local.generate import load_local_model

        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not all(
                isinstance(m, dict) and "role" in m for m in messages):
            raise GenerationError("messages must be a non-empty list of {role, content}")
        for unsupported in ("stop", "tools", "logprobs"):
            if body.get(unsupported):
                raise GenerationError(f"{unsupported} is not supported by finetune serve")
        if body.get("n", 1) != 1:
            raise GenerationError("n must be 1")
        if body.get("top_p") not in (None, 1, 1.0):
            raise GenerationError("top_p is not supported by finetune serve (local generation"
                                  " takes max_tokens, temperature and seed)")
        limit = body.get("max_completion_tokens") or body.get("max_tokens") or (
            self.default_max_tokens)
        if not isinstance(limit, int) or limit < 1:
            raise GenerationError("max_tokens must be a positive integer")
        model, tokenizer = load_local_model(self.folder)
        texts = [{"role": m["role"], "content": _text(m.get("content"))} for m in messages]
        prompt = tokenizer.apply_chat_template(texts, tokenize=False, add_generation_prompt=True)
        inputs = tokenizer([prompt], return_tensors="pt", add_special_tokens=False).to(
            next(model.parameters()).device)
        options: dict[str, Any] = {"max_new_tokens": limit, "do_sample": False,
                                   "pad_token_id": tokenizer.pad_token_id,
                                   "eos_token_id": tokenizer.eos_token_id}
        temperature = body.get("temperature")
        if temperature:
            torch.manual_seed(int(body.get("seed") or 0))
            options.update(do_sample=True, temperature=float(temperature))
        return model, tokenizer, dict(inputs), options

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        """The whole answer as a ``chat.completion`` object."""
        import torch

        with self.lock:
            model, tokenizer, inputs, options = self._prepare(body)
            with torch.no_grad():
                out = model.generate(**inputs, **options)
        new = out[0, inputs["input_ids"].shape[1]:]
        text = tokenizer.decode(new, skip_special_tokens=True).strip()
        finish = "length" if len(new) >= options["max_new_tokens"] else "stop"
        prompt_tokens = int(inputs["input_ids"].shape[1])
        return {"id": _id(), "object": "chat.completion", "created": int(time.time()),
                "model": self.name, "system_fingerprint": None,
                "choices": [{"index": 0, "finish_reason": finish, "logprobs": None,
                             "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(new),
                          "total_tokens": prompt_tokens + len(new)}}

    def stream(self, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """``chat.completion.chunk`` objects as the tokens come (TextIteratorStreamer)."""
        from transformers import TextIteratorStreamer

        self.lock.acquire()
        try:
            model, tokenizer, inputs, options = self._prepare(body)
        except BaseException:
            self.lock.release()
            raise
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
        ident, created = _id(), int(time.time())
        counted = {"n": 0}

        def run() -> None:
            import torch

            try:
                with torch.no_grad():
                    out = model.generate(**inputs, streamer=streamer, **options)
                counted["n"] = int(out.shape[1] - inputs["input_ids"].shape[1])
            except BaseException:
                streamer.end()  # the reader must not wait for tokens that will never come
                raise
            finally:
                self.lock.release()

        worker = threading.Thread(target=run, daemon=True, name="finetune-serve-generate")
        worker.start()

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {"id": ident, "object": "chat.completion.chunk", "created": created,
                    "model": self.name, "system_fingerprint": None,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish,
                                 "logprobs": None}]}

        yield chunk({"role": "assistant", "content": ""})
        started = False
        for piece in streamer:
            if not started:
                piece = piece.lstrip()  # the same text the plain answer gives (it is stripped)
                started = bool(piece)
            if piece:
                yield chunk({"content": piece})
        worker.join()
        finish = "length" if counted["n"] >= options["max_new_tokens"] else "stop"
        yield chunk({}, finish)
        if (body.get("stream_options") or {}).get("include_usage"):
            prompt = int(inputs["input_ids"].shape[1])
            yield {"id": ident, "object": "chat.completion.chunk", "created": created,
                   "model": self.name, "choices": [],
                   "usage": {"prompt_tokens": prompt, "completion_tokens": counted["n"],
                             "total_tokens": prompt + counted["n"]}}


def _text(content: Any) -> str:
    """OpenAI content: a string, or a list of parts of which the text ones count."""
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def _id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex[:24]


def _handler(chat: ChatServer, api_key: str | None, log: Any) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "finetune-serve"

        def _send_json(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
            self._send_json(status, {"error": {"message": message, "type": kind,
                                               "param": None, "code": None}})

        def _authorized(self) -> bool:
            if api_key is None:
                return True
            given = self.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if hmac.compare_digest(given.encode(), api_key.encode()):
                return True
            self._error(401, "invalid or missing API key", "authentication_error")
            return False

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            path = self.path.split("?", 1)[0].rstrip("/")
            if path == "/health":
                self._send_json(200, {"status": "ok", "model": chat.name})
            elif not self._authorized():
                return
            elif path == "/v1/models":
                self._send_json(200, {"object": "list", "data": [
                    {"id": chat.name, "object": "model", "created": chat.created,
                     "owned_by": "finetune-sdk"}]})
            elif path == f"/v1/models/{chat.name}":
                self._send_json(200, {"id": chat.name, "object": "model",
                                      "created": chat.created, "owned_by": "finetune-sdk"})
            else:
                self._error(404, f"no route for GET {path}")

        def do_POST(self) -> None:  # noqa: N802
            path = self.path.split("?", 1)[0].rstrip("/")
            if path != "/v1/chat/completions":
                self._error(404, f"no route for POST {path}")
                return
            if not self._authorized():
                return
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_BODY:
                self.close_connection = True
                self._error(413, "request body too large")
                return
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
                if not isinstance(body, dict):
                    raise GenerationError("the body must be a JSON object")
                if body.get("stream"):
                    self._stream(body)
                else:
                    self._send_json(200, chat.complete(body))
            except (GenerationError, json.JSONDecodeError) as exc:
                self._error(400, str(exc))
            except Exception as exc:  # noqa: BLE001 - answer the client, keep serving
                log(f"error: {type(exc).__name__}: {exc}")
                self._error(500, f"generation failed: {type(exc).__name__}", "server_error")

        def _stream(self, body: dict[str, Any]) -> None:
            events = chat.stream(body)
            first = next(events)  # validation errors surface before the 200 is sent
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("cache-control", "no-cache")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            try:
                for event in _chain(first, events):
                    self._chunk(f"data: {json.dumps(event)}\n\n".encode())
                self._chunk(b"data: [DONE]\n\n")
                self._chunk(b"")
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client went away; generation ends anyway
                for _ in events:
                    pass

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
            log(f"{self.address_string()} {format % args}")

    return Handler


def _chain(first: dict[str, Any], rest: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    yield first
    yield from rest


def make_server(folder: str, *, name: str, host: str = "127.0.0.1", port: int = 8000,
                api_key: str | None = None, default_max_tokens: int = 256,
                log: Any = None) -> tuple[ThreadingHTTPServer, ChatServer]:
    """The HTTP server (not yet serving) and the model behind it; ``port=0`` picks a free one."""
    chat = ChatServer(folder=folder, name=name, default_max_tokens=default_max_tokens)
    server = ThreadingHTTPServer((host, port), _handler(chat, api_key, log or (lambda s: None)))
    server.daemon_threads = True  # a stuck client never keeps the process alive on Ctrl-C
    return server, chat
