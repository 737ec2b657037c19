"""Chat completions for the OpenAI mock (and so for the OpenAI-compatible ones): a fine-tune
answers once its job succeeded, or, where the service needs a deployment first (Azure), only
under the name of a deployment that exists.

``server.deployments`` maps a deployment name to the model it serves (the ARM mock fills it);
``requires_deployment`` makes a fine-tune's own id answer 404 ``DeploymentNotFound``, as Azure's
data plane does before it is deployed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx2

from .base import route

__all__ = ["ChatRoutes"]


class ChatRoutes:
    """``POST /v1/chat/completions`` over the jobs of the OpenAI mock."""

    requires_deployment = False
    jobs: dict[str, dict[str, Any]]

    if TYPE_CHECKING:  # provided by the OpenAI mock
        def _error(self, status: int, message: str, *, param: str | None = None,
                   code: str | None = None) -> httpx2.Response: ...

        def json(self, status: int, body: Any,
                 headers: dict[str, str] | None = None) -> httpx2.Response: ...

        def body(self, request: httpx2.Request) -> Any: ...

    @property
    def deployments(self) -> dict[str, str]:
        """Deployment name -> the model it serves."""
        if "_deployments" not in self.__dict__:
            self.__dict__["_deployments"] = {}
        found: dict[str, str] = self.__dict__["_deployments"]
        return found

    def tuned_models(self) -> set[str]:
        return {j["fine_tuned_model"] for j in self.jobs.values() if j.get("fine_tuned_model")}

    @route("POST", r"/v1/chat/completions")
    def chat_completions(self, request: httpx2.Request) -> httpx2.Response:
        body = self.body(request)
        name = str(body.get("model", ""))
        tuned = self.tuned_models()
        if name in self.deployments:
            model = self.deployments[name]
        elif self.requires_deployment:
            return self._error(404, "The API deployment for this resource does not exist."
                               " If you created the deployment within the last 5 minutes,"
                               " please wait a moment and try again.", code="DeploymentNotFound")
        elif name in tuned or name.startswith("gpt-"):
            model = name
        else:
            return self._error(404, f"The model '{name}' does not exist",
                               code="model_not_found")
        question = (body.get("messages") or [{}])[-1].get("content", "")
        who = "tuned" if model in tuned else "base"
        return self.json(200, {
            "id": "chatcmpl-mock", "object": "chat.completion", "created": 1764547200,
            "model": model, "choices": [{"index": 0, "finish_reason": "stop", "message": {
                "role": "assistant", "content": f"{who} answer from {name}: {question}"}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}})
