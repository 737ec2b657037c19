"""Which HF Jobs flavor a cost estimate prices: the one the job will actually get.

With no flavor chosen, a job runs on the smallest ``auto_flavors`` entry that holds its GPU
memory estimate (``hardware.plan_job``), so pricing the provider's default flavor would quote an
a10g-small hour for a job that runs on an A100. :func:`job_flavor` is found by
``facts.estimate_hook("huggingface", "job_flavor")`` and asked only when no flavor was given
(``estimate(flavor=...)`` or ``HuggingFaceOptions(flavor=...)``).

Offline by design: an estimate never asks the Hub, so a model whose size is neither in its id,
the catalog nor ``model_params_b`` is priced on the default flavor, with a warning that the job
(which does ask the Hub) may get a larger one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

from pydantic import ValidationError

from ...errors import ConfigurationError
from ...types import DatasetRef, JobSpec, Method
from . import hardware

__all__ = ["job_flavor"]

# ``cost.estimate`` takes any method string; a JobSpec holds only these.
_METHODS: dict[str, Method] = {name: name for name in get_args(Method)}


def _options(spec: JobSpec | None, adapter: str | None) -> Any:
    """``spec.options`` as HuggingFaceOptions; ``adapter`` (lora/full) sets ``peft`` when the
    options leave it open."""
    from .adapter import HuggingFaceOptions

    raw = spec.options if spec is not None else None
    options = raw if isinstance(raw, HuggingFaceOptions) else HuggingFaceOptions.model_validate(
        raw if isinstance(raw, dict) else {})
    if adapter in ("lora", "full") and options.peft is None:
        options = options.model_copy(update={"peft": adapter == "lora"})
    return options


def job_flavor(spec: JobSpec | None, *, base_model: str, method: str | None = None,
               adapter: str | None = None, training_file: Any = None
               ) -> tuple[str | None, list[str], list[str]]:
    """(the flavor to price or None for the default, notes, warnings) for a job of
    ``base_model``; ``spec`` when the estimate has one, else one is made from the arguments."""
    if spec is None:
        planned_method = _METHODS.get(method or "sft")
        if planned_method is None:  # say so, not "options not understood"
            return None, [], [f"huggingface trains {' or '.join(_METHODS)}, not {method!r}:"
                              " priced on the default flavor"]
        data = training_file if isinstance(training_file, (str, Path, DatasetRef)) else "-"
        spec = JobSpec(base_model=base_model, training_file=data, method=planned_method)
    try:
        options = _options(spec, adapter)
        plan = hardware.plan_job(spec, options)
    except ValidationError as exc:
        return None, [], [f"huggingface options not understood ({exc.error_count()} problem(s));"
                          " priced on the default flavor"]
    except ConfigurationError as exc:  # no flavor holds the model: the job would be refused
        return None, [], [f"the job as specified would be refused before upload: {exc} Priced"
                          " on the default flavor meanwhile"]
    if plan.memory is None:
        return plan.flavor, [], [
            f"the size of {base_model} is unknown offline (not in its id, the catalog or"
            f" model_params_b): priced on {plan.flavor}, but the job asks the Hub and may get a"
            " larger flavor; set HuggingFaceOptions(model_params_b=...) or flavor=..."]
    return plan.flavor, [f"priced on {plan.flavor}, the flavor the job will get: the smallest"
                         f" auto flavor that holds {plan.memory.describe()}"], []
