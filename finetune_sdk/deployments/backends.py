"""Which code deploys a model on which provider: provider name -> the vendor module.

``Provider.deploy`` and friends (``provider.py``) delegate here, the way ``inference.chat``
picks a vendor module by name: the vendor code lives next to its adapter in
``providers/<vendor>/deployments.py`` and is imported only when used. A provider with no entry
serves fine-tunes without a deployment (OpenAI) or cannot deploy here (the error says how to
serve it instead). Third-party providers override the Provider methods themselves.

A vendor module offers ``deploy(provider, model, spec)`` (the create, sent once, keyed by
``spec.name`` so that a resend answers the same deployment: a client-chosen id, an idempotency
token, a PUT by name), ``get(provider, id)``, ``delete(provider, id)``, ``list_all(provider)``
and ``find(provider, name)``; ``TRACKED = False`` for one that creates nothing (no ledger row).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..provider import Provider

__all__ = ["BACKENDS", "backend_for"]

BACKENDS = {
    "fireworks": "finetune_sdk.providers.fireworks.deployments",
    "huggingface": "finetune_sdk.providers.huggingface.deployments",
    "azure-openai": "finetune_sdk.providers.openai_compatible.deployments",
    "bedrock": "finetune_sdk.providers.bedrock.deployments",
    "gemini": "finetune_sdk.providers.gemini.deployments",
    "together": "finetune_sdk.providers.together.deployments",
    "fake": "finetune_sdk.deployments.fake",
}


def backend_for(provider: Provider) -> ModuleType | None:
    """The vendor module deploying on ``provider``, or None."""
    module = BACKENDS.get(provider.name)
    return importlib.import_module(module) if module else None
