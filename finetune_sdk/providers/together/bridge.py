"""Let the together SDK (built on ``httpx``) send through an ``httpx2.Client``.

Every other adapter takes an ``httpx2.Client`` (proxies, tests' mock transports); the together
SDK wants an ``httpx.Client``. :func:`httpx_client` wraps the former in the latter: each request
is copied into httpx2, sent without following redirects (the SDK's upload reads the 302 itself),
and the answer copied back. httpx2's transport errors become httpx's of the same name, so the SDK
and our error translation see what a plain httpx client would have raised.
"""

from __future__ import annotations

from typing import Any

__all__ = ["httpx_client"]

# Headers that describe the bytes as they crossed the wire: httpx2 has already decoded them.
_HOP = {"content-encoding", "content-length", "transfer-encoding", "connection"}


def httpx_client(client: Any, *, timeout: float | None = None) -> Any:
    """An ``httpx.Client`` for the together SDK: ``client`` itself when it is one, else a
    bridge to an ``httpx2.Client``."""
    import httpx

    if isinstance(client, httpx.Client):
        return client
    return httpx.Client(transport=_transport_for(client), timeout=timeout,
                        follow_redirects=True)


def _transport_for(client: Any) -> Any:
    import httpx

    class Httpx2Bridge(httpx.BaseTransport):
        """An httpx transport that sends through an httpx2 client."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            import httpx2

            extensions = {k: v for k, v in request.extensions.items() if k == "timeout"}
            copy = httpx2.Request(request.method, str(request.url),
                                  headers=list(request.headers.multi_items()),
                                  content=request.read(), extensions=extensions)
            failure: Exception | None = None
            try:
                answer = self.inner.send(copy, follow_redirects=False)
                content = answer.read()
            except httpx2.TransportError as exc:
                failure = _as_httpx(exc, request)
            if failure is not None:
                # Raised outside the except: httpx2's error (its request holds the key) must
                # not ride along as __context__.
                raise failure
            headers = [(k, v) for k, v in answer.headers.multi_items() if k.lower() not in _HOP]
            return httpx.Response(answer.status_code, headers=headers, content=content,
                                  request=request)

        def close(self) -> None:  # the httpx2 client stays its owner's to close
            pass

    return Httpx2Bridge(client)


def _as_httpx(exc: Exception, request: Any) -> Exception:
    """httpx2's transport error as httpx's class of the same name (TransportError if none)."""
    import httpx

    cls = getattr(httpx, type(exc).__name__, None)
    if not (isinstance(cls, type) and issubclass(cls, httpx.TransportError)):
        cls = httpx.TransportError
    return cls(str(exc), request=request)
