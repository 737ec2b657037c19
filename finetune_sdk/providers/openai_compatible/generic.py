"""The generic OpenAI-compatible profile: any server that speaks OpenAI's fine-tuning API at a
base URL you give (``OPENAI_COMPATIBLE_BASE_URL``, key in ``OPENAI_COMPATIBLE_API_KEY``).

Nothing is known about such a server beyond the wire shape, so little is checked here: no
catalog (any base model), no hyperparameter ranges, no Uploads API (one ``POST /files`` of at most
512 MB), no pause/resume. The server has the last word on everything else.
"""

from __future__ import annotations

from pathlib import Path

from ..openai.files import MAX_FILE_BYTES
from ..openai.profile import Profile
from ._preset import preset_capabilities, preset_rules, single_post_limits, write_checked_jsonl

__all__ = ["PROFILE", "RULES", "write_wire_jsonl"]

NAME = "openai-compatible"

RULES = preset_rules(
    NAME,
    min_examples=1,
    recommended_min_examples=None,
    notes=("OpenAI's wire format (chat and preference JSONL); the server's own limits are not"
           " known here and it has the last word.",),
)

PROFILE = Profile(
    name=NAME,
    display_name="OpenAI-compatible server",
    capabilities=preset_capabilities(max_upload_bytes=MAX_FILE_BYTES),
    key_env=("OPENAI_COMPATIBLE_API_KEY",),
    base_url_env=("OPENAI_COMPATIBLE_BASE_URL",),
    base_url=None,  # there is no default server
    limits=single_post_limits(MAX_FILE_BYTES, max_batch_size=None, max_epochs=None,
                              max_beta=None),
    wire_module=__name__,
    serve_hint="chat.completions.create(model={model!r}) on the same server (whether a"
    " fine-tune needs a deployment first is the server's to say)",
    lora_hint="The OpenAI fine-tuning API has no LoRA fields; send the server's own ones with"
    " JobSpec.extra_body.",
)


def write_wire_jsonl(src: str | Path, dst: str | Path, *, method: str = "sft") -> int:
    """Stream ``src`` into OpenAI JSONL at ``dst``, checked with these rules; the count."""
    return write_checked_jsonl(src, dst, RULES, method=method)
