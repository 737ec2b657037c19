"""One profile per provider: every fact about it that code outside its adapter reads, as data.

A :class:`ProviderProfile` says where the adapter class lives and which extra installs it, its
aliases, its wire module (``RULES`` and ``write_wire_jsonl``: ``finetune validate`` and
``finetune convert``), its inference module (``chat``: ``finetune chat`` and evaluation), its job
ids' shape, the model-id prefixes that name it and its docs page. What the adapter can do
(:class:`~finetune_sdk.types.Capabilities`) stays on the adapter class and the catalog and prices
in ``providers/<name>/facts.json``; :func:`profile_of` reaches all of them from one place, and
:meth:`ProviderProfile.rules` takes the methods and file limit from the capabilities, so neither
is written twice.

A third-party adapter (entry-point group ``finetune_sdk.providers``) describes itself with a
``provider_profile`` class attribute; without one it gets the canonical JSONL wire format and
no inference.

Reading a profile imports nothing heavy: modules are named, imported only when used.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, replace
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .errors import ConfigurationError, ProviderNotInstalledError

if TYPE_CHECKING:
    from .data.rules import RulePack
    from .facts import ProviderFacts
    from .provider import Provider
    from .types import Capabilities

__all__ = ["BUILTIN_PROFILES", "ProviderProfile", "profile_of"]

_P = "finetune_sdk.providers."
_EXTRA_FOR_MODULE = {"openai": "openai", "google": "google", "huggingface_hub": "hf",
                     "together": "together", "boto3": "aws", "botocore": "aws",
                     "torch": "local", "transformers": "local", "peft": "local"}


@dataclass(frozen=True)
class ProviderProfile:
    """Where a provider's pieces live, and the facts about it read outside its adapter."""

    name: str
    """Registry name; jobs, the ledger and intent keys carry it."""
    adapter: str
    """``module:Class`` of the adapter, imported on first use."""
    extra: str | None = None
    """The ``pip install "finetune-sdk[extra]"`` that brings its SDK (None: no extra needed)."""
    aliases: tuple[str, ...] = ()
    display_name: str = ""
    wire: str | None = None
    """Module with ``RULES`` and ``write_wire_jsonl`` (None: canonical chat JSONL, unchanged)."""
    rules_ref: str | None = None
    """``module:NAME`` of the rule pack when it is not ``<wire>:RULES``."""
    inference: str | None = None
    """Module with ``chat(ref, messages, **params)``; None: no hosted inference."""
    retry_inference: bool = True
    """Wrap ``chat`` in RetryPolicy (off for an offline fake that never fails transiently)."""
    job_id_shape: str | None = None
    """Regex of a job id as the vendor writes it (so ``finetune chat JOB_ID`` knows a job)."""
    named_job_id_shape: str | None = None
    """A short job id accepted only when the provider is named (Vertex's job number)."""
    model_prefixes: tuple[str, ...] = ()
    """Model ids starting with one of these belong to this provider and no other."""
    docs_page: str | None = None
    """``docs/<page>`` with the generated capability block."""

    @property
    def title(self) -> str:
        return self.display_name or self.name

    def import_adapter(self) -> type[Provider]:
        """Import the adapter class from ``adapter`` (raises ProviderNotInstalledError with a
        pip hint). The registry calls it once and caches the class; use ``adapter_class``."""
        module_name, _, attr = self.adapter.partition(":")
        cls: type[Provider] = getattr(self._import(module_name, self.extra or self.name), attr)
        return cls

    def adapter_class(self) -> type[Provider]:
        """The registered adapter class: the registry's, so a class registered as an object
        (``register_provider(name, cls)``, importable or not) is the one used."""
        from .registry import get_provider_class

        return get_provider_class(self.name)

    def capabilities(self) -> Capabilities:
        return self.adapter_class().capabilities

    def facts(self) -> ProviderFacts | None:
        """The dated catalog and prices (``providers/<name>/facts.json``; None: none shipped)."""
        from .facts import load_facts

        return load_facts(self.name)

    def wire_module(self) -> ModuleType | None:
        return self._import(self.wire, self.extra) if self.wire else None

    def rules(self) -> RulePack:
        """The dataset rule pack, with the methods and the file-size limit of the capabilities
        (one table: what preflight refuses is what ``validate`` reports)."""
        from .data.rules import GENERIC_RULES

        ref = self.rules_ref or (f"{self.wire}:RULES" if self.wire else None)
        if ref is None:
            pack = replace(GENERIC_RULES, provider=self.name)
        else:
            module_name, _, attr = ref.partition(":")
            pack = getattr(self._import(module_name, self.extra), attr)
        caps = self.capabilities()  # adapters import their SDK lazily: no extra needed here
        return replace(pack, methods=frozenset(caps.methods),
                       max_file_bytes=caps.max_upload_bytes)

    def chat_function(self) -> Any:
        """``chat(ref, messages, **params)`` of this provider."""
        if self.inference is None:
            raise ConfigurationError(f"no inference for provider {self.name!r}")
        return self._import(self.inference, self.extra).chat

    def is_job_id(self, target: str, *, named: bool = False) -> bool:
        shapes = (self.job_id_shape, self.named_job_id_shape if named else None)
        return any(shape and re.fullmatch(shape, target) for shape in shapes)

    def _import(self, module_name: str, extra: str | None) -> ModuleType:
        try:
            return importlib.import_module(module_name)
        except ImportError as exc:
            missing = (exc.name or "").split(".")[0]
            hint = _EXTRA_FOR_MODULE.get(missing, extra or self.name)
            raise ProviderNotInstalledError(
                f"the {self.name!r} provider needs extra packages ({exc.name or exc}):"
                f' pip install "finetune-sdk[{hint}]"') from exc


def _openai_family(name: str, cls: str, wire: str, page: str | None, display: str,
                   aliases: tuple[str, ...] = (), inference: str | None = None) -> ProviderProfile:
    return ProviderProfile(name, f"{_P}openai_compatible.adapter:{cls}", "openai", aliases,
                           display, wire=f"{_P}openai_compatible.{wire}", inference=inference,
                           docs_page=page)


BUILTIN_PROFILES: tuple[ProviderProfile, ...] = (
    ProviderProfile("fake", f"{_P}fake:FakeProvider", display_name="Fake (offline)",
                    rules_ref="finetune_sdk.data.rules:GENERIC_RULES",
                    inference=f"{_P}fake_inference", retry_inference=False,
                    job_id_shape=r"ftjob-fake-[0-9a-f]{16}", model_prefixes=("fake:",)),
    ProviderProfile("local", f"{_P}local:LocalProvider", "local", display_name="Local trainer",
                    rules_ref="finetune_sdk.data.rules:LOCAL_RULES",
                    job_id_shape=r"ftjob-local-[0-9a-f]{12}", model_prefixes=("local:",),
                    docs_page="local.md"),
    ProviderProfile("openai", f"{_P}openai.adapter:OpenAIProvider", "openai",
                    display_name="OpenAI", wire=f"{_P}openai.dataset",
                    inference=f"{_P}openai.inference", job_id_shape=r"ftjob-[A-Za-z0-9]+",
                    model_prefixes=("ft:",), docs_page="providers/openai.md"),
    _openai_family("openai-compatible", "OpenAICompatibleProvider", "generic",
                   "providers/openai-compatible.md", "OpenAI-compatible server"),
    _openai_family("azure-openai", "AzureOpenAIProvider", "azure", "providers/azure-openai.md",
                   "Azure OpenAI", ("azure",), f"{_P}openai_compatible.inference"),
    _openai_family("nebius", "NebiusProvider", "nebius", None, "Nebius"),
    ProviderProfile("fireworks", f"{_P}fireworks.adapter:FireworksProvider",
                    display_name="Fireworks", wire=f"{_P}fireworks.dataset",
                    inference=f"{_P}fireworks.inference",
                    job_id_shape=r"accounts/[^/]+/(?:supervisedFineTuningJobs|dpoJobs)/[A-Za-z0-9-]+",
                    named_job_id_shape=r"ftsdk-[a-z0-9-]+", model_prefixes=("accounts/",),
                    docs_page="providers/fireworks.md"),
    ProviderProfile("gemini", f"{_P}gemini.adapter:GeminiProvider", "google", ("vertex", "google"),
                    "Gemini on Vertex AI", wire=f"{_P}gemini.dataset",
                    inference=f"{_P}gemini.inference",
                    job_id_shape=r"projects/[^/]+/locations/[^/]+/tuningJobs/\d+",
                    named_job_id_shape=r"\d+", model_prefixes=("projects/",),
                    docs_page="providers/gemini.md"),
    ProviderProfile("huggingface", f"{_P}huggingface.adapter:HuggingFaceProvider", "hf",
                    ("autotrain", "hf"), "Hugging Face Jobs", wire=f"{_P}huggingface.dataset",
                    inference=f"{_P}huggingface.inference",
                    job_id_shape=r"(?:[\w.-]+/)?[0-9a-f]{24}",
                    docs_page="providers/huggingface.md"),
    ProviderProfile("together", f"{_P}together.adapter:TogetherProvider", "together",
                    display_name="Together AI", wire=f"{_P}together.dataset",
                    inference=f"{_P}together.inference", docs_page="providers/together.md"),
    ProviderProfile("bedrock", f"{_P}bedrock.adapter:BedrockProvider", "aws",
                    display_name="Amazon Bedrock", wire=f"{_P}bedrock.dataset",
                    inference=f"{_P}bedrock.inference", docs_page="providers/bedrock.md"),
)


def profile_of(name: str) -> ProviderProfile:
    """The profile of a provider name or alias (built-in, registered or from an entry point)."""
    from .registry import canonical_name, registered_profile

    return registered_profile(canonical_name(name))


def third_party_profile(name: str, path: str, cls: type | None = None) -> ProviderProfile:
    """The profile a registered class declares (``provider_profile``), under its registry name."""
    base = ProviderProfile(name, path)
    if cls is None:
        cls = base.import_adapter()
    declared = getattr(cls, "provider_profile", None)
    if declared is None:
        return base
    if not isinstance(declared, ProviderProfile):
        raise ConfigurationError(f"{path}.provider_profile must be a ProviderProfile,"
                                 f" not {type(declared).__name__}")
    return replace(declared, name=name, adapter=path)
