"""Where a Hugging Face token comes from: the argument, the environment, ``.env``, then the token
saved by ``hf auth login`` / ``huggingface-cli login``.

The last step is huggingface_hub's own lookup (``huggingface_hub.get_token()``: HF_TOKEN, then
the token file under HF_HOME, ``$HF_HOME/token`` or ``HF_TOKEN_PATH``), so whatever the ``hf``
command line sees, the SDK sees too. When nothing is found the error lists every place it
looked, so a user who ran ``hf auth login`` in another HF_HOME learns where the SDK searched.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import SecretStr

from ...config import setting
from ...errors import ConfigurationError

__all__ = ["find_token", "missing_token_error", "require_token", "saved_token_path"]

ENV_NAMES = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")


def saved_token_path() -> Path:
    """The file ``hf auth login`` writes, as huggingface_hub resolves it in this process."""
    try:
        from huggingface_hub import constants

        return Path(constants.HF_TOKEN_PATH)
    except ImportError:  # without the hf extra: the same default huggingface_hub would use
        home = os.environ.get("HF_HOME") or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface")
        return Path(os.environ.get("HF_TOKEN_PATH") or os.path.join(home, "token"))


def find_token(explicit: str | SecretStr | None = None) -> str | None:
    """The token from ``explicit``, HF_TOKEN / HUGGING_FACE_HUB_TOKEN (environment, then
    ``.env``), then huggingface_hub's saved login; None when there is none."""
    if isinstance(explicit, SecretStr):
        explicit = explicit.get_secret_value()
    value = setting(explicit, *ENV_NAMES)
    if value:
        return value
    try:
        from huggingface_hub import get_token
    except ImportError:
        return None
    try:
        return get_token() or None
    except Exception as exc:  # an opted-in OIDC exchange that failed: huggingface_hub raises
        raise ConfigurationError(
            f"huggingface: huggingface_hub's token lookup failed ({type(exc).__name__}: {exc})"
        ) from None


def missing_token_error() -> ConfigurationError:
    """What to do when :func:`find_token` found nothing: every place it looked, in order."""
    return ConfigurationError(
        "huggingface: no token found. Looked at: token=... (argument), the HF_TOKEN and"
        " HUGGING_FACE_HUB_TOKEN environment variables, the same names in .env"
        f" ({Path(os.environ.get('FINETUNE_SDK_ENV_FILE') or '.env')}), and the token saved by"
        f" `hf auth login` / `huggingface-cli login` ({saved_token_path()}; set HF_HOME if you"
        " logged in with another one). Create a write token at"
        " https://huggingface.co/settings/tokens; HF Jobs also need credit on the account."
    )


def require_token(explicit: str | SecretStr | None = None) -> SecretStr:
    """The token as a SecretStr, or :func:`missing_token_error`."""
    value = find_token(explicit)
    if not value:
        raise missing_token_error()
    return SecretStr(value)
