"""The alert runbooks (`runbooks/<Alert>.md`) rendered to HTML on every PRIVATE listener, so the
`runbook_url` of a Slack message or an email opens in a browser: `/runbooks/<Alert>.md` and an index
at `/runbooks/`. No key: links are opened from chat and mail, and runbooks hold no secret.

Only names listed in the runbook folder are served (anything else is 404): a request can never name
a path outside it. The folder: a repo checkout's `runbooks/`, else the image's copy
(`/usr/share/observatory/runbooks`, see services/Dockerfile).
"""

from __future__ import annotations

import html
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from markdown_it import MarkdownIt

from observatory.errors import ApiError

REPO_RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"
IMAGE_RUNBOOKS = Path("/usr/share/observatory/runbooks")
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; color: #1d2330; }}
code, pre {{ font-family: ui-monospace, monospace; background: #f2f4f7; border-radius: 3px; }}
code {{ padding: 0 .25em; }} pre {{ padding: .75em; overflow-x: auto; }} pre code {{ padding: 0; }}
table {{ border-collapse: collapse; }} th, td {{ border: 1px solid #d0d5dd; padding: .25em .5em; }}
nav {{ font-size: .9em; margin-bottom: 1rem; }}
</style></head>
<body>{nav}
<main>{body}</main>
</body></html>
"""
NAV = '<nav><a href="./">All runbooks</a></nav>'


def default_runbooks_dir() -> Path:
    """The runbooks: repo checkout first, then the copy installed in the image."""
    for candidate in (REPO_RUNBOOKS, IMAGE_RUNBOOKS):
        if candidate.is_dir():
            return candidate
    return REPO_RUNBOOKS


def available(directory: Path) -> dict[str, Path]:
    """`<Alert>.md` -> file, for the runbooks in `directory` (nothing if it is missing)."""
    return {p.name: p for p in sorted(directory.glob("*.md")) if p.is_file()} if directory.is_dir() else {}


@lru_cache(maxsize=128)
def _render(path: Path, mtime_ns: int) -> str:  # mtime in the key: an edited runbook is rendered again
    name = path.stem
    return PAGE.format(
        title=f"{html.escape(name)} runbook", nav=NAV, body=_markdown.render(path.read_text(encoding="utf-8"))
    )


def render(path: Path) -> str:
    return _render(path, path.stat().st_mtime_ns)


def index_page(names: list[str]) -> str:
    items = "\n".join(f'<li><a href="{html.escape(n)}">{html.escape(n[:-3])}</a></li>' for n in names)
    body = (
        f"<h1>Runbooks</h1><p>{len(names)} runbook(s), one per alert rule.</p><ul>\n{items}\n</ul>"
        if names
        else "<h1>Runbooks</h1><p>No runbook found on this server.</p>"
    )
    return PAGE.format(title="Runbooks", nav="", body=body)


def runbooks_router(directory: Path | None = None) -> APIRouter:
    """GET /runbooks/ (index) and GET /runbooks/<Alert>.md (HTML), without a key."""
    folder = directory or default_runbooks_dir()
    router = APIRouter(prefix="/runbooks", tags=["runbooks"], include_in_schema=False)

    @router.get("/", response_class=HTMLResponse)
    async def runbook_index() -> HTMLResponse:
        return HTMLResponse(index_page(list(available(folder))))

    @router.get("/{name}", response_class=HTMLResponse)
    async def runbook(name: str) -> HTMLResponse:
        path = available(folder).get(name)  # only listed names: no path of the request reaches the disk
        if path is None:
            raise ApiError(404, "not_found", f"no runbook named {name!r} (the index is at /runbooks/)")
        return HTMLResponse(render(path))

    return router
