"""The deployment half of the Bedrock mock (``BedrockMockServer`` mixes it in): on-demand custom
model deployments with ``clientRequestToken`` idempotency, and bedrock-runtime ``converse``.

``POST /model-customization/custom-model-deployments`` (202; a token seen before answers the
first deployment, another token with a taken name is 409), get by ARN or name (Creating reads
once, then Active), list (``nameContains``), DELETE (gone at once: 404 after), and
``POST /model/{modelId}/converse``, which answers only an Active deployment's ARN (a custom
model ARN itself is refused, as Bedrock refuses on-demand calls to an undeployed model).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import httpx2

from .base import route

__all__ = ["DeploymentRoutes"]

_DEPS = r"/model-customization/custom-model-deployments"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class DeploymentRoutes:
    """Routes over ``self.deployments`` (ARN -> deployment) of the Bedrock mock."""

    custom_models: dict[str, dict[str, Any]]
    region: str
    account: str
    _next: int

    if TYPE_CHECKING:  # provided by the Bedrock mock
        def _error(self, status: int, message: str, kind: str | None = None
                   ) -> httpx2.Response: ...

        def json(self, status: int, body: Any,
                 headers: dict[str, str] | None = None) -> httpx2.Response: ...

        def body(self, request: httpx2.Request) -> Any: ...

    @property
    def deployments(self) -> dict[str, dict[str, Any]]:
        return self.__dict__.setdefault("_deployments", {})

    @property
    def deployment_tokens(self) -> dict[str, str]:
        """clientRequestToken -> deployment ARN (the idempotency record)."""
        return self.__dict__.setdefault("_deployment_tokens", {})

    def _deployment(self, ident: str) -> dict[str, Any] | None:
        ident = unquote(ident)
        return self.deployments.get(ident) or next(
            (d for d in self.deployments.values() if d["modelDeploymentName"] == ident), None)

    @route("POST", _DEPS)
    def create_deployment(self, request: httpx2.Request) -> httpx2.Response:
        body = self.body(request)
        token, name, model = (body.get("clientRequestToken"), body.get("modelDeploymentName"),
                              body.get("modelArn"))
        if token and token in self.deployment_tokens:
            return self.json(202, {"customModelDeploymentArn": self.deployment_tokens[token]})
        if not name or not model:
            return self._error(400, "modelDeploymentName and modelArn are required")
        if model not in self.custom_models:
            return self._error(404, f"Custom model {model} not found")
        if any(d["modelDeploymentName"] == name for d in self.deployments.values()):
            return self._error(409, f"A deployment named {name} already exists")
        self._next += 1
        arn = (f"arn:aws:bedrock:{self.region}:{self.account}:custom-model-deployment/"
               f"{self._next:012x}")
        self.deployments[arn] = {"customModelDeploymentArn": arn, "modelDeploymentName": name,
                                 "modelArn": model, "createdAt": _now(), "status": "Creating",
                                 "lastUpdatedAt": _now()}
        if token:
            self.deployment_tokens[token] = arn
        return self.json(202, {"customModelDeploymentArn": arn})

    @route("GET", _DEPS + r"/(?P<ident>.+)")
    def get_deployment(self, request: httpx2.Request, ident: str) -> httpx2.Response:
        found = self._deployment(ident)
        if found is None:
            return self._error(404, f"Custom model deployment {unquote(ident)} not found")
        shown = dict(found)
        if found["status"] == "Creating":
            found["status"] = "Active"
        return self.json(200, shown)

    @route("GET", _DEPS)
    def list_deployments(self, request: httpx2.Request) -> httpx2.Response:
        part = request.url.params.get("nameContains") or ""
        found = [{**d, "customModelDeploymentName": d["modelDeploymentName"]}
                 for d in self.deployments.values() if part in d["modelDeploymentName"]]
        for item in found:
            item.pop("modelDeploymentName")
        return self.json(200, {"modelDeploymentSummaries": found})

    @route("DELETE", _DEPS + r"/(?P<ident>.+)")
    def delete_deployment(self, request: httpx2.Request, ident: str) -> httpx2.Response:
        found = self._deployment(ident)
        if found is None:
            return self._error(404, f"Custom model deployment {unquote(ident)} not found")
        del self.deployments[found["customModelDeploymentArn"]]
        return self.json(200, {})

    @route("POST", r"/model/(?P<model_id>.+)/converse")
    def converse(self, request: httpx2.Request, model_id: str) -> httpx2.Response:
        model_id = unquote(model_id)
        served = self.deployments.get(model_id)
        if served is None or served["status"] != "Active":
            return self._error(400, "The provided model identifier is invalid or not deployed"
                                    " for on-demand throughput.")
        turns = self.body(request).get("messages") or [{}]
        question = " ".join(b.get("text", "") for b in turns[-1].get("content", []))
        return self.json(200, {
            "output": {"message": {"role": "assistant", "content": [
                {"text": f"tuned answer from {served['modelDeploymentName']}: {question}"}]}},
            "stopReason": "end_turn", "usage": {"inputTokens": 5, "outputTokens": 7,
                                                "totalTokens": 12},
            "metrics": {"latencyMs": 12}})
