"""Every alert's runbook link opens. A copy of the repo's rule files in which every alert fires at
once (expression `vector(1)`, `for: 0s`; labels and annotations byte for byte) is loaded by a real
Prometheus with the loopback configuration, whose `runbook_base_url` external label points at the
private listener of a running forecaster process. Each link Prometheus rendered into the alerts'
annotations (GET /api/v1/alerts) is fetched like a browser would, without a key: 200, HTML, the
alert's name on the page.
"""

from __future__ import annotations

import httpx
import pytest

from observatory.localstack.proc import free_port, wait_for
from observatory.localstack.prometheus import PrometheusServer
from observatory.localstack.services import ServiceProcess
from observatory.monitoring import RUNBOOKS_DIR, dump_yaml, load_yaml, promconfig, rules


def firing_copy(out_dir) -> list:
    """The rule files with every alert's expression replaced by `vector(1)` and `for` by 0s."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in rules.rule_files():
        doc = load_yaml(path)
        for group in doc.get("groups", []):
            for rule in group.get("rules", []):
                if "alert" in rule:
                    rule["expr"], rule["for"] = "vector(1)", "0s"
        (out_dir / path.name).write_text(dump_yaml(doc))
        written.append(out_dir / path.name)
    return written


@pytest.fixture(scope="module")
def forecaster(tmp_path_factory):
    base = tmp_path_factory.mktemp("runbook-forecaster")
    env = {
        "OBS_ENV": "test",
        "OBS_LOG_LEVEL": "WARNING",
        "OBS_ACCESS_LOG": "false",
        "OBS_CLICKHOUSE_DSN": f"chdb://{(base / 'chdb').resolve()}",
        "OBS_CLICKHOUSE_DATABASE": "observatory",
        "OBS_FORECASTER_HOST": "127.0.0.1",
        "OBS_FORECASTER_PRIVATE_HOST": "127.0.0.1",
    }
    port = free_port()
    proc = ServiceProcess("forecaster", port, {**env, "OBS_FORECASTER_PORT": str(port)}, base / "forecaster.log")
    proc.start(120)
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def firing(tmp_path_factory, forecaster):
    base = tmp_path_factory.mktemp("runbook-prometheus")
    port = free_port()
    plan = promconfig.LoopbackPlan(
        targets={},
        rule_files=[str(p) for p in firing_copy(base / "rules")],
        intervals=promconfig.FAST_INTERVALS,
        runbook_base_url=f"{forecaster.private_url}/runbooks/",
    )
    prom = PrometheusServer(base, promconfig.loopback_config(plan), port=port)
    prom.start(60)
    try:
        expected = {a.name for a in rules.alerts()}

        def all_firing() -> bool:
            return {a["labels"]["alertname"] for a in prom.alerts() if a["state"] == "firing"} >= expected

        wait_for(f"all {len(expected)} alerts firing in Prometheus", all_firing, 60)
        yield prom.alerts()
    finally:
        prom.stop()


def test_every_rendered_runbook_link_opens_on_the_private_listener(firing, forecaster):
    expected = {a.name for a in rules.alerts()}
    assert len(expected) == len(list(RUNBOOKS_DIR.glob("*.md"))) >= 30
    links = {a["labels"]["alertname"]: a["annotations"]["runbook_url"] for a in firing}
    assert set(links) == expected
    with httpx.Client(timeout=10) as http:  # no Authorization header: opened from Slack or an email
        for name, link in sorted(links.items()):
            # the trailing slash given as base is not doubled
            assert link == f"{forecaster.private_url}/runbooks/{name}.md", link
            r = http.get(link)
            assert r.status_code == 200, (name, link, r.status_code, r.text[:200])
            assert r.headers["content-type"].startswith("text/html"), (name, r.headers["content-type"])
            assert f"<h1>{name}</h1>" in r.text and f"<title>{name} runbook</title>" in r.text, (name, r.text[:300])
            assert "<h2>Mitigation</h2>" in r.text, name
        index = http.get(f"{forecaster.private_url}/runbooks/")
        assert index.status_code == 200 and all(f'href="{n}.md"' in index.text for n in expected)
        # the read API of the same listener still needs a key; the public listener serves no runbook
        assert http.post(f"{forecaster.private_url}/v1/query", json={"sql": "SELECT 1"}).status_code == 401
        assert http.get(f"{forecaster.url}/runbooks/ServiceDown.md").status_code == 404
