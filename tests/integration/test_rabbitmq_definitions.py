"""config/rabbitmq/definitions.json imported into a real RabbitMQ node the way the compose broker
imports it (boot-time `definitions.*` settings of config/rabbitmq/rabbitmq.conf, the password filled
in by the rabbitmq service's entrypoint), then the services' own topology declaration run against
it. A queue argument that differs from what observatory.broker.topology declares makes that
declaration fail with PRECONDITION_FAILED, which is how the compose services would fail at start."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import aio_pika
import pytest
import yaml

from observatory.broker import topology
from observatory.localstack.rabbitmq import RabbitNode
from observatory.settings import BrokerSettings

REPO = Path(__file__).resolve().parents[2]
CONF = REPO / "config" / "rabbitmq" / "rabbitmq.conf"
DEFINITIONS = REPO / "config" / "rabbitmq" / "definitions.json"
PASSWORD = "importTest123"


@dataclass
class ImportingNode(RabbitNode):
    """A private node that imports definitions at boot with the compose broker's own settings."""

    definitions_path: Path | None = None

    def write_config(self) -> None:
        super().write_config()
        lines = [line for line in CONF.read_text().splitlines() if line.startswith("definitions.")]
        assert any("import_backend = local_filesystem" in line for line in lines), lines
        lines = [
            re.sub(r"^definitions\.local\.path = .*$", f"definitions.local.path = {self.definitions_path}", line)
            for line in lines
        ]
        with open(self.base / "rabbitmq.conf", "a") as conf:
            conf.write("\n".join(lines) + "\n")


def render_like_the_container(tmp: Path) -> Path:
    """The rabbitmq service's entrypoint script, run by a real shell, with its paths remapped."""
    script = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["rabbitmq"]["entrypoint"][2]
    out = tmp / "definitions.json"
    script = (
        script.replace("$$", "$")
        .replace("/etc/rabbitmq/definitions.template.json", str(DEFINITIONS))
        .replace("/tmp/definitions.json", str(out))
        .replace("exec docker-entrypoint.sh rabbitmq-server", "true")
    )
    r = subprocess.run(
        ["sh", "-c", script],
        env={"BROKER_PASSWORD": PASSWORD, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert r.returncode == 0, r.stderr
    return out


def compose_broker_env() -> dict[str, str]:
    """The OBS_AMQP_* variables every compose service that talks to the broker gets (one set: they
    must agree), from the rendered compose config."""
    from tests.config.test_compose import env_file_for, run_compose

    tmp = Path(tempfile.mkdtemp())
    try:
        r = run_compose(env_file_for(tmp / ".env"), "config", "--format", "json")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    assert r.returncode == 0, r.stderr
    services = json.loads(r.stdout)["services"]
    sets = {
        name: {k: v for k, v in (svc.get("environment") or {}).items() if k.startswith("OBS_AMQP_")}
        for name, svc in services.items()
    }
    sets = {name: env for name, env in sets.items() if env}
    assert {"ingest", "consumer"} <= set(sets), sorted(sets)
    distinct = {json.dumps(env, sort_keys=True) for env in sets.values()}
    assert len(distinct) == 1, f"the services declare different topologies: {sets}"
    return next(iter(sets.values()))


def stack_settings(url: str) -> BrokerSettings:
    """What the compose services run with: BrokerSettings' defaults overridden by the OBS_AMQP_*
    variables compose gives them (queue type, ...), and this node's URL."""
    defaults = {n: f.default for n, f in BrokerSettings.model_fields.items()}
    env = {k.removeprefix("OBS_AMQP_").lower(): v for k, v in compose_broker_env().items()}
    unknown = set(env) - set(defaults)
    assert not unknown, f"compose sets OBS_AMQP_ variables no setting reads: {unknown}"
    return BrokerSettings.model_validate({**defaults, **env, "url": url})


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    base = tmp_path_factory.mktemp("rabbit-import")
    node = ImportingNode(base / "node", name="import", definitions_path=render_like_the_container(base))
    node.start()
    yield node
    node.destroy()


def amqp_url(node: RabbitNode, user: str = "observatory", password: str = PASSWORD) -> str:
    return f"amqp://{user}:{password}@127.0.0.1:{node.amqp_port}/%2F"


def ctl(node: RabbitNode, *args: str) -> str:
    r = subprocess.run(
        ["/usr/lib/rabbitmq/bin/rabbitmqctl", "-n", node.nodename, *args],
        env=node.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def node_queues(node: RabbitNode) -> dict[str, dict]:
    rows = json.loads(ctl(node, "list_queues", "-q", "--formatter", "json", "name", "arguments", "durable"))
    return {row["name"]: row for row in rows}


def as_dict(arguments) -> dict:
    """rabbitmqctl's JSON arguments: a map, or AMQP table rows [key, type, value] (3.10)."""
    if isinstance(arguments, dict):
        return arguments
    return {row[0]: row[-1] for row in arguments}


def test_the_imported_queues_carry_exactly_the_declared_arguments(imported):
    s = stack_settings(amqp_url(imported))
    declared = json.loads(DEFINITIONS.read_text())
    queues = node_queues(imported)
    for q in declared["queues"]:
        assert q["name"] in queues, f"{q['name']} was not imported (node has {sorted(queues)})"
        assert queues[q["name"]]["durable"] is True
        assert as_dict(queues[q["name"]]["arguments"]) == q["arguments"], q["name"]
    # ...and what the services declare at start is what was imported
    assert as_dict(queues[s.queue]["arguments"]) == topology.queue_arguments(s)
    assert as_dict(queues[s.dead_letter_queue]["arguments"]) == topology.dead_letter_queue_arguments(s)


def test_the_services_declaration_succeeds_on_the_imported_broker(imported):
    """The observatory user from the definitions logs in, and the services' declare (which asserts
    every argument, else PRECONDITION_FAILED) goes through without changing anything."""
    s = stack_settings(amqp_url(imported))
    before = node_queues(imported)

    async def declare() -> None:
        connection = await aio_pika.connect(s.url, timeout=30)
        async with connection:
            await topology.declare(await connection.channel(), s)

    asyncio.run(declare())
    assert node_queues(imported) == before


def test_a_differing_argument_is_refused(imported):
    """The check above can fail: a declaration whose max length differs is refused by the broker."""
    s = stack_settings(amqp_url(imported))

    async def declare_other() -> None:
        connection = await aio_pika.connect(s.url, timeout=30)
        async with connection:
            args = {**topology.queue_arguments(s), "x-max-length": s.max_length + 1}
            await (await connection.channel()).declare_queue(s.queue, durable=True, arguments=args)

    with pytest.raises(aio_pika.exceptions.ChannelPreconditionFailed):
        asyncio.run(declare_other())


def test_only_the_definitions_user_exists_no_default_guest(imported):
    users = {row["user"] for row in json.loads(ctl(imported, "list_users", "-q", "--formatter", "json"))}
    assert users == {"observatory"}
