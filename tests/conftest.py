"""Suite-wide isolation: every test gets its own FINETUNE_SDK_HOME and no vendor credentials."""

from __future__ import annotations

import pytest

# The PostgreSQL fixtures (postgres_server, postgres_url) for the ledger tests.
pytest_plugins = ["pg_support"]

_VENDOR_ENV = (
    "OPENAI_API_KEY", "OPENAI_BASE_URL", "FIREWORKS_API_KEY", "FIREWORKS_ACCOUNT_ID",
    "FIREWORKS_BASE_URL", "GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION", "GOOGLE_API_KEY",
    "GEMINI_API_KEY", "GOOGLE_APPLICATION_CREDENTIALS", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN",
    "FINETUNE_SDK_ENV_FILE", "FINETUNE_SDK_LOCAL_ROOT", "FINETUNE_SDK_LEDGER_URL",
    "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_RESOURCE", "NEBIUS_API_KEY",
    "NEBIUS_BASE_URL", "OPENAI_COMPATIBLE_API_KEY", "OPENAI_COMPATIBLE_BASE_URL",
    "TOGETHER_API_KEY", "TOGETHER_BASE_URL", "TOGETHER_PROJECT_ID", "WANDB_API_KEY",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION",
    "AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_GROUP", "FINETUNE_SDK_DEPLOY_IDLE_WARN",
    "FINETUNE_SDK_SERVING_PRICES", "FINETUNE_SERVE_API_KEY",
)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    home = tmp_path_factory.mktemp("ftsdk-home")
    monkeypatch.setenv("FINETUNE_SDK_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")
    for name in _VENDOR_ENV:
        monkeypatch.delenv(name, raising=False)
    # A developer's own `hf auth login` token must not reach the tests (the SDK reads it).
    monkeypatch.setenv("HF_HOME", str(home / "hf-home"))
    try:
        import huggingface_hub.constants as hf_constants
    except ImportError:
        return home
    monkeypatch.setattr(hf_constants, "HF_TOKEN_PATH", str(home / "hf-home" / "token"))
    monkeypatch.setattr(hf_constants, "HF_STORED_TOKENS_PATH",
                        str(home / "hf-home" / "stored_tokens"))
    return home
