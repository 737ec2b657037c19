"""Together: a fine-tune is called by its output name; nothing is created here.

Together serves the LoRA adapters of some base models serverless (per token): for those, chat
works at once and there is nothing to tear down, so ``deploy`` answers ``serverless`` without a
request. Other fine-tunes (full fine-tunes, bases without serverless LoRA) need a dedicated
endpoint (``together endpoints create --model <name>``, billed per minute), which this SDK does
not create yet: the note says so, and Together's own error says so at the first chat.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ...deployments.model import Deployment, DeploymentSpec, DeploymentStatus
from ...types import ModelRef

if TYPE_CHECKING:
    from .adapter import TogetherProvider

__all__ = ["TRACKED", "delete", "deploy", "find", "get", "list_all"]

TRACKED = False
"""Nothing is created, so nothing goes in the ledger."""


def deploy(provider: TogetherProvider, model: ModelRef, spec: DeploymentSpec) -> Deployment:
    full = (model.provider_details or {}).get("training_type") == "full"
    return Deployment(
        id=model.id, provider=provider.name, status=DeploymentStatus.READY, model=model.id,
        endpoint=model.id, base_url=model.base_url or f"{provider.base_url}/v1", serverless=True,
        note=("serverless: no deployment needed where Together serves this base's LoRA adapters"
              " serverless (billed per token, nothing to tear down)."
              + (" This is a full fine-tune: it needs a dedicated endpoint" if full else
                 " Otherwise it needs a dedicated endpoint")
              + f" (`together endpoints create --model {model.id}`, billed per minute; not"
              " created by this SDK)."))


def _none(provider: TogetherProvider) -> Exception:
    return provider.unsupported("deployments", "Together fine-tunes are called by name here"
                                " (serverless); dedicated endpoints are managed with Together's"
                                " own tools.")


def get(provider: TogetherProvider, deployment_id: str) -> Deployment:
    raise _none(provider)


def delete(provider: TogetherProvider, deployment_id: str) -> Deployment:
    raise _none(provider)


def list_all(provider: TogetherProvider) -> Iterator[Deployment]:
    return iter(())


def find(provider: TogetherProvider, name: str) -> Deployment | None:
    return None
