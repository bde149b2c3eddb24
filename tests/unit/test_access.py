"""Read keys with scopes, keygen's entries, the access decision, and client-IP masking in access logs."""

from __future__ import annotations

import logging
import re

import pytest
from typer.testing import CliRunner

from observatory.api_keys import Access
from observatory.cli import app
from observatory.errors import ApiError
from observatory.logging import mask_client_ip, mask_ip
from observatory.settings import ApiSettings, ReportSettings, hash_key


def _entry(kind: str, name: str) -> tuple[str, str]:
    out = CliRunner().invoke(app, ["keygen", name, *([f"--{kind}"] if kind else [])]).output
    key = re.search(r"key:\s+(\S+)", out).group(1)
    entry = re.search(r"entry: (\S+)", out).group(1)
    return key, entry


def test_keygen_makes_write_read_and_admin_entries_the_settings_accept():
    write_key, write_entry = _entry("", "web")
    read_key, read_entry = _entry("read", "analyst")
    admin_key, admin_entry = _entry("admin", "ops")
    assert write_entry == f"web:sha256:{hash_key(write_key)}"
    assert read_entry.endswith(":read") and admin_entry.endswith(":admin")
    api = ApiSettings(api_keys=f"{read_entry},{admin_entry}", ingest_api_keys=write_entry)
    access = Access(api.read_keys(), api.write_hashes())
    assert access.check(read_key, "read").name == "analyst"
    assert access.check(admin_key, "admin").scopes == {"read", "admin"}
    with pytest.raises(ApiError) as denied:
        access.check(read_key, "admin")
    assert denied.value.status == 403
    with pytest.raises(ApiError) as write:
        access.check(write_key, "read")
    assert (write.value.status, write.value.code) == (403, "forbidden")
    for token in (None, "", "obs_unknown"):
        with pytest.raises(ApiError) as anon:
            access.check(token, "read")
        assert anon.value.status == 401 and anon.value.headers == {"WWW-Authenticate": "Bearer"}


@pytest.mark.parametrize("entries", ["x:sha256:abc:read", "x:sha256:" + "a" * 64 + ":write", "nokey"])
def test_malformed_read_key_entries_are_refused(entries):
    with pytest.raises(ValueError):
        ApiSettings(api_keys=entries)


def test_placeholder_read_key_refused_outside_development(monkeypatch):
    monkeypatch.setenv("OBS_ENV", "production")
    with pytest.raises(ValueError, match="placeholder"):
        ApiSettings(api_keys=f"x:sha256:{hash_key('changeme')}:read")


def test_smtp_password_is_secret():
    settings = ReportSettings(smtp_password="s3cr3t-Pa55")
    assert "s3cr3t" not in repr(settings) and "s3cr3t" not in str(settings.model_dump())
    assert settings.smtp_password.get_secret_value() == "s3cr3t-Pa55"


@pytest.mark.parametrize(
    "address, masked",
    [("203.0.113.77:51234", "203.0.113.0"), ("[2001:db8:1:2::5]:443", "2001:db8:1::"), ("unix-socket", "[masked]")],
)
def test_client_address_masking(address, masked):
    assert mask_ip(address) == masked


def test_access_log_lines_are_masked_when_enabled(caplog):
    logger = logging.getLogger("uvicorn.access")
    mask_client_ip(True)
    try:
        with caplog.at_level(logging.INFO, logger="uvicorn.access"):
            logger.info('%s - "%s %s HTTP/%s" %d', "198.51.100.23:40000", "POST", "/v1/events", "1.1", 202)
    finally:
        mask_client_ip(False)
    assert caplog.records[-1].getMessage().startswith("198.51.100.0 - ")
    assert "198.51.100.23" not in caplog.text
