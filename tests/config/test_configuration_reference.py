"""docs/configuration.md is generated from the settings classes (`make config-reference`): it must be
current, every setting must have a description, and every OBS_* variable the package reads must be in it."""

from __future__ import annotations

import re
from pathlib import Path

from observatory import config_reference

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "configuration.md"
PACKAGE = REPO / "services" / "observatory"
# set by the local stack on its own processes, never by a user
INTERNAL = {"OBS_LOCAL_STACK", "OBS_LOCAL_CONFIG_DIGEST"}


def test_every_setting_has_a_description() -> None:
    assert config_reference.missing_descriptions() == []


def test_the_reference_is_current() -> None:
    assert DOC.read_text() == config_reference.render(), "docs/configuration.md is stale: run make config-reference"


def test_every_variable_the_package_reads_is_documented() -> None:
    text = DOC.read_text()
    used = set()
    for path in PACKAGE.rglob("*.py"):
        used |= set(re.findall(r"\"(OBS_[A-Z0-9_]*[A-Z0-9])\"", path.read_text()))
    undocumented = sorted(v for v in used - INTERNAL if f"`{v}`" not in text)
    assert undocumented == []


def test_a_setting_without_a_description_is_caught(monkeypatch) -> None:
    from pydantic.fields import FieldInfo

    from observatory.settings import IngestSettings

    fields = dict(IngestSettings.model_fields)
    fields["port"] = FieldInfo(default=8080, annotation=int)
    monkeypatch.setattr(IngestSettings, "model_fields", fields)
    assert config_reference.missing_descriptions() == ["OBS_INGEST_PORT"]
