"""Training data for Bedrock: one upload per schema, and which file a base model reads.

``upload_dataset`` cannot know the base model, yet the schema depends on it (models.py). So an
upload converts the data to each schema it fits, puts every variant under one content-addressed
S3 folder (``<prefix>/<sha16>/<purpose>.<schema>.jsonl``: a repeated upload rewrites the same
objects) and records the variants in the DatasetRef; the create picks its model's variant. Data
that cannot be written in a schema (multi-turn chats for Llama 3.1's prompt/completion) says
why, and preflight converts a local file in its model's schema before anything is uploaded.
"""

from __future__ import annotations

import functools
import hashlib
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...errors import ConfigurationError, DatasetError, UnsupportedFeatureError
from ...types import DatasetRef
from .dataset import SCHEMAS, Schema, write_wire_jsonl
from .models import Family

__all__ = ["check_data", "s3_uri", "upload_variants"]


def upload_variants(source: Path, *, bucket: str, prefix: str, purpose: str,
                    put: Callable[[str, bytes], None],
                    unsupported: Callable[..., UnsupportedFeatureError]) -> DatasetRef:
    """Write ``source`` in every schema it fits and ``put(key, data)`` each; the DatasetRef
    points at the conversation variant (every family can read it, or says why not)."""
    from ...data.convert import wire_file

    def sft_only(method: str) -> None:
        if method != "sft":
            raise unsupported("preference (DPO) data", "Bedrock fine-tuning is supervised only.")

    wires: dict[Schema, bytes] = {}
    skipped: dict[str, str] = {}
    count = 0
    for schema in SCHEMAS:
        writer = functools.partial(write_wire_jsonl, schema=schema)
        try:
            with wire_file(source, writer, prefix="bedrock-wire-", check_method=sft_only) as wire:
                wires[schema], count = wire.data, wire.examples
        except DatasetError as exc:
            if schema == "conversation":  # the common schema: a real problem with the data
                raise
            skipped[schema] = str(exc)
    digest = hashlib.sha256(wires["conversation"]).hexdigest()
    folder = "/".join(p for p in (prefix, digest[:16]) if p)
    uris: dict[str, str] = {}
    for schema, data in wires.items():
        key = f"{folder}/{purpose}.{schema}.jsonl"
        put(key, data)
        uris[schema] = f"s3://{bucket}/{key}"
    return DatasetRef(
        id=uris["conversation"], provider="bedrock", uri=uris["conversation"],
        filename=source.name, bytes=len(wires["conversation"]), sha256=digest,
        num_examples=count, kind="chat",
        provider_details={"bucket": bucket, "folder": folder, "purpose": purpose,
                          "schemas": uris, "unconvertible": skipped})


def check_data(value: Any, family: Family, field: str) -> None:
    """Refuse, before any upload, data ``family`` cannot train on (schema or example count)."""
    if isinstance(value, DatasetRef):
        schemas = value.provider_details.get("schemas")
        if schemas is not None and family.schema not in schemas:
            why = value.provider_details.get("unconvertible", {}).get(family.schema, "")
            raise ConfigurationError(f"bedrock: {family.name} trains on {family.schema} data and"
                                     f" {field} could not be written so: {why}")
        count = value.num_examples
    elif isinstance(value, (str, Path)) and not str(value).startswith("s3://"):
        with tempfile.TemporaryDirectory(prefix="bedrock-check-") as tmp:
            count = write_wire_jsonl(value, Path(tmp) / "wire.jsonl", schema=family.schema)
    else:
        return  # an S3 URI the caller prepared: Bedrock validates it
    if field == "training_file" and count is not None and (
            count < family.min_examples
            or (family.max_examples is not None and count > family.max_examples)):
        raise DatasetError(f"{family.name} trains on {family.min_examples} to"
                           f" {family.max_examples} examples; {field} has {count}")


def s3_uri(ref: Any, family: Family, field: str) -> str:
    """The S3 URI of the data in ``family``'s schema (a caller's own s3:// URI as is)."""
    if isinstance(ref, DatasetRef):
        schemas = ref.provider_details.get("schemas") or {}
        uri = schemas.get(family.schema) if schemas else (ref.uri or ref.id)
        if uri is None:
            why = ref.provider_details.get("unconvertible", {}).get(family.schema, "")
            raise ConfigurationError(f"bedrock: {family.name} needs {family.schema} data;"
                                     f" {field} could not be written so: {why}")
    else:
        uri = str(ref)
    if not uri.startswith("s3://"):
        raise ConfigurationError(f"bedrock: JobSpec.{field} must be in S3 (a DatasetRef from"
                                 f" client.datasets.upload, or an s3:// URI), got {uri!r}")
    return uri
