"""No secret is committed: the generated .env stays out of git, and no tracked file holds a password,
key or token value (high-entropy values assigned to secret-looking names, or well-known token formats)."""

from __future__ import annotations

import math
import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SECRET_NAME = re.compile(
    r"(?i)(password|passwd|secret|token|api[_-]?key|private[_-]?key|encryption[_-]?key|webhook[_-]?url|access[_-]?key)"
    r"[\w.-]*[\"']?[ \t]*[:=][ \t]*[\"']?([^\s\"',;}{)]+)"
)
SIGNATURES = {
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "Slack webhook": re.compile(r"https://hooks\.slack\.com/services/T[0-9A-Z]+/B[0-9A-Z]+/[0-9A-Za-z]{20,}"),
    "Slack token": re.compile(r"\bxox[abpr]-[0-9A-Za-z-]{20,}"),
    "GitHub token": re.compile(r"\bgh[pousr]_[0-9A-Za-z]{30,}"),
}
PLACEHOLDER = re.compile(
    r"^(\$|@.*@$|<.*>$|\*+$|x+$|\.\.\.|changeme|change-me|example|none|null|true|false|"
    r"required|optional|str|string|secretstr|field|os\.environ|env|getenv|/|\./|[a-z_]+\()",
    re.I,
)
BINARY_SUFFIXES = {".png", ".jpg", ".gif", ".ico", ".pdf", ".gz", ".zip", ".jar", ".woff", ".woff2"}


def entropy(s: str) -> float:
    counts = Counter(s)
    return -sum(c / len(s) * math.log2(c / len(s)) for c in counts.values())


def tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    return [REPO / p for p in out.decode().split("\0") if p and (REPO / p).is_file()]


def suspicious_assignments(text: str) -> list[str]:
    found = []
    for m in SECRET_NAME.finditer(text):
        value = m.group(2)
        if PLACEHOLDER.match(value) or len(value) < 16 or re.search(r"[(\[$%<>]|\.\.\.|…", value):
            continue  # placeholders (<hex>, ...), interpolations and code are not values
        if re.fullmatch(r"[a-z_.]+", value) or re.fullmatch(r"[A-Z_]+", value):  # an identifier, not a value
            continue
        if entropy(value) >= 3.5:
            found.append(f"{m.group(1)}={value[:6]}...")
    return found


def test_env_file_is_ignored_and_untracked():
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=REPO)
    assert ignored.returncode == 0, ".env is not git-ignored"
    assert not [p for p in tracked_files() if p.name == ".env"], ".env is tracked"


def test_scanner_finds_what_it_should():
    assert suspicious_assignments("GRAFANA_ADMIN_PASSWORD=Zx81kQpLr0vT7mWb2YcN\n")
    assert suspicious_assignments('"password": "Zx81kQpLr0vT7mWb2YcN"')
    assert not suspicious_assignments("GRAFANA_ADMIN_PASSWORD=\n")
    assert not suspicious_assignments("password: ${GRAFANA_ADMIN_PASSWORD:?run make up}\n")
    assert not suspicious_assignments('"password": "@BROKER_PASSWORD@"')
    fake_hook = "https://hooks.slack.com/services/" + "T0000ABCD/B0000WXYZ/" + "abcdefghijklmnopqrstuvwx"
    assert SIGNATURES["Slack webhook"].search(fake_hook)
    assert not suspicious_assignments('OBS_INGEST_API_KEYS="web:sha256:<hex>,backend:sha256:<hex>"')
    assert suspicious_assignments("OBS_INGEST_API_KEYS=demo:sha256:04af6672a3b3f0dcb9b01de774c9d4dc544e2da253b0b523")


@pytest.mark.parametrize("signature", sorted(SIGNATURES))
def test_no_known_token_format_in_tracked_files(signature):
    pattern = SIGNATURES[signature]
    hits = []
    for path in tracked_files():
        if path.suffix in BINARY_SUFFIXES:
            continue
        text = path.read_text(errors="ignore")
        if pattern.search(text):
            hits.append(str(path.relative_to(REPO)))
    assert not hits, f"{signature} found in {hits}"


def test_no_secret_values_in_tracked_files():
    """Test suites hold deliberately fake keys of their own; everything else must hold none."""
    hits = {}
    for path in tracked_files():
        rel = path.relative_to(REPO)
        if path.suffix in BINARY_SUFFIXES or rel.parts[0] == "tests":
            continue
        found = suspicious_assignments(path.read_text(errors="ignore"))
        if found:
            hits[str(rel)] = found
    assert not hits, f"secret-looking values committed: {hits}"
