"""The base of the stateful vendor fakes: routing, request log, fault injection, three mounts.

A mock server is a function ``httpx2.Request -> httpx2.Response`` plus vendor state. Mount it as
- an httpx2 transport: ``httpx2.Client(transport=server.transport())`` (what SDKs accept),
- an httpx2-pytest callback: ``server.mount(httpx2_mock)`` (intercepts every SDK, no plumbing),
- a real loopback HTTP server: ``with server.serve() as base_url:`` (real sockets and timeouts).

Vendor subclasses add routes with ``@route`` and implement the neutral state hooks the
conformance suite drives (``advance``, ``fail_job``, ``set_raw_status``, ``seed_jobs``).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2

from ...types import JobStatus
from ..faults import Fault, FaultQueue

__all__ = ["Fault", "MockServer", "route"]

Handler = Callable[..., httpx2.Response]


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    """Mark a MockServer method as the handler of ``METHOD regex`` (named groups -> kwargs)."""

    def mark(fn: Handler) -> Handler:
        fn.__dict__.setdefault("_routes", []).append((method.upper(), re.compile(pattern + "$")))
        return fn

    return mark


class MockServer:
    """Stateful fake of one vendor API."""

    base_url: str = "https://mock.invalid"
    page_size: int = 2
    """Small pages so the conformance suite's pagination test walks several."""

    def __init__(self) -> None:
        self.requests: list[httpx2.Request] = []
        self.lock = threading.RLock()
        self.faults = FaultQueue(self.lock)
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        for name in dir(type(self)):
            fn = getattr(type(self), name, None)
            for method, pattern in getattr(fn, "_routes", []):
                self._routes.append((method, pattern, getattr(self, name)))

    # -- fault injection ------------------------------------------------------------------
    def fail_next(
        self,
        status: int | None = 500,
        *,
        times: int = 1,
        retry_after: float | str | None = None,
        body: Any = None,
        match: str | None = None,
        timeout: bool = False,
        after_processing: bool = False,
        malformed: bool = False,
        delay: float = 0.0,
    ) -> None:
        """Make the next ``times`` matching requests fail this way (``status=None`` with a
        ``delay``: answer normally, only late)."""
        fault = Fault(status, retry_after, body, match, timeout, after_processing, malformed,
                      delay)
        self.faults.add(fault, times)

    def slow_next(self, delay: float, *, match: str | None = None, times: int = 1) -> None:
        """Process the next ``times`` matching requests ``delay`` seconds late, then answer."""
        self.fail_next(None, delay=delay, match=match, times=times)

    def _take_fault(self, request: httpx2.Request) -> Fault | None:
        return self.faults.take(f"{request.method} {request.url.path}")

    # -- request handling -----------------------------------------------------------------
    def handle(self, request: httpx2.Request) -> httpx2.Response:
        """Answer one request (the function every mount calls)."""
        request.read()
        with self.lock:
            self.requests.append(request)
        fault = self._take_fault(request)
        if fault and fault.delay:
            time.sleep(fault.delay)  # outside the lock: other requests are served meanwhile
        if fault and fault.timeout:
            if fault.after_processing:
                self._dispatch(request)
                raise httpx2.ReadTimeout("mock: response lost after processing", request=request)
            raise httpx2.ConnectError("mock: connection refused", request=request)
        if fault and fault.malformed:
            return httpx2.Response(200, content=b"<html>not json", request=request)
        if fault and fault.status:
            headers = {"x-request-id": "req_mock_fault"}
            if fault.retry_after is not None:
                headers["retry-after"] = str(fault.retry_after)
            body = fault.body or self.error_body(fault.status, "injected fault")
            return httpx2.Response(fault.status, json=body, headers=headers, request=request)
        return self._dispatch(request)

    def _dispatch(self, request: httpx2.Request) -> httpx2.Response:
        path = request.url.path
        for method, pattern, handler in self._routes:
            match = pattern.match(path)
            if match and method == request.method:
                with self.lock:
                    response = handler(request, **match.groupdict())
                response.request = request
                return response
        return self.json(404, self.error_body(404, f"no route for {request.method} {path}"))

    def error_body(self, status: int, message: str) -> Any:
        """The vendor's error JSON shape (override per vendor)."""
        return {"error": {"message": message, "code": status}}

    @staticmethod
    def json(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx2.Response:
        """A JSON response with a request id header, like real APIs send."""
        merged = {"x-request-id": "req_mock", **(headers or {})}
        return httpx2.Response(status, json=body, headers=merged)

    @staticmethod
    def body(request: httpx2.Request) -> Any:
        """The request's JSON body ({} when empty)."""
        return json.loads(request.content) if request.content else {}

    def requests_to(self, method: str, pattern: str) -> list[httpx2.Request]:
        """Logged requests whose method matches and whose path matches ``pattern``."""
        return [r for r in self.requests if r.method == method and re.search(pattern, r.url.path)]

    # -- neutral state hooks for the conformance suite ------------------------------------
    def advance(self, job_id: str, status: JobStatus) -> None:
        """Move a job to the vendor status meaning ``status`` (SUCCEEDED also creates the model)."""
        raise NotImplementedError

    def fail_job(self, job_id: str, message: str) -> None:
        """Make a job fail with the vendor's error message ``message``."""
        raise NotImplementedError

    def set_raw_status(self, job_id: str, raw: str) -> None:
        """Put any vendor status string on a job (e.g. one we have never seen)."""
        raise NotImplementedError

    def seed_jobs(self, count: int) -> None:
        """Add ``count`` finished jobs (for pagination tests)."""
        raise NotImplementedError

    def job_count(self) -> int:
        """How many jobs exist (duplicate-create tests)."""
        raise NotImplementedError

    # -- mounts ---------------------------------------------------------------------------
    def transport(self) -> httpx2.MockTransport:
        """An httpx2 transport answering from this server (sync and async clients)."""
        return httpx2.MockTransport(self.handle)

    def mount(self, httpx2_mock: Any, url: str | re.Pattern[str] | None = None) -> None:
        """Route matching requests of an ``httpx2_mock`` fixture here (default: every request)."""
        kwargs: dict[str, Any] = {"is_reusable": True, "is_optional": True}
        if url is not None:
            kwargs["url"] = url
        httpx2_mock.add_callback(self.handle, **kwargs)

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Serve on a real loopback socket for the duration; yields the base URL."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()


def _make_handler(mock: MockServer) -> type[BaseHTTPRequestHandler]:
    class LoopbackHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            content = self.rfile.read(length) if length else b""
            url = f"http://{self.headers.get('host', '127.0.0.1')}{self.path}"
            request = httpx2.Request(self.command, url, headers=dict(self.headers), content=content)
            try:
                response = mock.handle(request)
            except httpx2.ReadTimeout:
                self.close_connection = True  # processed, then the connection drops: no answer
                return
            except httpx2.TransportError:
                self.close_connection = True
                return
            payload = response.read()
            self.send_response(response.status_code)
            for name, value in response.headers.items():
                if name.lower() not in {"content-length", "transfer-encoding", "connection"}:
                    self.send_header(name, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
            pass

    return LoopbackHandler
