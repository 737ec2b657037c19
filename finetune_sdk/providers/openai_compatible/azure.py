"""The Azure OpenAI profile: Azure's v1 fine-tuning API is OpenAI's, at
``https://<resource>.openai.azure.com/openai/v1`` with ``AZURE_OPENAI_API_KEY``.

What differs from OpenAI (shared/reference/market-2026-12.md, section 1.2):
- a fine-tuned model is not served until it is **deployed** through the ARM control plane
  (``arm_deployment`` builds that request; it needs an Entra ID token, not the API key);
- model ids are ``<base>.ft-<hex>`` (checkpoints ``ftchkpt-<hex>``), ``suffix`` is at most 18
  characters, files at most 512 MB (no Uploads API; Azure points large files at Blob import);
- the training tier goes in ``extra_body={"trainingType": ...}`` (our ``training_type`` option);
- no OpenAI 2027-01-06 cutoff: Azure's own dates are per model in ``azure-openai/facts.json``
  (gpt-4.1 family: training until 2027-04-14 for existing customers, serving to 2027-10-14).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ...config import setting
from ...data.rules import MB
from ...errors import ConfigurationError
from ..openai.profile import Profile
from ._preset import preset_capabilities, preset_rules, single_post_limits, write_checked_jsonl

__all__ = ["PROFILE", "RULES", "TRAINING_TYPES", "arm_deployment", "base_url_for",
           "resource_of", "write_wire_jsonl"]

NAME = "azure-openai"
MAX_FILE_BYTES = 512 * MB
TRAINING_TYPES = ("Standard", "GlobalStandard", "developerTier")
"""Azure's training tiers (``extra_body["trainingType"]``)."""
ARM_API_VERSION = "2024-10-01"
_RESOURCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}$")
_RESOURCE_HOSTS = (".openai.azure.com", ".cognitiveservices.azure.com")

RULES = preset_rules(
    NAME,
    notes=("Minimum 10 examples (50-100 recommended).",
           "At most 512 MB per file; Azure recommends importing larger files from Blob storage.",
           "Azure's doc asks for UTF-8 with BOM (uncertain, may be a doc quirk): plain UTF-8 is"
           " what is sent."),
)

PROFILE = Profile(
    name=NAME,
    display_name="Azure OpenAI",
    capabilities=preset_capabilities(
        max_upload_bytes=MAX_FILE_BYTES,
        pause_resume=True,  # the OpenAI routes; Azure documents pausing jobs (uncertain for v1)
        needs_deployment=True,
    ),
    key_env=("AZURE_OPENAI_API_KEY",),
    base_url_env=("AZURE_OPENAI_BASE_URL",),
    base_url="https://{resource}.openai.azure.com/openai/v1",
    limits=single_post_limits(MAX_FILE_BYTES, max_suffix=18),
    facts=NAME,
    wire_module=__name__,
    fine_tune_pattern=r"^(?P<base>.+?)\.ft-[0-9A-Za-z]+",
    model_id_example="gpt-4.1-2025-04-14.ft-0e208cf33a6a466994aff31a08aba678",
    serve_hint="not servable yet: deploy {model} through the ARM control plane first (PUT"
    " .../Microsoft.CognitiveServices/accounts/<resource>/deployments/<name>, Entra ID token;"
    " the request is in provider_details['arm_deployment']), then call"
    " chat.completions.create(model=<deployment name>) on this resource",
    lora_hint="Azure OpenAI chooses the adapter itself (OpenAI's API has no rank/alpha/dropout"
    " knob); remove them, or train on fireworks / gemini / huggingface / local for LoRA"
    " control.",
)


def base_url_for(base_url: str | None = None, resource: str | None = None) -> str:
    """The v1 API root: ``base_url``, else ``resource``, else AZURE_OPENAI_BASE_URL, else
    AZURE_OPENAI_ENDPOINT (``https://<resource>.openai.azure.com/``) + ``/openai/v1``, else
    AZURE_OPENAI_RESOURCE."""
    if base_url:
        return base_url
    if resource:
        return _from_resource(resource)
    explicit = setting(None, "AZURE_OPENAI_BASE_URL")
    if explicit:
        return explicit
    endpoint = setting(None, "AZURE_OPENAI_ENDPOINT")
    if endpoint:
        root = endpoint.rstrip("/")
        return root if root.endswith("/openai/v1") else f"{root}/openai/v1"
    named = setting(None, "AZURE_OPENAI_RESOURCE")
    if named:
        return _from_resource(named)
    raise ConfigurationError(
        "azure-openai: no resource. Pass resource=... or base_url=..., or set"
        " AZURE_OPENAI_RESOURCE, AZURE_OPENAI_ENDPOINT or AZURE_OPENAI_BASE_URL (environment or"
        " .env).")


def _from_resource(resource: str) -> str:
    if not _RESOURCE.match(resource):
        raise ConfigurationError(
            f"azure-openai: {resource!r} is not an Azure resource name (letters, digits and"
            " hyphens; the <resource> of https://<resource>.openai.azure.com)")
    assert PROFILE.base_url is not None
    return PROFILE.base_url.format(resource=resource)


def resource_of(base_url: str) -> str | None:
    """The resource name in a ``https://<resource>.openai.azure.com/...`` root, if it is one."""
    host = urlsplit(base_url).hostname or ""
    for suffix in _RESOURCE_HOSTS:
        if host.endswith(suffix):
            return host[: -len(suffix)] or None
    return None


def arm_deployment(
    model: str,
    *,
    resource: str | None = None,
    subscription: str = "{subscription}",
    resource_group: str = "{resource_group}",
    deployment: str | None = None,
    sku: str = "standard",
    capacity: int = 1,
) -> dict[str, Any]:
    """The ARM request that deploys a fine-tuned model (send it with an Entra ID bearer token
    for https://management.azure.com; the API key does not work there). Unknown parts stay
    ``{placeholders}``."""
    name = deployment or re.sub(r"[^A-Za-z0-9_.-]", "-", model)[:64]
    url = (f"https://management.azure.com/subscriptions/{subscription}/resourceGroups/"
           f"{resource_group}/providers/Microsoft.CognitiveServices/accounts/"
           f"{resource or '{resource}'}/deployments/{name}?api-version={ARM_API_VERSION}")
    body = {"sku": {"name": sku, "capacity": capacity},
            "properties": {"model": {"format": "OpenAI", "name": model, "version": "1"}}}
    return {"method": "PUT", "url": url, "body": body, "deployment": name,
            "auth": "Authorization: Bearer <Entra ID token for https://management.azure.com>"}


def write_wire_jsonl(src: str | Path, dst: str | Path, *, method: str = "sft") -> int:
    """Stream ``src`` into OpenAI JSONL at ``dst``, checked with Azure's rules; the count."""
    return write_checked_jsonl(src, dst, RULES, method=method)
