"""The Nebius Token Factory profile: "OpenAI-compatible API for inference and fine-tuning" at
``https://api.tokenfactory.nebius.com/v1`` with ``NEBIUS_API_KEY`` (no fine-tuning SDK of its own:
the ``openai`` SDK is the client).

Most of what is known comes from secondary sources (shared/reference/market-2026-12.md, the
Nebius row of section 1.3) and is marked so: job states "OpenAI-like (uncertain)", ``messages``
or prompt/completion JSONL up to 5 GB, LoRA and full training, LoRA fine-tunes of Llama-3.1-8B
and Llama-3.3-70B served serverlessly. Nebius's own knobs (LoRA rank, absolute learning rate)
are not in the reference: they go in ``JobSpec.extra_body``. No OpenAI 2027-01-06 cutoff.
"""

from __future__ import annotations

from pathlib import Path

from ...data.rules import GB
from ..openai.profile import Profile
from ._preset import preset_capabilities, preset_rules, single_post_limits, write_checked_jsonl

__all__ = ["PROFILE", "RULES", "write_wire_jsonl"]

NAME = "nebius"
MAX_FILE_BYTES = 5 * GB  # secondary source
BASE_URL = "https://api.tokenfactory.nebius.com/v1"

RULES = preset_rules(
    NAME,
    min_examples=1,
    recommended_min_examples=None,
    notes=("messages (or prompt/completion) JSONL, at most 5 GB (secondary source);"
           " Nebius's minimum example count is not known here.",),
)

PROFILE = Profile(
    name=NAME,
    display_name="Nebius Token Factory",
    capabilities=preset_capabilities(
        max_upload_bytes=MAX_FILE_BYTES,
        methods=frozenset({"sft"}),  # DPO is not documented in the reference
        hyperparameters=frozenset({"epochs", "batch_size", "seed"}),
    ),
    key_env=("NEBIUS_API_KEY",),
    base_url_env=("NEBIUS_BASE_URL",),
    base_url=BASE_URL,
    limits=single_post_limits(MAX_FILE_BYTES, max_batch_size=None, max_epochs=None,
                              max_beta=None),
    facts=NAME,
    wire_module=__name__,
    serve_hint="chat.completions.create(model={model!r}) on " + BASE_URL + " (uncertain: a"
    " secondary source says LoRA fine-tunes of Llama-3.1-8B and Llama-3.3-70B serve"
    " serverlessly; other bases may need a deployment in Token Factory first)",
    lora_hint="Nebius trains LoRA (secondary source) but its field names are not in this SDK's"
    " reference: send them with JobSpec.extra_body, e.g. extra_body={'hyperparameters':"
    " {...}} (uncertain).",
)


def write_wire_jsonl(src: str | Path, dst: str | Path, *, method: str = "sft") -> int:
    """Stream ``src`` into OpenAI JSONL at ``dst``, checked with Nebius's rules; the count."""
    return write_checked_jsonl(src, dst, RULES, method=method)
