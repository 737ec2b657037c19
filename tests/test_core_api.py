"""Public surface: pinned exports, import hygiene, registry behaviour."""

from __future__ import annotations

import subprocess
import sys

import pytest

import finetune_sdk
from finetune_sdk import registry
from finetune_sdk.errors import ConfigurationError, ProviderNotInstalledError

EXPECTED_ALL = [
    "APIConnectionError", "APIError", "APIStatusError", "APITimeoutError", "AsyncClient",
    "AuthenticationError", "BudgetExceededError", "Capabilities", "Checkpoint", "Client",
    "ConfigurationError", "ConflictError", "CostEstimate", "DatasetError", "DatasetRef",
    "DatasetValidationError", "Deployment", "DeploymentError", "DeploymentSpec",
    "DeploymentStatus", "FinetuneError", "Hyperparameters", "Job", "JobCancelledError",
    "JobEvent", "JobFailedError", "JobSpec", "JobStatus", "Ledger", "MetricPoint", "ModelRef",
    "NotFoundError", "Provider", "ProviderOptions", "RateLimitError", "RetryPolicy",
    "SensitiveDataError", "UnsupportedFeatureError", "WaitTimeoutError", "__version__",
    "available_providers", "register_provider",
]

HEAVY = ("torch", "transformers", "peft", "openai", "google.genai", "huggingface_hub")


def test_all_is_pinned_and_sorted() -> None:
    assert finetune_sdk.__all__ == sorted(EXPECTED_ALL)


def test_every_public_name_resolves() -> None:
    for name in finetune_sdk.__all__:
        assert getattr(finetune_sdk, name) is not None


def test_unknown_attribute_is_attribute_error() -> None:
    with pytest.raises(AttributeError):
        finetune_sdk.NoSuchThing  # noqa: B018


def test_import_pulls_in_no_heavy_dependency() -> None:
    code = (
        "import sys, finetune_sdk\n"
        "from finetune_sdk import Client, JobSpec\n"
        "import finetune_sdk.cli, finetune_sdk.providers.fake\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_every_adapter_module_imports_without_its_sdk_loaded() -> None:
    code = (
        "import sys\n"
        "from finetune_sdk.registry import available_providers, get_provider_class\n"
        "for name in available_providers():\n"
        "    try:\n"
        "        get_provider_class(name)\n"
        "    except ImportError:\n"
        "        pass\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_unknown_provider_suggests_a_name() -> None:
    with pytest.raises(ConfigurationError, match="Did you mean 'openai'"):
        registry.get_provider_class("opnai")


def test_aliases_resolve() -> None:
    assert registry.canonical_name("vertex") == "gemini"
    assert registry.canonical_name("AutoTrain") == "huggingface"


def test_missing_extra_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        registry._registry, "ghost",
        registry.ProviderProfile("ghost", "no_such_module_xyz:Ghost", "ghost"),
    )
    with pytest.raises(ProviderNotInstalledError, match=r'pip install "finetune-sdk\[ghost\]"'):
        registry.get_provider_class("ghost")


def test_register_provider_refuses_clobber() -> None:
    from finetune_sdk.providers.fake import FakeProvider

    with pytest.raises(ConfigurationError, match="already registered"):
        registry.register_provider("fake", FakeProvider)
