"""Settings and credentials: explicit argument, then environment, then an optional .env file.

Secrets are held as ``pydantic.SecretStr`` so ``repr()`` shows ``**********``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from pydantic import SecretStr

from .errors import ConfigurationError

__all__ = ["env_file_values", "home_dir", "resolve_secret", "setting", "write_env_var"]


def home_dir() -> Path:
    """``FINETUNE_SDK_HOME`` or ``~/.finetune_sdk``: ledger, local jobs, fake-provider state."""
    root = os.environ.get("FINETUNE_SDK_HOME") or Path.home() / ".finetune_sdk"
    path = Path(root).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ConfigurationError(
            f"FINETUNE_SDK_HOME {str(path)!r} is a file (or under one), not a folder; point it"
            " at a folder for the ledger and job state") from None
    return path


def env_file_values(path: str | Path | None = None) -> dict[str, str]:
    """KEY=VALUE pairs of a .env file (``FINETUNE_SDK_ENV_FILE``, else ./.env); {} if absent."""
    candidate = Path(path or os.environ.get("FINETUNE_SDK_ENV_FILE") or ".env")
    if not candidate.is_file():
        return {}
    values: dict[str, str] = {}
    for raw in candidate.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def setting(explicit: str | None, *env_names: str,
            env_file: str | Path | None = None) -> str | None:
    """First of: the explicit value, the env vars in order, the same names in the .env file."""
    if explicit:
        return explicit
    for name in env_names:
        if os.environ.get(name):
            return os.environ[name]
    from_file = env_file_values(env_file)
    for name in env_names:
        if from_file.get(name):
            return from_file[name]
    return None


def resolve_secret(
    explicit: str | SecretStr | None,
    *env_names: str,
    provider: str,
    argument: str = "api_key",
    env_file: str | Path | None = None,
) -> SecretStr:
    """A required secret, or ConfigurationError naming the argument and env vars to set."""
    if isinstance(explicit, SecretStr):
        explicit = explicit.get_secret_value()
    value = setting(explicit, *env_names, env_file=env_file)
    if not value:
        names = " or ".join(env_names)
        raise ConfigurationError(
            f"{provider}: no credentials. Pass {argument}=... or set {names} (environment or .env)."
        )
    return SecretStr(value)


def write_env_var(path: str | Path, name: str, value: str) -> None:
    """Set ``name=value`` in a .env file, keeping every other line; written atomically."""
    target = Path(path)
    lines = target.read_text(encoding="utf-8").splitlines() if target.exists() else []
    assignment = f"{name}={value}"
    replaced = False
    for i, line in enumerate(lines):
        stripped = line.strip().removeprefix("export ")
        if stripped.split("=", 1)[0].strip() == name and "=" in stripped:
            lines[i] = assignment
            replaced = True
    if not replaced:
        lines.append(assignment)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".env.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
        os.replace(tmp, target)
    except BaseException:  # a full disk or Ctrl-C must not leave a stray temp file behind
        Path(tmp).unlink(missing_ok=True)
        raise
