"""finetune_sdk: one API for fine-tuning chat models on hosted services and on your own GPUs.

Public names are imported lazily (PEP 562) so ``import finetune_sdk`` stays fast and never pulls
in torch, transformers or a vendor SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "APIConnectionError": "errors",
    "APIError": "errors",
    "APIStatusError": "errors",
    "APITimeoutError": "errors",
    "AsyncClient": "async_client",
    "AuthenticationError": "errors",
    "BudgetExceededError": "errors",
    "Capabilities": "types",
    "Checkpoint": "types",
    "Client": "client",
    "ConfigurationError": "errors",
    "ConflictError": "errors",
    "CostEstimate": "types",
    "DatasetError": "errors",
    "DatasetRef": "types",
    "DatasetValidationError": "errors",
    "Deployment": "deployments",
    "DeploymentError": "deployments",
    "DeploymentSpec": "deployments",
    "DeploymentStatus": "deployments",
    "FinetuneError": "errors",
    "Hyperparameters": "types",
    "Job": "types",
    "JobCancelledError": "errors",
    "JobEvent": "types",
    "JobFailedError": "errors",
    "JobSpec": "types",
    "JobStatus": "types",
    "Ledger": "ledger",
    "MetricPoint": "types",
    "ModelRef": "types",
    "NotFoundError": "errors",
    "Provider": "provider",
    "ProviderOptions": "types",
    "RateLimitError": "errors",
    "RetryPolicy": "retry",
    "SensitiveDataError": "errors",
    "UnsupportedFeatureError": "errors",
    "WaitTimeoutError": "errors",
    "available_providers": "registry",
    "register_provider": "registry",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'finetune_sdk' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from .async_client import AsyncClient
    from .client import Client
    from .deployments import Deployment, DeploymentError, DeploymentSpec, DeploymentStatus
    from .errors import (
        APIConnectionError,
        APIError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        BudgetExceededError,
        ConfigurationError,
        ConflictError,
        DatasetError,
        DatasetValidationError,
        FinetuneError,
        JobCancelledError,
        JobFailedError,
        NotFoundError,
        RateLimitError,
        SensitiveDataError,
        UnsupportedFeatureError,
        WaitTimeoutError,
    )
    from .ledger import Ledger
    from .provider import Provider
    from .registry import available_providers, register_provider
    from .retry import RetryPolicy
    from .types import (
        Capabilities,
        Checkpoint,
        CostEstimate,
        DatasetRef,
        Hyperparameters,
        Job,
        JobEvent,
        JobSpec,
        JobStatus,
        MetricPoint,
        ModelRef,
        ProviderOptions,
    )
