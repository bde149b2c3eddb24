"""The runbooks on the private listener (observatory.runbooks): rendered pages, the index, 404 for
anything not in the folder (no way out of it), no key needed, nothing on the public listener."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from observatory import runbooks
from observatory.api_keys import Access
from observatory.errors import install_error_handlers
from observatory.listeners import private_app, public_app
from observatory.metrics import new_registry
from observatory.monitoring import RUNBOOKS_DIR


def client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://private")


@pytest.fixture
def apps():
    public = public_app("t", "d", {})
    private = private_app("t", "d", {}, new_registry("test", "0"), Access([]), public=public)
    return public, private


async def test_every_runbook_renders_without_a_key(apps):
    _, private = apps
    names = sorted(p.stem for p in RUNBOOKS_DIR.glob("*.md"))
    assert len(names) >= 30
    async with client(private) as http:
        index = await http.get("/runbooks/")
        assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
        assert [n for n in names if f'<a href="{n}.md">{n}</a>' not in index.text] == []
        for name in names:
            r = await http.get(f"/runbooks/{name}.md")
            assert r.status_code == 200, name
            assert f"<h1>{name}</h1>" in r.text and "<h2>What it means</h2>" in r.text, name
        page = (await http.get("/runbooks/ServiceDown.md")).text
        assert "<code>make local-status</code>" in page and "<li>" in page and 'href="./"' in page
        assert (await http.get("/runbooks")).status_code in (200, 307)  # redirected to the index


@pytest.mark.parametrize(
    "path",
    [
        "/runbooks/Nope.md",
        "/runbooks/ServiceDown",
        "/runbooks/servicedown.md",
        "/runbooks/.md",
        "/runbooks/..%2FREADME.md",
        "/runbooks/%2e%2e%2fREADME.md",
        "/runbooks/..%2F..%2Fetc%2Fpasswd",
        "/runbooks/%2Fetc%2Fpasswd",
        "/runbooks/ServiceDown.md%00.txt",
        "/runbooks/ServiceDown.md/x",
    ],
)
async def test_unknown_names_and_traversal_are_404(apps, path):
    _, private = apps
    async with client(private) as http:
        r = await http.get(path)
    assert r.status_code == 404, (path, r.status_code, r.text[:200])
    assert "root:" not in r.text and "Observatory" not in r.text


async def test_public_listener_serves_no_runbook(apps):
    public, _ = apps
    async with client(public) as http:
        assert (await http.get("/runbooks/ServiceDown.md")).status_code == 404
        assert (await http.get("/runbooks/")).status_code == 404


async def test_raw_html_is_escaped_and_edits_show(tmp_path):
    (tmp_path / "Evil.md").write_text("# Evil\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1))\n")
    (tmp_path / "notes.txt").write_text("not a runbook")
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(runbooks.runbooks_router(tmp_path))
    async with client(app) as http:
        page = (await http.get("/runbooks/Evil.md")).text
        assert "<script>" not in page and "&lt;script&gt;" in page and 'href="javascript:' not in page
        assert (await http.get("/runbooks/notes.txt")).status_code == 404
        import os

        path = tmp_path / "Evil.md"
        path.write_text("# Evil\n\nchanged\n")
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
        assert "changed" in (await http.get("/runbooks/Evil.md")).text


def test_runbooks_found_in_a_checkout_and_in_the_image(monkeypatch, tmp_path):
    assert runbooks.default_runbooks_dir() == RUNBOOKS_DIR
    image = tmp_path / "usr-share-runbooks"
    image.mkdir()
    monkeypatch.setattr(runbooks, "REPO_RUNBOOKS", tmp_path / "no-checkout")
    monkeypatch.setattr(runbooks, "IMAGE_RUNBOOKS", image)
    assert runbooks.default_runbooks_dir() == image
