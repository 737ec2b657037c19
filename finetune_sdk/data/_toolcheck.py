"""Tool-call checks for validation: the shapes OpenAI-style tool data must have.

An assistant message's ``tool_calls`` is a list of ``{"id": str, "type": "function",
"function": {"name": str, "arguments": str}}`` where ``arguments`` is a *string holding JSON*
(vendors reject an object there, and a string that is not JSON); a ``tool`` message answers one
call through ``tool_call_id``, which must name an earlier call of the same example. Vendors
refuse a file that breaks these at upload time, after the wait: here they are findings.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

__all__ = ["tool_findings"]

Found = tuple[str, str, str]
"""(code, message, field)"""


def _arguments(value: Any, field: str) -> Iterator[Found]:
    if not isinstance(value, str):
        yield ("bad_tool_call", f"function.arguments must be a JSON string (e.g."
               f" '{{\"x\": 1}}'), got {type(value).__name__}; json.dumps it", field)
        return
    try:
        json.loads(value)
    except RecursionError:
        yield "bad_tool_call", "function.arguments is nested too deeply to read", field
    except ValueError as exc:
        yield "bad_tool_call", f"function.arguments is not valid JSON ({exc})", field


def _calls(calls: Any, i: int, ids: set[str]) -> Iterator[Found]:
    where = f"messages[{i}].tool_calls"
    if not isinstance(calls, list) or not calls:
        yield "bad_tool_call", "tool_calls must be a non-empty list of calls", where
        return
    for j, call in enumerate(calls):
        at = f"{where}[{j}]"
        if not isinstance(call, dict):
            yield "bad_tool_call", "a tool call must be an object {id, type, function}", at
            continue
        ident = call.get("id")
        if ident is not None and not isinstance(ident, str):
            yield "bad_tool_call", f"id must be a string, got {type(ident).__name__}", f"{at}.id"
        elif isinstance(ident, str):
            ids.add(ident)
        kind = call.get("type", "function")
        if kind != "function":
            yield "bad_tool_call", f"type must be 'function', got {kind!r}", f"{at}.type"
        function = call.get("function")
        if not isinstance(function, dict):
            yield ("bad_tool_call", "a tool call needs a 'function' object {name, arguments}",
                   f"{at}.function")
            continue
        name = function.get("name")
        if not isinstance(name, str) or not name.strip():
            yield ("bad_tool_call", "function.name must be a non-empty string",
                   f"{at}.function.name")
        yield from _arguments(function.get("arguments"), f"{at}.function.arguments")


def tool_findings(message: dict[str, Any], i: int, ids: set[str]) -> Iterator[Found]:
    """Findings for message ``i``; ``ids`` collects the call ids seen so far in the example."""
    role = message.get("role")
    if "tool_calls" in message:
        if role != "assistant":
            yield ("bad_tool_call", f"only assistant messages make tool calls, not {role!r}",
                   f"messages[{i}].tool_calls")
        else:
            yield from _calls(message["tool_calls"], i, ids)
    if role == "tool":
        ident = message.get("tool_call_id")
        where = f"messages[{i}].tool_call_id"
        if not isinstance(ident, str) or not ident:
            yield ("bad_tool_result", "a tool message needs the 'tool_call_id' of the call it"
                   " answers", where)
        elif ident not in ids:
            known = ", ".join(sorted(ids)[:5]) or "none"
            yield ("bad_tool_result", f"tool_call_id {ident!r} matches no earlier assistant"
                   f" tool call in this example (call ids: {known})", where)
