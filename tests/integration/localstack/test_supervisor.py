"""A real supervisord of a stack folder: a program that keeps failing at start ends FATAL after its
back-off retries, and the revive listener starts it again once the cause is gone; shutdown leaves
nothing of the stack running."""

from __future__ import annotations

from observatory.localstack import owners
from observatory.localstack.proc import wait_for
from observatory.localstack.supervisor import Program, Supervisor


def _state(sup: Supervisor, name: str) -> str:
    return next(p["statename"] for p in sup.processes() if p["name"] == name)


def test_a_fatal_program_is_started_again_by_the_revive_listener(tmp_path):
    local = (tmp_path / ".local").resolve()
    flag = tmp_path / "cause-fixed"
    flaky = Program(
        "flaky", ["/bin/sh", "-c", f"test -f {flag} || exit 3; exec sleep 300"], startsecs=1, startretries=1
    )
    sup = Supervisor(local, [flaky], revive_after_s=2)
    sup.write()
    sup.start()
    try:
        wait_for("flaky FATAL after its retries", lambda: _state(sup, "flaky") == "FATAL", 30)
        assert "exit status 3" in (local / "logs" / "supervisord.log").read_text()
        flag.touch()
        wait_for("flaky RUNNING again, started by the revive listener", lambda: _state(sup, "flaky") == "RUNNING", 30)
        assert "started flaky again after FATAL" in sup.log_path("revive").read_text()
    finally:
        sup.shutdown(timeout_s=30)
    assert owners.stack_processes(local) == []


def test_processes_of_a_pre_supervision_stack_are_found_only_if_they_still_are_its_own(tmp_path):
    import json
    import subprocess
    import sys

    import psutil

    local = (tmp_path / ".local").resolve()
    (local / "prometheus").mkdir(parents=True)
    sleep = [sys.executable, "-c", "import time; time.sleep(60)"]
    ours = subprocess.Popen(sleep + [f"--config.file={local}/prometheus/prometheus.yml"])
    recycled = subprocess.Popen(sleep)  # a pid recorded once, now someone else's
    try:
        wait_for(
            "both sleepers started",
            lambda: all("time.sleep" in " ".join(psutil.Process(p.pid).cmdline()) for p in (ours, recycled)),
            10,
        )
        (local / "state.json").write_text(
            json.dumps({"prometheus": {"pid": ours.pid}, "alertmanager": {"pid": recycled.pid}})
        )
        assert [p.pid for p in owners.legacy_processes(local)] == [ours.pid]
        (local / "state.json").unlink()
        assert owners.legacy_processes(local) == []
    finally:
        for p in (ours, recycled):
            p.kill()
            p.wait()
