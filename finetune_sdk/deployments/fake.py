"""Deployments on the ``fake`` provider: offline, deterministic, kept in JSON files under the
provider's root so ``finetune deployments`` / ``finetune undeploy`` work from another process.

A deployment reads ``creating`` once, then ``ready``; a delete reads ``deleting`` once, then the
deployment is gone (404). The create is keyed by ``spec.name`` like every real backend (a repeat
answers the existing one), and the provider's ``control.fail_next(match="POST /deployments")``
faults apply (``after_processing=True``: it is made, the answer is lost). Billed $1.00/h.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..types import ModelRef
from .meter import serving_price
from .model import Deployment, DeploymentSpec, DeploymentStatus

if TYPE_CHECKING:
    from ..providers.fake import FakeProvider

__all__ = ["deploy", "delete", "find", "get", "list_all"]


def _folder(provider: FakeProvider) -> Path:
    folder = provider.root / "deployments"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _path(provider: FakeProvider, deployment_id: str) -> Path:
    name = deployment_id.removeprefix("fake-deployments/")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}", name):
        raise provider._error(404, f"no fake deployment {deployment_id!r}")
    return _folder(provider) / f"{name}.json"


def _save(provider: FakeProvider, state: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=_folder(provider), prefix=".tmp-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(state, handle)
    os.replace(tmp, _path(provider, state["id"]))


def _load(provider: FakeProvider, deployment_id: str) -> dict[str, Any]:
    path = _path(provider, deployment_id)
    if not path.is_file():
        raise provider._error(404, f"no fake deployment {deployment_id!r}")
    state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return state


def _to_deployment(state: dict[str, Any]) -> Deployment:
    price = serving_price("fake", state.get("hardware"))
    return Deployment(
        id=state["id"], provider="fake", status=DeploymentStatus(state["status"]),
        provider_status=state["status"].upper(), model=state["model"], endpoint=state["model"],
        hardware=state.get("hardware"), created_at=state["created_at"],
        price_per_hour=price.usd_per_hour if price else None,
        price_date=price.date if price else None, price_source=price.source if price else None,
        note="fake deployment: delete it with `finetune undeploy " + state["id"] + "`",
        provider_details=state)


def deploy(provider: FakeProvider, model: ModelRef, spec: DeploymentSpec) -> Deployment:
    """The create, keyed by ``spec.name`` (a repeat answers the deployment it made)."""
    provider._request("POST /deployments")
    deployment_id = f"fake-deployments/{spec.name}"
    path = _path(provider, deployment_id)
    if path.is_file():
        state = _load(provider, deployment_id)
    else:
        state = {"id": deployment_id, "model": model.id, "status": "creating",
                 "hardware": spec.hardware or "fake-gpu",
                 "created_at": datetime.now(UTC).isoformat(timespec="seconds")}
        _save(provider, state)
    provider.control._fire("POST /deployments", processed=True)
    return _to_deployment(state)


def get(provider: FakeProvider, deployment_id: str) -> Deployment:
    provider._request(f"GET /deployments/{deployment_id}")
    state = _load(provider, deployment_id)
    shown = _to_deployment(state)
    if state["status"] == "creating":
        state["status"] = "ready"
        _save(provider, state)
    elif state["status"] == "deleting":
        _path(provider, deployment_id).unlink(missing_ok=True)
    return shown


def delete(provider: FakeProvider, deployment_id: str) -> Deployment:
    provider._request(f"DELETE /deployments/{deployment_id}")
    state = _load(provider, deployment_id)
    state["status"] = "deleting"
    _save(provider, state)
    return _to_deployment(state)


def list_all(provider: FakeProvider) -> Iterator[Deployment]:
    for path in sorted(_folder(provider).glob("*.json")):
        yield _to_deployment(json.loads(path.read_text(encoding="utf-8")))


def find(provider: FakeProvider, name: str) -> Deployment | None:
    path = _folder(provider) / f"{name}.json"
    return _to_deployment(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else None
