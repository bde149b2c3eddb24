"""Run a set of programs under supervisord (PyPI `supervisor`): config rendering and control.

One supervisord per stack folder, with its pidfile, socket, config and logs inside that folder, so
several stacks (the user's `make local`, a test's, `make soak`'s) never see each other. Programs are
restarted with backoff when they exit (`autorestart=true`: a crash, a kill -9, even exit code 0);
stops signal the whole process group. Every process the stack starts carries the environment
variable MARKER=<stack folder>, which is how `observatory.localstack.owners` tells the stack's own
processes (orphans of a crashed supervisord included) from foreign ones.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
import xmlrpc.client
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from observatory.localstack.proc import pid_alive, wait_for

MARKER = "OBS_LOCAL_STACK"
START_RETRIES = 20  # backoff 1 s, 2 s, ... 20 s between failed starts, then FATAL (revive.py restarts it)
REVIVE_AFTER_S = 30.0
LOG_MAX_BYTES = "10MB"
LOG_BACKUPS = 5


@dataclass
class Program:
    name: str
    command: list[str]
    environment: dict[str, str] = field(default_factory=dict)
    directory: Path | None = None
    priority: int = 50  # lower starts first, stops last
    startsecs: int = 3  # up this long = started; an earlier exit counts as a failed start
    stopwaitsecs: int = 20  # SIGTERM, then SIGKILL to the group after this long
    startretries: int = START_RETRIES


def _quote(value: str) -> str:
    """A value for supervisor's `environment=` (non-POSIX shlex without escapes, then quotes stripped
    from both ends): values it cannot carry are refused rather than changed."""
    if "\n" in value or ('"' in value and "'" in value) or value[-1:] in ("'", '"') or value[:1] in ("'", '"'):
        raise ValueError(
            f"environment value {value[:20]!r}...: a newline, both quote kinds, or a quote at "
            "either end cannot be passed through supervisord"
        )
    q = "'" if '"' in value else '"'
    return q + value.replace("%", "%%") + q


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout_s: float) -> None:
        super().__init__("localhost", timeout=timeout_s)
        self.unix_path = str(path)

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


class _UnixTransport(xmlrpc.client.Transport):
    def __init__(self, path: Path, timeout_s: float) -> None:
        super().__init__()
        self.unix_path, self.timeout_s = path, timeout_s

    def make_connection(self, host):
        return _UnixConnection(self.unix_path, self.timeout_s)


def _command(argv: list[str]) -> str:
    return shlex.join(argv).replace("%", "%%")


class Supervisor:
    """The supervisord of one stack folder."""

    def __init__(self, local: Path, programs: list[Program], revive_after_s: float = REVIVE_AFTER_S) -> None:
        self.local = local
        self.programs = programs
        self.revive_after_s = revive_after_s
        self.dir = local / "supervisor"
        self.logs = local / "logs"
        self.conf = self.dir / "supervisord.conf"
        self.pidfile = self.dir / "supervisord.pid"
        sock = self.dir / "supervisor.sock"
        # AF_UNIX paths are limited to 107 bytes: deep folders get a short socket name in /tmp
        short = hashlib.sha256(str(local).encode()).hexdigest()[:16]
        self.sock = sock if len(str(sock)) < 100 else Path(f"/tmp/obs-supervisor-{short}.sock")

    def log_path(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    # -- config ---------------------------------------------------------------------------------------
    def render(self) -> str:
        sections = [
            f"[unix_http_server]\nfile={self.sock}\nchmod=0700\n",
            "[supervisord]\n"
            f"logfile={self.logs / 'supervisord.log'}\nlogfile_maxbytes={LOG_MAX_BYTES}\nlogfile_backups=3\n"
            f"pidfile={self.pidfile}\ndirectory={self.local}\nchildlogdir={self.logs}\n"
            f"identifier=observatory-local\nenvironment={MARKER}={_quote(str(self.local))}\n",
            "[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n",
            f"[supervisorctl]\nserverurl=unix://{self.sock}\n",
        ]
        for p in self.programs:
            env = {**p.environment, MARKER: str(self.local)}
            sections.append(
                f"[program:{p.name}]\n"
                f"command={_command(p.command)}\n"
                f"directory={p.directory or self.local}\n"
                f"environment={','.join(f'{k}={_quote(v)}' for k, v in sorted(env.items()))}\n"
                f"priority={p.priority}\nautostart=true\nautorestart=true\n"
                f"startsecs={p.startsecs}\nstartretries={p.startretries}\n"
                f"stopsignal=TERM\nstopwaitsecs={p.stopwaitsecs}\nstopasgroup=true\nkillasgroup=true\n"
                f"redirect_stderr=true\nstdout_logfile={self.log_path(p.name)}\n"
                f"stdout_logfile_maxbytes={LOG_MAX_BYTES}\nstdout_logfile_backups={LOG_BACKUPS}\n"
            )
        revive_env = {MARKER: str(self.local), "OBS_LOCAL_REVIVE_AFTER_S": str(self.revive_after_s)}
        sections.append(  # FATAL programs are started again after a pause (observatory.localstack.revive)
            "[eventlistener:revive]\n"
            f"command={_command([sys.executable, '-m', 'observatory.localstack.revive'])}\n"
            f"environment={','.join(f'{k}={_quote(v)}' for k, v in sorted(revive_env.items()))}\n"
            "events=PROCESS_STATE_FATAL\npriority=1\nautorestart=true\nstdout_logfile=NONE\n"
            f"stderr_logfile={self.log_path('revive')}\nstderr_logfile_maxbytes={LOG_MAX_BYTES}\n"
            f"stderr_logfile_backups=2\n"
        )
        return "# generated by observatory.localstack.supervisor (`make local` rewrites it)\n\n" + "\n".join(sections)

    def write(self) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        self.conf.touch(mode=0o600)
        self.conf.chmod(0o600)  # program environments may hold settings the user keeps private
        self.conf.write_text(self.render())
        return self.conf

    # -- the daemon -----------------------------------------------------------------------------------
    def pid(self) -> int | None:
        """supervisord's pid, only if that process still is this stack's (never a recycled pid)."""
        try:
            pid = int(self.pidfile.read_text().strip())
            proc = psutil.Process(pid)
            if proc.status() != psutil.STATUS_ZOMBIE and proc.environ().get(MARKER) == str(self.local):
                return pid
        except (OSError, ValueError, psutil.Error):
            pass
        return None

    def rpc(self, timeout_s: float = 10.0):
        """supervisord's XML-RPC interface (what supervisorctl uses), every call bounded by `timeout_s`."""
        return xmlrpc.client.ServerProxy("http://localhost", transport=_UnixTransport(self.sock, timeout_s)).supervisor

    def running(self) -> bool:
        if self.pid() is None:
            return False
        try:
            return self.rpc().getState()["statename"] == "RUNNING"
        except (OSError, xmlrpc.client.Error):
            return False

    def start(self, timeout_s: float = 30.0) -> None:
        binary = shutil.which("supervisord", path=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
        if binary is None:
            raise RuntimeError("supervisord is not installed: run `make local` (it installs the pinned `supervisor`)")
        out = subprocess.run(
            [binary, "-c", str(self.conf)],
            env={**os.environ, MARKER: str(self.local)},
            capture_output=True,
            text=True,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
        )
        if out.returncode != 0:
            raise RuntimeError(f"supervisord did not start: {(out.stderr or out.stdout).strip()}")
        wait_for(
            f"supervisord answering on {self.sock}",
            self.running,
            timeout_s,
            log_hint=f"see {self.logs / 'supervisord.log'}",
        )

    def reconcile(self) -> list[str]:
        """`supervisorctl update` (re-read the config; add, restart changed, remove), then start what is
        stopped or FATAL. Returns one line per change."""
        s = self.rpc(timeout_s=180)  # a stop waits for the program to exit (RabbitMQ: up to its stopwaitsecs)
        [[added, changed, removed]] = s.reloadConfig()
        for name in removed:
            s.stopProcessGroup(name)
            s.removeProcessGroup(name)
        for name in changed:
            s.stopProcessGroup(name)
            s.removeProcessGroup(name)
            s.addProcessGroup(name)
        for name in added:
            s.addProcessGroup(name)
        lines = [
            f"{verb} {name}"
            for verb, names in (("added", added), ("restarted (config changed)", changed), ("removed", removed))
            for name in names
        ]
        for info in s.getAllProcessInfo():
            if info["statename"] in ("STOPPED", "EXITED", "FATAL"):
                try:
                    s.startProcess(info["name"], False)
                except xmlrpc.client.Fault as fault:  # started meanwhile (autorestart, revive)
                    if "ALREADY_STARTED" not in fault.faultString:
                        raise
                lines.append(f"started {info['name']} (was {info['statename']})")
        return lines

    def processes(self) -> list[dict]:
        return self.rpc().getAllProcessInfo()

    def shutdown(self, timeout_s: float) -> bool:
        """Stop every program (reverse priority, group signals) and supervisord; True if it was running."""
        pid = self.pid()
        if pid is None:
            return False
        try:
            self.rpc().shutdown()
        except (OSError, xmlrpc.client.Error):
            os.kill(pid, 15)
        deadline = time.monotonic() + timeout_s
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        return True
