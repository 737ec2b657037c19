"""HF Jobs <-> our types: JobStage map, JobInfo -> Job, log lines -> events, error translation.

Also the one raw request the adapter makes itself (a page of ``list_jobs``): huggingface_hub's
``paginate`` wraps every page in ``http_backoff``, which sleeps for real and would stack its
retries under ours.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, Literal

from ..._http import excerpt, sent_credentials
from ...errors import (
    APIError,
    APIResponseValidationError,
    ConfigurationError,
    redact,
    status_error,
)
from ...retry import parse_retry_after
from ...types import Job, JobEvent, JobFailure, JobStatus
from .._wire import wire_parser

__all__ = [
    "CLIENT_REF_LABEL",
    "STATUS_MAP",
    "event_from_line",
    "fetch_page",
    "job_from_info",
    "job_info",
    "ref_labels",
    "translate_error",
]

PROVIDER = "huggingface"
CLIENT_REF_LABEL = "ftsdk-client-ref"

STATUS_MAP: dict[str, JobStatus] = {
    "SCHEDULING": JobStatus.QUEUED,
    "RUNNING": JobStatus.RUNNING,
    "COMPLETED": JobStatus.SUCCEEDED,
    "CANCELED": JobStatus.CANCELLED,
    "ERROR": JobStatus.FAILED,
    # Someone deleted the job: it will never finish, and nothing was asked of it to fail.
    "DELETED": JobStatus.CANCELLED,
}


def ref_labels(client_ref: str) -> dict[str, str]:
    """The label that lets ``find_job`` recognise our job after an ambiguous create."""
    return {CLIENT_REF_LABEL: client_ref}


def _stage(info: Any) -> str | None:
    status = getattr(info, "status", None)
    stage = getattr(status, "stage", None)
    return None if stage is None else str(getattr(stage, "value", stage))


@wire_parser(PROVIDER, "an HF job")
def job_from_info(info: Any) -> Job:
    """A huggingface_hub ``JobInfo`` as our Job."""
    raw = _stage(info)
    status = STATUS_MAP.get(raw or "", JobStatus.UNKNOWN)
    message = getattr(info.status, "message", None)
    env = dict(info.environment or {})
    labels = dict(info.labels or {})
    error = None
    if status is JobStatus.FAILED:
        error = JobFailure(message=message or "the job ended with an error; see its logs",
                           code=raw)
    owner = getattr(getattr(info, "owner", None), "name", None)
    details = {
        "namespace": owner,
        "url": getattr(info, "url", None),
        "flavor": str(getattr(info.flavor, "value", info.flavor)) if info.flavor else None,
        "docker_image": info.docker_image,
        "space_id": info.space_id,
        "command": info.command,
        "environment": env,
        "secrets": list(info.secrets or []),
        "status_message": message,
    }
    return Job(
        id=info.id,
        provider=PROVIDER,
        status=status,
        provider_status=raw,
        base_model=env.get("FTSDK_BASE_MODEL"),
        output_model=env.get("FTSDK_OUTPUT_REPO") if status is JobStatus.SUCCEEDED else None,
        created_at=info.created_at,
        started_at=getattr(info, "started_at", None),
        finished_at=getattr(info, "finished_at", None),
        progress=1.0 if status is JobStatus.SUCCEEDED else None,
        labels=labels,
        client_ref=labels.get(CLIENT_REF_LABEL),
        error=error,
        provider_details=details,
    )


def job_info(item: dict[str, Any], endpoint: str, secrets: Iterable[str | None] = ()) -> Any:
    from huggingface_hub import JobInfo

    if not isinstance(item, dict):
        raise APIResponseValidationError(
            f"expected a job object in the jobs list, got {type(item).__name__}", provider=PROVIDER
        )
    try:
        return JobInfo(**item, endpoint=endpoint)
    except (TypeError, KeyError, ValueError, AttributeError) as exc:
        detail = excerpt(" ".join(str(exc).split()), secrets, limit=200)
    # Raised outside the except: the parse error may quote the item, and with it a key.
    raise APIResponseValidationError(
        f"a job in the jobs list is not what the HF Jobs API documents ({detail})",
        provider=PROVIDER,
    ) from None


def fetch_page(url: str, params: list[tuple[str, str]], token: str) -> tuple[list[Any], str | None]:
    """One page of ``GET /api/jobs/{ns}``: (items, next page URL or None)."""
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    response = get_session().get(url, params=tuple(params) or None,
                                 headers=build_hf_headers(token=token, library_name="finetune-sdk"))
    hf_raise_for_status(response)
    next_url = response.links.get("next", {}).get("url")
    items = response.json()  # JSONDecodeError -> translate_error -> APIResponseValidationError
    if not isinstance(items, list):
        raise APIResponseValidationError(
            f"expected a JSON list of jobs from GET {url}, got {type(items).__name__}",
            provider=PROVIDER,
        )
    return items, next_url


_LEVEL = re.compile(r"\b(ERROR|Traceback|CRITICAL|WARNING|WARN)\b")


@wire_parser(PROVIDER, "an HF job log line")
def event_from_line(job_id: str, number: int, line: str, secrets: Iterable[str | None]) -> JobEvent:
    """One log line as a JobEvent (level guessed from the text)."""
    found = _LEVEL.search(line)
    level: Literal["info", "warning", "error"] = "info"
    if found:
        level = "warning" if found.group(1).startswith("WARN") else "error"
    return JobEvent(job_id=job_id, id=str(number), message=redact(line, secrets), level=level,
                    type="log")


def translate_error(exc: BaseException, secrets: Iterable[str | None] = ()) -> BaseException:
    """huggingface_hub / httpx2 exceptions as our error tree (anything else unchanged)."""
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    # What the request carried, too: a key the adapter never saw is masked all the same.
    secrets = [*secrets, *sent_credentials(exc)]

    if isinstance(exc, APIError):
        return exc
    if isinstance(exc, OfflineModeIsEnabled):
        return ConfigurationError(
            "huggingface: HF_HUB_OFFLINE is set, so the Hub cannot be reached; unset it to"
            " upload data or run jobs"
        )
    if isinstance(exc, HfHubHTTPError):
        response = exc.response
        headers = response.headers if response is not None else {}
        message = (headers.get("x-error-message") or getattr(exc, "server_message", None)
                   or str(exc).splitlines()[0])
        return status_error(
            response.status_code if response is not None else 500,
            excerpt(str(message), secrets, limit=500),  # masked before the cut
            provider=PROVIDER,
            request_id=getattr(exc, "request_id", None) or headers.get("x-request-id"),
            provider_code=headers.get("x-error-code"),
            retry_after=parse_retry_after(dict(headers)),
        )
    if isinstance(exc, json.JSONDecodeError):  # huggingface_hub parses bodies unchecked
        return APIResponseValidationError(
            f"the Hub answered a body that is not JSON ({exc.msg})", provider=PROVIDER
        )
    if isinstance(exc, (KeyError, TypeError, AttributeError)):
        # huggingface_hub builds JobInfo(**body) without checking the body's shape.
        return APIResponseValidationError(
            f"the Hub answered a body huggingface_hub cannot read ({type(exc).__name__}:"
            f" {excerpt(' '.join(str(exc).split()), secrets, limit=200)})",
            provider=PROVIDER,
        )
    if isinstance(exc, httpx2.TransportError):
        # RemoteProtocolError (the server dropped the connection) lands here as ambiguous.
        from ..._http import translate_transport

        return translate_transport(exc, provider=PROVIDER, secrets=secrets)
    return exc

