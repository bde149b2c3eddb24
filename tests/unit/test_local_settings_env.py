"""`make local` remembers the alert channels and links in .local/settings.env (mode 0600): set once in
the environment, they still configure Alertmanager on the next run without being exported again."""

from __future__ import annotations

from pathlib import Path

from observatory.localstack import alerting

HOOK = "https://hooks.slack.test/services/T/B/secret"


def test_first_run_writes_the_channels_then_later_runs_read_them(tmp_path: Path) -> None:
    local = tmp_path / ".local"
    env, _ = alerting.remember(local, {"OBS_SLACK_WEBHOOK_URL": HOOK, "OBS_LOG_LEVEL": "DEBUG", "PATH": "/bin"})
    path = local / "settings.env"
    assert path.stat().st_mode & 0o777 == 0o600
    assert f"OBS_SLACK_WEBHOOK_URL={HOOK}\n" in path.read_text()
    assert "OBS_LOG_LEVEL" not in path.read_text() and "PATH" not in path.read_text()

    env, notes = alerting.remember(local, {"PATH": "/bin"})  # the next run, nothing exported
    assert env["OBS_SLACK_WEBHOOK_URL"] == HOOK
    endpoints, lines = alerting.endpoints_from_env(tmp_path / "secrets", env)
    assert endpoints.slack_url_file is not None and endpoints.slack_url_file.read_text().strip() == HOOK
    assert str(path) in notes[0]


def test_the_environment_overrides_and_an_empty_value_turns_a_channel_off(tmp_path: Path) -> None:
    local = tmp_path / ".local"
    alerting.remember(local, {"OBS_SLACK_WEBHOOK_URL": HOOK, "OBS_SMTP_SMARTHOST": "smtp.test:25"})
    env, _ = alerting.remember(
        local, {"OBS_SMTP_SMARTHOST": "mail.test:587", "OBS_CONSOLE_URL": "https://c.test/console/"}
    )
    assert env["OBS_SMTP_SMARTHOST"] == "mail.test:587" and env["OBS_SLACK_WEBHOOK_URL"] == HOOK
    assert env["OBS_CONSOLE_URL"] == "https://c.test/console/"
    env, _ = alerting.remember(local, {"OBS_SLACK_WEBHOOK_URL": ""})
    assert env["OBS_SLACK_WEBHOOK_URL"] == ""
    endpoints, _ = alerting.endpoints_from_env(tmp_path / "secrets", alerting.remember(local, {})[0])
    assert endpoints.slack_url_file is None


def test_an_edited_file_is_read_back(tmp_path: Path) -> None:
    local = tmp_path / ".local"
    alerting.remember(local, {})
    with (local / "settings.env").open("a") as f:
        f.write("OBS_ALERT_EMAIL_TO=oncall@site.test\nOBS_SMTP_SMARTHOST=smtp.site.test:25\nNOT_OURS=1\n")
    env, _ = alerting.remember(local, {})
    assert env["OBS_ALERT_EMAIL_TO"] == "oncall@site.test" and "NOT_OURS" not in env


def test_local_alert_links_point_at_this_stack_not_grafana_on_localhost_3000(tmp_path: Path) -> None:
    ports = {"private": 18081, "ingest": 18080, "alertmanager": 19093, "prometheus": 19090, "rabbitmq_prometheus": 1}
    ports |= {"blackbox": 2, "pushgateway": 3}
    server = alerting.prometheus(tmp_path, ports, {})
    labels = server.config["global"]["external_labels"]
    assert labels["console_url"] == "http://127.0.0.1:18081/console/"
    assert "grafana_url" not in labels  # no Grafana in the local stack: no dashboard link
    server = alerting.prometheus(tmp_path, ports, {"OBS_GRAFANA_URL": "https://grafana.site.test/"})
    assert server.config["global"]["external_labels"]["grafana_url"] == "https://grafana.site.test"
