"""The Hugging Face mock plus Inference Endpoints (``/v2/endpoint/{namespace}/...`` on
api.endpoints.huggingface.cloud, as huggingface_hub calls it) and the endpoints themselves.

Create (409 when the name is taken, 400 when the repo does not exist on the Hub mock), get (each
read moves a starting endpoint one step: pending -> initializing -> running, which gives it its
URL ``https://<name>.endpoints.mock.invalid``), list, pause (paused, no URL), resume (pending
again), DELETE (gone at once: 404 after), the hardware catalog with prices
(``/v2/provider/{namespace}``), and ``POST /v1/chat/completions`` on a running endpoint's host.
Mount it with ``server.mount(httpx2_mock)``: it answers every host.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx2

from .base import route
from .huggingface import HuggingFaceMockServer

__all__ = ["HuggingFaceEndpointsMockServer"]

_EP = r"/v2/endpoint/(?P<namespace>[^/]+)"
_NEXT = {"pending": "initializing", "initializing": "running"}
ENDPOINT_HOST = "endpoints.mock.invalid"
HARDWARE = [  # (instance type, size, accelerator, price per hour)
    ("nvidia-a10g", "x1", "gpu", 1.0), ("nvidia-l4", "x1", "gpu", 0.8),
    ("nvidia-a100", "x1", "gpu", 2.5), ("intel-spr", "x2", "cpu", 0.067),
]


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class HuggingFaceEndpointsMockServer(HuggingFaceMockServer):
    """Hub + Jobs (the base mock) + Inference Endpoints with state."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.endpoints: dict[str, dict[str, Any]] = {}
        """"{namespace}/{name}" -> the endpoint as the API answers it."""

    @route("POST", _EP)
    def create_endpoint(self, request: httpx2.Request, namespace: str) -> httpx2.Response:
        body = self.body(request)
        key = f"{namespace}/{body.get('name')}"
        repo = (body.get("model") or {}).get("repository")
        if key in self.endpoints:
            return self._error(409, f"An endpoint named {body.get('name')} already exists")
        if f"models/{repo}" not in self.repos:
            return self._error(400, f"Repository {repo} not found")
        model = {"framework": None, "revision": None, "task": None, "image": {},
                 **body.get("model", {})}
        self.endpoints[key] = {
            "name": body["name"], "type": body.get("type", "protected"),
            "accountId": None, "provider": body.get("provider", {}),
            "compute": body.get("compute", {}), "model": model, "healthRoute": "/health",
            "status": {"state": "pending", "createdAt": _now(), "updatedAt": _now(),
                       "url": None, "message": "Endpoint is pending"},
        }
        return self.json(200, self.endpoints[key])

    @route("GET", _EP + r"/(?P<name>[^/]+)")
    def get_endpoint(self, request: httpx2.Request, namespace: str,
                     name: str) -> httpx2.Response:
        endpoint = self.endpoints.get(f"{namespace}/{name}")
        if endpoint is None:
            return self._error(404, f"Endpoint {name} not found")
        shown = {**endpoint, "status": dict(endpoint["status"])}
        self._step(endpoint)
        return self.json(200, shown)

    def _step(self, endpoint: dict[str, Any]) -> None:
        status = endpoint["status"]
        if status["state"] in _NEXT:
            status["state"] = _NEXT[status["state"]]
            status["updatedAt"] = _now()
            if status["state"] == "running":
                status["url"] = f"https://{endpoint['name']}.{ENDPOINT_HOST}"
                status["message"] = "Endpoint is running"

    @route("GET", _EP)
    def list_endpoints(self, request: httpx2.Request, namespace: str) -> httpx2.Response:
        return self.json(200, {"items": [e for k, e in self.endpoints.items()
                                         if k.startswith(f"{namespace}/")]})

    @route("DELETE", _EP + r"/(?P<name>[^/]+)")
    def delete_endpoint(self, request: httpx2.Request, namespace: str,
                        name: str) -> httpx2.Response:
        if self.endpoints.pop(f"{namespace}/{name}", None) is None:
            return self._error(404, f"Endpoint {name} not found")
        return self.json(200, {})

    @route("POST", _EP + r"/(?P<name>[^/]+)/(?P<action>pause|resume)")
    def pause_or_resume(self, request: httpx2.Request, namespace: str, name: str,
                        action: str) -> httpx2.Response:
        endpoint = self.endpoints.get(f"{namespace}/{name}")
        if endpoint is None:
            return self._error(404, f"Endpoint {name} not found")
        endpoint["status"].update(state="paused" if action == "pause" else "pending",
                                  url=None, updatedAt=_now())
        return self.json(200, endpoint)

    @route("GET", r"/v2/provider/(?P<namespace>[^/]+)")
    def hardware(self, request: httpx2.Request, namespace: str) -> httpx2.Response:
        computes = [{"id": f"aws-us-east-1-{t}-{s}", "accelerator": acc, "instanceType": t,
                     "instanceSize": s, "architecture": t, "numAccelerators": 1,
                     "memoryGb": 32, "gpuMemoryGb": 24 if acc == "gpu" else None,
                     "pricePerHour": price, "status": "available",
                     "quota": {"maxAccelerators": 4, "usedAccelerators": 0}}
                    for t, s, acc, price in HARDWARE]
        return self.json(200, {"vendors": [{"name": "aws", "regions": [
            {"name": "us-east-1", "computes": computes}]}]})

    @route("POST", r"/v1/chat/completions")
    def endpoint_chat(self, request: httpx2.Request) -> httpx2.Response:
        """The OpenAI-style route of a running endpoint (its host names it)."""
        host = request.url.host
        name = host.removesuffix("." + ENDPOINT_HOST)
        running = [e for e in self.endpoints.values() if e["name"] == name
                   and e["status"]["state"] == "running"]
        if host == name or not running:
            return self._error(503, "Service Unavailable: the endpoint is not running")
        question = (self.body(request).get("messages") or [{}])[-1].get("content", "")
        repo = running[0]["model"]["repository"]
        return self.json(200, {
            "id": "chatcmpl-hf-mock", "object": "chat.completion", "created": 1764547200,
            "model": "tgi", "system_fingerprint": "mock",
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         "message": {"role": "assistant",
                                     "content": f"tuned answer from {repo}: {question}"}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}})

    def endpoint_count(self) -> int:
        return len(self.endpoints)
