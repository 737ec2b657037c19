"""Rule packs: what each provider accepts, as data (facts from docs/providers reference).

A :class:`RulePack` is read by ``validate.py``; each vendor's ``providers/<vendor>/dataset.py``
defines its ``RULES``. Numbers marked *uncertain* in the vendor reference are warnings, not errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["GENERIC_RULES", "LOCAL_RULES", "RulePack", "file_findings", "rules_for"]

GB = 1024**3
MB = 1024**2


@dataclass(frozen=True)
class RulePack:
    """Dataset limits and features of one provider."""

    provider: str
    min_examples: int = 1
    max_examples: int | None = None
    max_file_bytes: int | None = None
    max_tokens_by_model: dict[str, int] = field(default_factory=dict)
    """Longest example in tokens, by base-model prefix (longest matching prefix wins)."""
    default_max_tokens: int | None = None
    token_limit_is_error: bool = True
    """False where the vendor truncates instead of rejecting (the finding is a warning)."""
    allowed_roles: frozenset[str] = frozenset({"system", "user", "assistant"})
    supports_system: bool = True
    supports_tool_calls: bool = False
    supports_weights: bool = False
    must_alternate: bool = False
    """user/assistant turns must alternate (after an optional leading system message)."""
    methods: frozenset[str] = frozenset({"sft"})
    """With ``max_file_bytes``, taken from the adapter's ``Capabilities`` by ``rules_for`` (the
    provider profile): a vendor's pack does not write them again."""
    max_validation_examples: int | None = None
    recommended_min_examples: int | None = None
    notes: tuple[str, ...] = ()

    def max_tokens(self, base_model: str | None) -> int | None:
        """The per-example token limit for ``base_model`` (or the pack's default)."""
        if base_model:
            name = base_model.lower().removeprefix("models/")
            name = name.rsplit("/", 1)[-1] if name.startswith("accounts/") else name
            best = max((p for p in self.max_tokens_by_model if name.startswith(p)),
                       key=len, default=None)
            if best is not None:
                return self.max_tokens_by_model[best]
        return self.default_max_tokens


LOCAL_RULES = RulePack(
    provider="local",
    min_examples=1,
    default_max_tokens=2048,  # TrainConfig.max_seq_length's default; longer examples are cut
    allowed_roles=frozenset({"system", "user", "assistant"}),
    supports_system=True,
    supports_tool_calls=False,
    supports_weights=False,  # the trainer learns every assistant turn: a weight would be ignored
    must_alternate=False,
    methods=frozenset({"sft"}),  # the local provider trains SFT only (its Capabilities)
    token_limit_is_error=False,
    notes=("Local trainer: canonical chat JSONL, SFT only; examples longer than max_seq_length"
           " (default 2048) are truncated (warning); per-message weight is not honoured.",),
)

_DEFAULT_ROLES = frozenset({"system", "user", "assistant", "tool", "function", "developer"})
GENERIC_RULES = RulePack(provider="generic", allowed_roles=_DEFAULT_ROLES, supports_tool_calls=True,
                    supports_weights=True, methods=frozenset({"sft", "dpo"}))
"""The pack for no provider in particular: every role and feature, no limits."""


def rules_for(provider: str | None) -> RulePack:
    """The rule pack of a provider (aliases allowed; from its profile, methods and file limit
    from its capabilities); a permissive generic pack for None."""
    if provider is None:
        return GENERIC_RULES
    from ..profiles import profile_of

    return profile_of(provider).rules()


def file_findings(rules: RulePack, n: int, size: int, fmt: str | None, *,
                  empty: bool) -> list[tuple[str, str]]:
    """(code, message) of each whole-file rule of ``rules`` that ``n`` examples of ``fmt`` in
    ``size`` bytes break; ``empty``: the file has no examples and no other error says why."""
    found = []
    if empty:
        found.append(("empty_file", "the file has no examples"))
    if n and n < rules.min_examples:
        found.append(("too_few_examples", f"{_examples(n)}; {rules.provider} needs at least"
                      f" {rules.min_examples}"))
    elif n and rules.recommended_min_examples and n < rules.recommended_min_examples:
        found.append(("few_examples", f"{_examples(n)}; {rules.provider} recommends at least"
                      f" {rules.recommended_min_examples}"))
    if rules.max_examples and n > rules.max_examples:
        found.append(("too_many_examples", f"{n:,} examples; {rules.provider} takes at most"
                      f" {rules.max_examples:,}"))
    if rules.max_file_bytes and size > rules.max_file_bytes:
        found.append(("file_too_large", f"{size:,} bytes; {rules.provider} takes at most"
                      f" {rules.max_file_bytes:,}"))
    if fmt == "preference" and "dpo" not in rules.methods:
        found.append(("method_unsupported", f"{rules.provider} cannot train on preference"
                      " pairs"))
    return found


def _examples(n: int) -> str:
    return f"{n:,} example" + ("" if n == 1 else "s")
