"""The endpoint half of the Vertex mock (``VertexMockServer`` mixes it in): the endpoint a
succeeded tuning job created, as ``GET .../endpoints/{id}`` answers it (one deployed model),
``:undeployModel`` (the model leaves), ``DELETE`` (refused with FAILED_PRECONDITION while a model
is still on it; then gone: 404), the list, and ``live_endpoints()`` for ``:generateContent``.
Long-running operations answer ``done: true`` at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx2

from .base import route

__all__ = ["EndpointRoutes"]

_EPS = r"/v1beta1/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/endpoints"


class EndpointRoutes:
    """Endpoints over ``self.jobs`` of the Vertex mock."""

    jobs: dict[str, dict[str, Any]]

    if TYPE_CHECKING:  # provided by the Vertex mock
        def _error(self, status: int, message: str) -> httpx2.Response: ...

        def json(self, status: int, body: Any,
                 headers: dict[str, str] | None = None) -> httpx2.Response: ...

        def body(self, request: httpx2.Request) -> Any: ...

    @property
    def endpoint_state(self) -> dict[str, str]:
        """endpoint name -> "undeployed" | "deleted" (absent: serving its tuned model)."""
        return self.__dict__.setdefault("_endpoint_state", {})

    def _tuned(self) -> dict[str, str]:
        """endpoint name -> tuned model, for every succeeded job."""
        return {t["endpoint"]: t.get("model", "") for t in
                (j.get("tunedModel") for j in self.jobs.values()) if t and t.get("endpoint")}

    def live_endpoints(self) -> set[str]:
        """Endpoints that answer generateContent (a model still deployed on them)."""
        return {e for e in self._tuned() if e not in self.endpoint_state}

    def _endpoint(self, name: str) -> dict[str, Any] | None:
        tuned = self._tuned()
        if name not in tuned or self.endpoint_state.get(name) == "deleted":
            return None
        models = [] if self.endpoint_state.get(name) == "undeployed" else [
            {"id": "1234567890", "model": tuned[name], "displayName": "tuned"}]
        return {"name": name, "displayName": name.rsplit("/", 1)[1],
                "deployedModels": models, "createTime": "2026-12-01T00:00:00Z"}

    def _operation(self, name: str) -> httpx2.Response:
        return self.json(200, {"name": f"{name}/operations/1", "done": True})

    @route("GET", _EPS + r"/(?P<eid>[^/:]+)")
    def get_endpoint(self, request: httpx2.Request, project: str, location: str,
                     eid: str) -> httpx2.Response:
        name = f"projects/{project}/locations/{location}/endpoints/{eid}"
        found = self._endpoint(name)
        return self.json(200, found) if found else self._error(404, f"Endpoint {name} not found")

    @route("GET", _EPS)
    def list_endpoints(self, request: httpx2.Request, project: str,
                       location: str) -> httpx2.Response:
        found = [self._endpoint(n) for n in sorted(self._tuned())]
        return self.json(200, {"endpoints": [e for e in found if e]})

    @route("POST", _EPS + r"/(?P<eid>[^/:]+):undeployModel")
    def undeploy_model(self, request: httpx2.Request, project: str, location: str,
                       eid: str) -> httpx2.Response:
        name = f"projects/{project}/locations/{location}/endpoints/{eid}"
        found = self._endpoint(name)
        wanted = self.body(request).get("deployedModelId")
        if not found or wanted not in {m["id"] for m in found["deployedModels"]}:
            return self._error(404, f"Deployed model {wanted} not found on {name}")
        self.endpoint_state[name] = "undeployed"
        return self._operation(name)

    @route("DELETE", _EPS + r"/(?P<eid>[^/:]+)")
    def delete_endpoint(self, request: httpx2.Request, project: str, location: str,
                        eid: str) -> httpx2.Response:
        name = f"projects/{project}/locations/{location}/endpoints/{eid}"
        found = self._endpoint(name)
        if found is None:
            return self._error(404, f"Endpoint {name} not found")
        if found["deployedModels"]:
            return self._error(400, "FAILED_PRECONDITION: the endpoint still has deployed"
                                    " models; undeploy them first")
        self.endpoint_state[name] = "deleted"
        return self._operation(name)
