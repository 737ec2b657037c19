"""A stateful fake of the Azure Resource Manager routes that deploy a fine-tuned model on an
Azure OpenAI resource (``Microsoft.CognitiveServices/accounts/{resource}/deployments``).

``PUT .../deployments/{name}`` is create-or-update (201 the first time, 200 after: a resend is
the same deployment); the deployment reads ``Creating`` once, then ``Succeeded``, and only then
serves on the data plane mock it is wired to (``data_plane.deployments[name] = model``); ``GET``
one, ``GET`` the list (``{"value": [...]}``), ``DELETE`` (gone at once: 404 after). Requests need
``Authorization: Bearer`` and ``?api-version=``; a model the data plane never trained is a 400
(``DeploymentModelNotSupported``). Errors are ARM's ``{"error": {"code", "message"}}``.

Route both hosts through one client with :meth:`transport_with` (tests), or mount both.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx2

from .base import MockServer, route

__all__ = ["AzureArmMockServer"]

_DEPS = (r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/"
         r"Microsoft\.CognitiveServices/accounts/(?P<account>[^/]+)/deployments")
_CODES = {400: "InvalidRequestContent", 401: "AuthenticationFailed", 404: "DeploymentNotFound",
          409: "Conflict", 429: "TooManyRequests", 500: "InternalServerError",
          503: "ServiceUnavailable"}


class AzureArmMockServer(MockServer):
    """ARM deployments of one subscription, feeding the data plane mock's ``deployments``."""

    base_url = "https://management.azure.com"
    subscription = "00000000-0000-0000-0000-000000000000"
    resource_group = "ftsdk-rg"

    def __init__(self, data_plane: Any = None) -> None:
        super().__init__()
        self.data_plane = data_plane
        self.deployments: dict[str, dict[str, Any]] = {}
        """ARM id -> the deployment resource as GET answers it."""

    def error_body(self, status: int, message: str) -> Any:
        return {"error": {"code": _CODES.get(status, "Error"), "message": message}}

    def _error(self, status: int, message: str, code: str | None = None) -> httpx2.Response:
        body = self.error_body(status, message)
        if code:
            body["error"]["code"] = code
        return self.json(status, body)

    def _dispatch(self, request: httpx2.Request) -> httpx2.Response:
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return self._error(401, "Authentication failed. The 'Authorization' header is"
                                    " missing.")
        if "api-version" not in request.url.params:
            return self._error(400, "The api-version query parameter is required.",
                               "MissingApiVersionParameter")
        return super()._dispatch(request)

    def transport_with(self, other: MockServer) -> httpx2.MockTransport:
        """One transport: this server for the ARM host, ``other`` for everything else."""
        arm_host = httpx2.URL(self.base_url).host
        return httpx2.MockTransport(
            lambda r: self.handle(r) if r.url.host == arm_host else other.handle(r))

    @route("PUT", _DEPS + r"/(?P<name>[^/]+)")
    def put_deployment(self, request: httpx2.Request, sub: str, rg: str, account: str,
                       name: str) -> httpx2.Response:
        body = self.body(request)
        model = ((body.get("properties") or {}).get("model") or {})
        if model.get("format") != "OpenAI" or not model.get("name") or not body.get("sku"):
            return self._error(400, "properties.model (format OpenAI, name, version) and sku"
                                    " are required")
        known = self.data_plane.tuned_models() if self.data_plane is not None else None
        if known is not None and model["name"] not in known:
            return self._error(400, f"The model '{model['name']}' is not supported.",
                               "DeploymentModelNotSupported")
        arm_id = request.url.path
        existed = arm_id in self.deployments
        current = self.deployments.get(arm_id) or {
            "id": arm_id, "name": name, "type": "Microsoft.CognitiveServices/accounts/deployments",
            "systemData": {"createdAt": datetime.now(UTC).isoformat().replace("+00:00", "Z")},
        }
        current.update(sku=body["sku"], properties={
            **(body.get("properties") or {}),
            "provisioningState": current.get("properties", {}).get("provisioningState",
                                                                   "Creating")})
        self.deployments[arm_id] = current
        return self.json(200 if existed else 201, current)

    @route("GET", _DEPS + r"/(?P<name>[^/]+)")
    def get_deployment(self, request: httpx2.Request, sub: str, rg: str, account: str,
                       name: str) -> httpx2.Response:
        current = self.deployments.get(request.url.path)
        if current is None:
            return self._error(404, f"The specified deployment '{name}' does not exist.")
        shown = {**current, "properties": dict(current["properties"])}
        if current["properties"]["provisioningState"] == "Creating":
            current["properties"]["provisioningState"] = "Succeeded"
            if self.data_plane is not None:
                self.data_plane.deployments[name] = current["properties"]["model"]["name"]
        return self.json(200, shown)

    @route("GET", _DEPS)
    def list_deployments(self, request: httpx2.Request, sub: str, rg: str,
                         account: str) -> httpx2.Response:
        prefix = request.url.path + "/"
        return self.json(200, {"value": [d for i, d in self.deployments.items()
                                         if i.startswith(prefix)]})

    @route("DELETE", _DEPS + r"/(?P<name>[^/]+)")
    def delete_deployment(self, request: httpx2.Request, sub: str, rg: str, account: str,
                          name: str) -> httpx2.Response:
        if self.deployments.pop(request.url.path, None) is None:
            return httpx2.Response(204)
        if self.data_plane is not None:
            self.data_plane.deployments.pop(name, None)
        return httpx2.Response(200)
