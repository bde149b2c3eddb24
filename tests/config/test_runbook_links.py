"""Runbook links in the compose stack: Prometheus gets RUNBOOK_BASE_URL (the external label every
rule's runbook_url is built from), by default the forecaster's private listener, which compose
publishes on BIND_ADDRESS; one setting points the links elsewhere; the image carries the runbooks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from observatory import runbooks
from tests.config.test_compose import REPO, make_env, run_compose


def rendered(env_file: Path) -> dict:
    r = run_compose(env_file, "config", "--format", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["services"]


@pytest.fixture(scope="module")
def env_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("runbooks") / ".env"
    env = make_env(path)
    assert env["RUNBOOK_BASE_URL"] == "", "the generated .env leaves the base to its default"
    return path


def test_default_links_open_on_the_docker_host(env_file):
    services = rendered(env_file)
    published = {p["target"]: p for p in services["forecaster"]["ports"]}
    assert published[8091]["host_ip"] == "127.0.0.1", "the private listener stays on loopback by default"
    assert (
        services["prometheus"]["environment"]["RUNBOOK_BASE_URL"]
        == f"http://localhost:{published[8091]['published']}/runbooks"
    )
    prom = (REPO / "config/prometheus/prometheus.yml").read_text()
    assert "runbook_base_url: ${RUNBOOK_BASE_URL}" in prom


def test_one_setting_moves_every_link(env_file, tmp_path):
    custom = tmp_path / ".env"
    text = env_file.read_text().replace("FORECASTER_PRIVATE_PORT=8091", "FORECASTER_PRIVATE_PORT=18091")
    custom.write_text(text)
    services = rendered(custom)
    assert services["prometheus"]["environment"]["RUNBOOK_BASE_URL"] == "http://localhost:18091/runbooks"
    custom.write_text(text.replace("RUNBOOK_BASE_URL=", "RUNBOOK_BASE_URL=https://wiki.example.com/ops/runbooks"))
    assert rendered(custom)["prometheus"]["environment"]["RUNBOOK_BASE_URL"] == "https://wiki.example.com/ops/runbooks"


def test_the_image_carries_the_runbooks():
    dockerfile = (REPO / "services/Dockerfile").read_text()
    assert f"COPY runbooks/ {runbooks.IMAGE_RUNBOOKS}/" in dockerfile
    assert "!runbooks/" in (REPO / ".dockerignore").read_text().splitlines()
