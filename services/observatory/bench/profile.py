"""py-spy profiles of the benchmark's processes under load (`observatory bench --profile`): the raw
stacks and a summary (self and inclusive time of the top frames) per run, in .bench/."""

from __future__ import annotations

import collections
import shutil
import subprocess
import sys
from pathlib import Path


class Profile:
    def __init__(self, pid: int, seconds: float, out: Path) -> None:
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        self.raw, self.summary = out.with_suffix(".raw"), out.with_suffix(".txt")
        self.proc = subprocess.Popen(
            [
                spy,
                "record",
                "-d",
                str(max(1, int(seconds))),
                "-r",
                "200",
                "-f",
                "raw",
                "--nonblocking",
                "-o",
                str(self.raw),
                "-p",
                str(pid),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )

    def finish(self, top: int = 25) -> Path | None:
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return None
        if not self.raw.exists():
            return None
        self.summary.write_text(summarise(self.raw.read_text(), top))
        return self.summary


def summarise(raw: str, top: int = 25) -> str:
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        frames, count = stack.split(";"), int(n)
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            incl[frame] += count
    lines = [f"{total} samples", "", "self time:"]
    lines += [f"{100 * v / total:5.1f}%  {k}" for k, v in own.most_common(top)]
    lines += ["", "inclusive time:"] + [f"{100 * v / total:5.1f}%  {k}" for k, v in incl.most_common(top + 20)]
    return "\n".join(lines) + "\n"


def start(report, pid: int, seconds: float, name: str) -> Profile | None:
    """A profile when the run asked for them (report.profile), else None."""
    return Profile(pid, seconds, report.out_dir / f"profile-{name}") if report.profile else None


def finish(profile: Profile | None) -> None:
    if profile is not None:
        path = profile.finish()
        print(f"   profile: {path}" if path else "   profile: py-spy recorded nothing", flush=True)
