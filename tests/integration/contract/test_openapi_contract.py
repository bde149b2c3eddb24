"""The OpenAPI documents are a contract a generated client can trust: Schemathesis (every check)
against both listeners of the real all-in-one shape (ingest + consumer + the forecaster's routes,
on the session's RabbitMQ node and chDB), served over real sockets, must report zero failures."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import resource
import sys
from pathlib import Path

import pytest
import uvicorn

from observatory.consumer.app import build_consumer
from observatory.forecaster.app import build_forecaster
from observatory.localstack.proc import free_port
from observatory.metrics import new_registry
from observatory.settings import ConsumerSettings, ForecasterSettings, ReportSettings
from tests.integration.conftest import ADMIN_KEY, API_KEY, host_consumer_and_forecaster

HERE = Path(__file__).parent
ROOT = HERE.parents[2]


@contextlib.asynccontextmanager
async def serving(app):
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning", access_log=False)
    )
    task = asyncio.create_task(server._serve())
    while not server.started:
        assert not task.done(), "the server did not start"
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def _bounded() -> None:
    """The fuzzer's own memory bound (the machine is shared): 3 GiB of address space."""
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))


async def schemathesis(schema_url: str, base_url: str, key: str, config: str, *extra: str) -> tuple[int, str]:
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.integration.contract.st_hooks",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "st"),
        "--config-file",
        str(HERE / config),
        "run",
        schema_url,
        "--url",
        base_url,
        "--checks",
        "all",
        "-H",
        f"Authorization: Bearer {key}",
        "--max-examples",
        "25",
        "--seed",
        "9",
        "--request-timeout",
        "60",
        *extra,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
        cwd=str(ROOT),
        preexec_fn=_bounded,
    )
    out, _ = await proc.communicate()
    text = out.decode(errors="replace")
    Path(os.environ.get("OBS_ST_LOG", "/dev/null")).write_text(text)
    return proc.returncode, text


def _clean(code: int, out: str) -> bool:
    """Exit 0, every phase run without a failure (warnings about generated data are not failures)."""
    return (
        code == 0
        and re.search(r"Test cases:\s+\d+ generated, \d+ passed", out) is not None
        and re.search(r"\d+ (failure|error)s? in ", out) is None
    )


def _summary(out: str) -> str:
    """The failures, without the multi-megabyte request bodies Schemathesis prints to reproduce them."""
    return "\n".join(line[:300] for line in out.splitlines() if "curl " not in line)[-8000:]


@pytest.fixture
async def all_in_one(broker_settings, store_settings, chdb):
    registry = new_registry("contract", "0")
    consumer, client = build_consumer(broker_settings, ConsumerSettings(flush_ms=50), store_settings, registry)
    chdb.track(client)
    reports = ReportSettings(recipients="ops@shop.test", smtp_port=free_port(), smtp_timeout_s=2)
    fc = build_forecaster(ForecasterSettings(), store_settings, registry, reports)
    chdb.track(fc.client)
    app = host_consumer_and_forecaster(broker_settings, registry, consumer, fc)
    async with app.lifespan():
        async with serving(app.public) as public, serving(app.private) as private:
            yield public, private
    fc.close()


async def test_public_listener_honours_its_contract(all_in_one):
    public, private = all_in_one
    code, out = await schemathesis(
        f"{private}/openapi/public.json", public, API_KEY, "public.toml", *os.environ.get("OBS_ST_EXTRA", "").split()
    )
    assert _clean(code, out), _summary(out)


async def test_private_listener_honours_its_contract(all_in_one):
    public, private = all_in_one
    code, out = await schemathesis(
        f"{private}/openapi.json", private, ADMIN_KEY, "private.toml", *os.environ.get("OBS_ST_EXTRA", "").split()
    )
    assert _clean(code, out), _summary(out)
