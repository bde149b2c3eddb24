"""What every command group shares: settings from the environment with readable errors, the local
stack's folder and keys, the process boot (logging, redaction, tracing)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import typer

LOCAL_DIR = Path(os.environ.get("OBS_LOCAL_DIR", Path.cwd() / ".local"))


def fail(message: str, code: int = 1) -> NoReturn:
    typer.secho(f"error: {message}", fg="red", err=True)
    raise typer.Exit(code)


def env_settings(cls):
    from pydantic import ValidationError

    try:
        return cls()
    except ValidationError as exc:
        lines = [f"  {'.'.join(map(str, e['loc'])) or cls.__name__}: {e['msg']}" for e in exc.errors()]
        fail(f"invalid settings ({cls.model_config.get('env_prefix')}*):\n" + "\n".join(lines))


def local_defaults() -> None:
    """Store commands (query, migrate) default to the local stack's settings when it was set up."""
    env_file = LOCAL_DIR / "observatory.env"
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep:
                os.environ.setdefault(key, value)


def read_key_header(explicit: str | None) -> dict[str, str]:
    """Authorization header for the private (read) API: --read-key, OBS_READ_KEY or .local/read-key."""
    key = explicit or os.environ.get("OBS_READ_KEY")
    if not key and (LOCAL_DIR / "read-key").exists():
        key = (LOCAL_DIR / "read-key").read_text().strip()
    return {"Authorization": f"Bearer {key}"} if key else {}


def api_key_or_exit(explicit: str | None) -> str:
    key = explicit or os.environ.get("OBS_API_KEY")
    if not key and (LOCAL_DIR / "api-key").exists():
        key = (LOCAL_DIR / "api-key").read_text().strip()
    if not key:
        fail("no API key: pass --api-key, set OBS_API_KEY, or start the local stack (`make local`)")
    return key


def boot(service: str):
    from observatory import redact, tracing
    from observatory.logging import mask_client_ip, setup_logging
    from observatory.settings import CommonSettings

    common = env_settings(CommonSettings)
    setup_logging(service, common.log_level)
    mask_client_ip(common.masks_client_ip())
    redact.configure(common.redact_properties)
    tracing.setup(common, service)  # nothing when OBS_OTLP_ENDPOINT is unset
    return common
