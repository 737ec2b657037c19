"""Evaluate each finished target against a baseline on the one held-out set.

The baseline is the target's own base model in a bakeoff (win rate over base) and the source
fine-tune in a migration (is the new model as good as the one it replaces?). Every target is
scored on the same held-out file with the same prompts and settings through
``evaluate.compare``, whose answer cache lives in the output folder: a re-run asks no model
again. A fine-tune that needs a deployment before it answers (Fireworks) is deployed only when
asked (``deploy_for_eval``, billed per hour) and deleted again right after its evaluation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import FinetuneError
from ..types import ModelRef
from .runner import TargetRun

if TYPE_CHECKING:
    from ..client import Client

__all__ = ["EvalSettings", "evaluate_run"]

logger = logging.getLogger("finetune_sdk")


class EvalSettings:
    """How every target is evaluated (the same for all of them)."""

    def __init__(self, heldout: Path, out_dir: Path, *, metrics: Sequence[str] | None = None,
                 judge: Callable[..., float] | None = None, limit: int | None = None,
                 params: dict[str, Any] | None = None, max_concurrency: int = 4,
                 pass_threshold: float | None = None, win_metric: str | None = None,
                 deploy_for_eval: bool = False, enabled: bool = True,
                 poll_interval: float | None = None) -> None:
        self.heldout, self.out_dir = heldout, out_dir
        self.metrics, self.judge, self.limit, self.params = metrics, judge, limit, params
        self.max_concurrency, self.pass_threshold = max_concurrency, pass_threshold
        self.win_metric, self.deploy_for_eval, self.enabled = win_metric, deploy_for_eval, enabled
        self.poll_interval = poll_interval
        """The first pause of a deployment's wait (None: the provider's pace)."""

    @property
    def cache(self) -> Path:
        return self.out_dir / "eval_cache.jsonl"


def _servable(run: TargetRun, client: Client, settings: EvalSettings
              ) -> tuple[ModelRef | None, Any, str | None]:
    """(what to call, a deployment made for it or None, why not evaluable)."""
    model = run.model
    assert model is not None
    if model.ready_for_inference or not model.needs_deployment:
        return model, None, None
    if not settings.deploy_for_eval:
        return None, None, (f"not evaluated: {model.provider} serves a fine-tune only after a"
                            " deployment (billed while it exists); pass deploy_for_eval=True"
                            " (--deploy-for-eval) to deploy it for the evaluation and delete it"
                            " after, or deploy it yourself and run `finetune eval`")
    created = client.models.deploy(model)
    try:
        deployment = client.models.wait_ready(created, poll_interval=settings.poll_interval)
    except BaseException:
        _delete(client, created)  # it never served: stop the bill before giving up
        raise
    return deployment.model_ref(), deployment, None


def _delete(client: Client, deployment: Any) -> str | None:
    """Delete a deployment made for an evaluation; the problem, if it could not be."""
    try:
        client.models.undeploy(deployment)
    except FinetuneError as exc:  # still billed: say so loudly, with the id
        logger.warning("could not delete deployment %s (still billed): %s", deployment.id, exc)
        return (f"deployment {deployment.id} could not be deleted ({exc}): delete it"
                " (`finetune undeploy`)")
    return None


def evaluate_run(run: TargetRun, baseline: ModelRef | None, client: Client | None,
                 settings: EvalSettings, *, baseline_note: str | None = None) -> None:
    """Set ``run.eval`` (an EvalReport, also written to ``eval/<folder>/``) or say in
    ``run.eval_note`` why there is none. Never raises for one target's trouble."""
    from ..evaluate import DEFAULT_METRICS, compare

    if not settings.enabled:
        run.eval_note = "not evaluated (evaluation turned off)"
        return
    if run.status != "succeeded" or run.model is None or client is None:
        run.eval_note = f"not evaluated: the job {run.status}"
        return
    if baseline is None:
        run.eval_note = f"not evaluated: {baseline_note or 'no baseline model to compare with'}"
        return
    deployment = None
    try:
        tuned, deployment, why = _servable(run, client, settings)
        if tuned is None:
            run.eval_note = why
            return
        report = compare(baseline, tuned, settings.heldout,
                         metrics=settings.metrics or DEFAULT_METRICS, judge=settings.judge,
                         limit=settings.limit, params=settings.params,
                         max_concurrency=settings.max_concurrency, cache=settings.cache,
                         win_metric=settings.win_metric, pass_threshold=settings.pass_threshold)
        report.write(settings.out_dir / "eval" / run.plan.folder)
        run.eval = report
        if deployment is not None:
            run.eval_note = f"deployed as {deployment.id} for the evaluation, deleted after"
    except Exception as exc:  # ours or an inference library's: this target only
        run.eval_note = f"evaluation failed: {type(exc).__name__}: {exc}"
    finally:
        if deployment is not None:
            kept = _delete(client, deployment)
            if kept:
                run.eval_note = f"{run.eval_note}; {kept}" if run.eval_note else kept
