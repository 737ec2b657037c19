"""Where the Hugging Face token comes from: token=, HF_TOKEN, .env, then the token that
`hf auth login` saved under HF_HOME (huggingface_hub's own lookup); a missing token says where
the SDK looked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_huggingface_conformance import mount_hub_mock

from finetune_sdk.errors import ConfigurationError
from finetune_sdk.providers.huggingface.adapter import HuggingFaceProvider
from finetune_sdk.providers.huggingface.token import find_token
from finetune_sdk.testing.conformance import SENTINEL_SECRET

SAVED = "hf_saved_by_hf_auth_login_0123456789"


@pytest.fixture
def saved_login(tmp_path, monkeypatch) -> Path:
    """HF_HOME with a `token` file, as `hf auth login` leaves it (huggingface_hub resolved the
    path at import, so the constant follows HF_HOME here too)."""
    import huggingface_hub.constants

    home = tmp_path / "hf-home"
    home.mkdir()
    (home / "token").write_text(SAVED + "\n", encoding="utf-8")
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(home / "token"))
    return home


@pytest.fixture
def no_login(tmp_path, monkeypatch) -> Path:
    import huggingface_hub.constants

    home = tmp_path / "empty-hf-home"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.chdir(tmp_path)  # no .env from the working tree
    return home


def test_missing_token_lists_every_place_it_looked(no_login):
    with pytest.raises(ConfigurationError) as info:
        HuggingFaceProvider(namespace="me")
    message = str(info.value)
    for place in ("token=", "HF_TOKEN", ".env", "hf auth login", str(no_login / "token")):
        assert place in message, (place, message)


def test_saved_login_token_is_used_and_sent(saved_login, httpx2_mock, monkeypatch):
    mock = mount_hub_mock(httpx2_mock, monkeypatch)
    provider = HuggingFaceProvider(endpoint=mock.base_url)  # no token=, no HF_TOKEN
    assert provider.namespace == mock.namespace  # whoami answered: a Bearer token went out
    [request] = [r for r in mock.requests if r.url.path.endswith("/whoami-v2")]
    assert request.headers["authorization"] == f"Bearer {SAVED}"
    assert SAVED not in repr(provider)


def test_argument_then_environment_then_env_file_win_over_the_saved_login(
        saved_login, tmp_path, monkeypatch):
    assert find_token(None) == SAVED
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("HF_TOKEN=from-dotenv\n", encoding="utf-8")
    assert find_token(None) == "from-dotenv"
    monkeypatch.setenv("HF_TOKEN", SENTINEL_SECRET)
    assert find_token(None) == SENTINEL_SECRET
    assert find_token("explicit") == "explicit"


def test_a_new_process_finds_the_token_under_its_hf_home(tmp_path):
    """The real flow: `hf auth login` wrote $HF_HOME/token; a later process reads it."""
    home = tmp_path / "hf-home"
    home.mkdir()
    (home / "token").write_text(SAVED, encoding="utf-8")
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH")}
    env["HF_HOME"] = str(home)
    code = ("from finetune_sdk.providers.huggingface.adapter import HuggingFaceProvider as P\n"
            f"p = P(namespace='me')\nprint(p._token.get_secret_value() == {SAVED!r})")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "True" and SAVED not in out.stdout + out.stderr
