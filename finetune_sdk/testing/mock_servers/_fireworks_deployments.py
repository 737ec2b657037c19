"""The deployment half of the Fireworks mock (``FireworksMockServer`` mixes it in): on-demand
deployments with state, and the inference route that answers only a READY ``model#deployment``.

Create ``POST .../deployments?deploymentId=`` (409 ALREADY_EXISTS on a repeat, 400 for an unknown
base model), get (CREATING reads once, then READY; DELETING reads once, then 404), list, DELETE,
and ``POST /inference/v1/chat/completions``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx2

from .base import route

__all__ = ["DeploymentRoutes"]

_ACCT = r"/v1/accounts/(?P<account>[^/]+)"


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class DeploymentRoutes:
    """Routes over ``self.deployments`` / ``self.models`` of the Fireworks mock."""

    deployments: dict[str, dict[str, Any]]
    models: dict[str, dict[str, Any]]
    _seq: int

    if TYPE_CHECKING:  # provided by the server class (MockServer and the Fireworks mock)
        def _error(self, status: int, message: str) -> httpx2.Response: ...

        def json(self, status: int, body: Any,
                 headers: dict[str, str] | None = None) -> httpx2.Response: ...

        def body(self, request: httpx2.Request) -> Any: ...

    @route("POST", _ACCT + r"/deployments")
    def create_deployment(self, request: httpx2.Request, account: str) -> httpx2.Response:
        body = self.body(request)
        base = body.get("baseModel")
        if base not in self.models:
            return self._error(400, f"baseModel {base} not found")
        chosen = request.url.params.get("deploymentId")
        if chosen is None:
            self._seq += 1
            chosen = f"dep-{self._seq:06d}"
        name = f"accounts/{account}/deployments/{chosen}"
        if name in self.deployments:
            return self._error(409, f"deployment {name} already exists")
        self.deployments[name] = {
            **{k: v for k, v in body.items() if k != "baseModel"},
            "name": name,
            "baseModel": base,
            "state": "CREATING",
            "createTime": _now(),
        }
        return self.json(200, self.deployments[name])

    @route("GET", _ACCT + r"/deployments/(?P<dep>[^/]+)")
    def get_deployment(self, request: httpx2.Request, account: str, dep: str) -> httpx2.Response:
        """CREATING reads once, then READY; DELETING reads once, then the deployment is gone."""
        name = f"accounts/{account}/deployments/{dep}"
        deployment = self.deployments.get(name)
        if deployment is None:
            return self._error(404, f"deployment {dep} not found")
        shown = dict(deployment)
        if deployment["state"] == "CREATING":
            deployment["state"] = "READY"
        elif deployment["state"] == "DELETING":
            del self.deployments[name]
        return self.json(200, shown)

    @route("GET", _ACCT + r"/deployments")
    def list_deployments(self, request: httpx2.Request, account: str) -> httpx2.Response:
        found = [d for n, d in sorted(self.deployments.items())
                 if n.startswith(f"accounts/{account}/")]
        return self.json(200, {"deployments": found, "totalSize": len(found)})

    @route("DELETE", _ACCT + r"/deployments/(?P<dep>[^/]+)")
    def delete_deployment(self, request: httpx2.Request, account: str,
                          dep: str) -> httpx2.Response:
        deployment = self.deployments.get(f"accounts/{account}/deployments/{dep}")
        if deployment is None:
            return self._error(404, f"deployment {dep} not found")
        deployment["state"] = "DELETING"
        return self.json(200, {})

    @route("POST", r"/inference/v1/chat/completions")
    def chat(self, request: httpx2.Request) -> httpx2.Response:
        """An OpenAI-shaped answer from ``model#deployment`` while that deployment is READY
        (a fine-tuned LoRA has no serverless route: without one it is 404, as at Fireworks)."""
        body = self.body(request)
        model, _, deployment = str(body.get("model", "")).partition("#")
        served = self.deployments.get(deployment)
        if not served or served["state"] != "READY" or served["baseModel"] != model:
            return self._error(404, f"Model not found, inaccessible, and/or not deployed:"
                                    f" {body.get('model')}")
        question = (body.get("messages") or [{}])[-1].get("content", "")
        return self.json(200, {
            "id": f"chat-{self._seq}", "object": "chat.completion", "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop", "message": {
                "role": "assistant", "content": f"tuned answer from {deployment}: {question}"}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}})

    def deployment_count(self) -> int:
        """Deployments that exist (duplicate-create tests)."""
        return len(self.deployments)

