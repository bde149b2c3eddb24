"""The supervisord config the local stack writes, read back by supervisor's own parser: every program
with restart, backoff, group stop/kill and rotated logs; environment values survive quoting."""

from __future__ import annotations

from supervisor.datatypes import RestartUnconditionally
from supervisor.options import ServerOptions

from observatory.localstack.supervisor import MARKER, START_RETRIES, Program, Supervisor


def _parsed(tmp_path, programs):
    sup = Supervisor(tmp_path, programs)
    conf = sup.write()
    opts = ServerOptions()
    opts.configfile = str(conf)
    opts.process_config(do_usage=False)
    return sup, {g.name: g.process_configs[0] for g in opts.process_group_configs}


def test_programs_restart_with_backoff_stop_as_a_group_and_rotate_logs(tmp_path):
    sup, progs = _parsed(
        tmp_path,
        [
            Program("rabbitmq", ["/bin/sleep", "100"], priority=20, stopwaitsecs=60),
            Program("observatory", ["/usr/bin/python3", "-m", "x"], priority=30),
        ],
    )
    assert set(progs) == {"rabbitmq", "observatory", "revive"}
    assert progs["revive"].name == "revive" and "observatory.localstack.revive" in progs["revive"].command
    r = progs["rabbitmq"]
    assert r.command == "/bin/sleep 100" and r.priority == 20 and r.stopwaitsecs == 60
    assert r.autorestart is RestartUnconditionally and r.startretries == START_RETRIES  # even after exit code 0
    assert r.stopasgroup and r.killasgroup and r.redirect_stderr
    assert r.stdout_logfile == str(sup.log_path("rabbitmq")) and str(tmp_path / "logs") in r.stdout_logfile
    assert r.stdout_logfile_maxbytes == 10 * 1024 * 1024 and r.stdout_logfile_backups == 5
    assert r.environment[MARKER] == str(tmp_path)
    assert sup.conf.stat().st_mode & 0o077 == 0


def test_environment_values_with_commas_quotes_and_percent_survive(tmp_path):
    tricky = {"A": "x,y=z", "B": 'say "hi" now', "C": "100%", "D": "it's", "E": "amqp://g:g@h:1/%2F"}
    _, progs = _parsed(tmp_path, [Program("p", ["/bin/true"], environment=tricky)])
    env = progs["p"].environment
    assert {k: env[k] for k in tricky} == tricky


def test_a_value_supervisor_would_alter_is_refused(tmp_path):
    import pytest

    with pytest.raises(ValueError, match="cannot be passed through supervisord"):
        Supervisor(tmp_path, [Program("p", ["/bin/true"], environment={"X": 'ends with "quote"'})]).render()


def test_a_deep_stack_folder_gets_a_short_stable_socket_path(tmp_path):
    import subprocess
    import sys

    deep = tmp_path / ("d" * 60) / ("e" * 60) / ".local"
    a = Supervisor(deep, [])
    other_process = subprocess.run(  # `make local` and `make local-status` are different processes
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from observatory.localstack.supervisor import "
            "Supervisor; print(Supervisor(Path(sys.argv[1]), []).sock)",
            str(deep),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    assert len(str(a.sock)) < 100 and str(a.sock) == other_process
    assert Supervisor(tmp_path / "other" / ("d" * 60) / ("e" * 60), []).sock != a.sock
