"""What makes one OpenAI-compatible fine-tuning service differ from another, as data.

The OpenAI adapter (``adapter.py``) reads every vendor fact from its class's ``profile``: key
and base-URL environment variables, the base URL (a template where the host names a resource),
the capability table, limits (suffix length, hyperparameter ranges, file sizes), the facts file
(catalog, prices), the wire module (dataset rules), the shape of a fine-tuned model id, whether a
model must be deployed before use, and whether OpenAI's own wind-down (the 2027-01-06 cutoff and
the eligibility 403) applies. ``OPENAI`` is OpenAI's; the presets for Azure OpenAI, Nebius and a
generic server live in ``providers/openai_compatible``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ...config import setting
from ...errors import ConfigurationError, DatasetError
from ...facts import load_facts
from ...types import Capabilities
from .files import MAX_FILE_BYTES, MAX_UPLOAD_BYTES

__all__ = ["OPENAI", "Limits", "Profile"]


@dataclass(frozen=True)
class Limits:
    """What the service refuses, checked before anything is uploaded (None: not checked)."""

    max_suffix: int = 64
    """``suffix`` (our ``output_name``) length."""
    max_batch_size: int | None = 256
    max_epochs: int | None = 50
    max_beta: float | None = 2.0
    max_file_bytes: int = MAX_FILE_BYTES
    """One ``POST /files``."""
    max_upload_bytes: int = MAX_UPLOAD_BYTES
    """One dataset after conversion, however it is sent."""
    chunked_uploads: bool = True
    """The Uploads API (``/uploads`` + parts) exists, so files above ``max_file_bytes`` go there."""

    def check_upload(self, size: int, service: str, source: Path) -> None:
        """Refuse a converted file the service takes in no way (one request, or in parts)."""
        most = self.max_upload_bytes if self.chunked_uploads else self.max_file_bytes
        if size > most:
            raise DatasetError(
                f"{size} bytes after conversion; {service} takes at most {most} per file",
                file=str(source),
            )


@dataclass(frozen=True)
class Profile:
    """One OpenAI-compatible fine-tuning service."""

    name: str
    """Registry name; jobs, errors, the ledger and intent keys carry it."""
    display_name: str
    capabilities: Capabilities
    key_env: tuple[str, ...]
    """Where the API key comes from when no ``api_key`` is passed."""
    base_url_env: tuple[str, ...] = ()
    base_url: str | None = None
    """The default API root; ``{resource}``-style fields are filled by the preset's adapter.
    None: the caller must give one."""
    org_env: tuple[str, ...] = ()
    """OpenAI-Organization / OpenAI-Project sources: OpenAI only. Elsewhere the SDK's own
    fallback to OPENAI_ORG_ID / OPENAI_PROJECT_ID is switched off (not sent to another vendor)."""
    project_env: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)
    facts: str | None = None
    """The ``providers/<facts>/facts.json`` with catalog and prices; None: no catalog."""
    wire_module: str = "finetune_sdk.providers.openai.dataset"
    """Module with ``RULES`` and ``write_wire_jsonl`` (``finetune validate/convert`` read it)."""
    openai_wind_down: bool = False
    """OpenAI's own sunset: preflight warns, then refuses from 2027-01-06, and a 403 on create
    is FineTuningEligibilityError. Not Azure's nor anyone else's."""
    fine_tune_pattern: str | None = None
    """Regex matching a fine-tuned model id (continued training); group ``base`` names its
    base model when the id shows it."""
    model_id_example: str = ""
    serve_hint: str = "chat.completions.create(model={model!r})"
    """How to call the model once the job succeeded (``{model}`` is filled in); whether it must
    be deployed first is ``capabilities.needs_deployment``."""
    lora_hint: str = ""
    """Why LoRA fields are refused, and what to do instead."""

    def resolve_base_url(self, explicit: str | None) -> str:
        """The API root: the argument, the profile's env vars, then its default."""
        url = explicit or setting(None, *self.base_url_env) or self.base_url
        if not url or "{" in url:
            names = " or ".join(self.base_url_env) or "the base_url argument"
            raise ConfigurationError(
                f"{self.name}: no API root. Pass base_url=... or set {names} (environment or"
                " .env)."
            )
        return url.rstrip("/")

    def fine_tune_base(self, model: str) -> tuple[bool, str]:
        """(``model`` is a fine-tuned id, the base model its catalog checks use)."""
        match = re.match(self.fine_tune_pattern, model) if self.fine_tune_pattern else None
        if match is None:
            return False, model
        return True, match.groupdict().get("base") or model


_OPENAI_FACTS = load_facts("openai")
assert _OPENAI_FACTS is not None  # shipped with the package

OPENAI = Profile(
    name="openai",
    display_name="OpenAI",
    capabilities=Capabilities(
        methods=frozenset({"sft", "dpo"}),
        hyperparameters=frozenset(
            {"epochs", "batch_size", "learning_rate_multiplier", "beta", "seed"}
        ),
        cancel=True,
        pause_resume=True,
        events=True,
        metrics=True,
        checkpoints=True,
        validation_file=True,
        client_chosen_ids=False,
        hosted=True,
        max_upload_bytes=MAX_UPLOAD_BYTES,
        needs_deployment=False,
        default_poll_interval=15.0,
        new_jobs_until=_OPENAI_FACTS.new_jobs_until,
    ),
    key_env=("OPENAI_API_KEY",),
    base_url_env=("OPENAI_BASE_URL",),
    base_url="https://api.openai.com/v1",
    org_env=("OPENAI_ORG_ID",),
    project_env=("OPENAI_PROJECT_ID",),
    facts="openai",
    openai_wind_down=True,
    # ft:<base>:<org>:<suffix>:<id>; "ft:x" alone is a fine-tune whose base is not shown.
    fine_tune_pattern=r"^ft:(?:(?P<base>[^:]+):.*)?",
    model_id_example="ft:gpt-4o-mini-2024-07-18:org:suffix:abc123",
    serve_hint="chat.completions.create(model={model!r}) - serverless, no deployment",
    lora_hint="OpenAI chooses the adapter itself and has no rank/alpha/dropout knob; remove"
    " them, or train on fireworks / gemini / huggingface / local for LoRA control.",
)
"""OpenAI's own service."""
