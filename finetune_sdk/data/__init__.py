"""Datasets: read any supported format, validate, scrub, split, convert, count tokens.

Submodules (imported on demand): ``formats`` (detect + canonical examples), ``convert`` (to a
provider's wire format), ``validate`` (streaming findings), ``stats``/``tokens``, ``split``,
``records`` (app rows -> chat JSONL), ``privacy`` (PHI scrub and the upload gate) and
``checked`` (validation's line checks, first error raised: what convert and uploads read).
"""

from __future__ import annotations

from ._lines import file_sha256

__all__ = ["file_sha256"]
