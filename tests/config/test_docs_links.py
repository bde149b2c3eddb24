"""Every markdown file of the repository renders with a CommonMark parser (markdown-it-py) without a
fence swallowing prose, and every relative link and image in it resolves: the file exists and, for
`file.md#anchor` or `#anchor`, the heading exists (GitHub's anchor rules). Links to docs anchors in
the scripts and the package's messages (e.g. `docs/stack.md#memory`) are checked the same way."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from urllib.parse import unquote

import pytest
from markdown_it import MarkdownIt

REPO = Path(__file__).resolve().parents[2]
SKIP_DIRS = {"node_modules", ".venv", ".local", ".bench", ".git", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
MD = MarkdownIt("commonmark").enable("table")


def markdown_files() -> list[Path]:
    return sorted(p for p in REPO.rglob("*.md") if not SKIP_DIRS & set(p.relative_to(REPO).parts) and p.is_file())


def slug(text: str) -> str:
    """GitHub's heading anchor: lowercase, punctuation dropped (hyphens and underscores kept), spaces to hyphens."""
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _text(token) -> str:
    return "".join(c.content for c in token.children or [] if c.type in ("text", "code_inline"))


@cache
def anchors(path: Path) -> frozenset[str]:
    tokens = MD.parse(path.read_text())
    seen: dict[str, int] = {}
    out = set()
    for i, t in enumerate(tokens):
        if t.type == "heading_open":
            base = slug(_text(tokens[i + 1]))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
    return frozenset(out)


def links(path: Path) -> list[str]:
    out = []
    for t in MD.parse(path.read_text()):
        for c in t.children or []:
            if c.type == "link_open":
                out.append(str(c.attrs.get("href", "")))
            elif c.type == "image":
                out.append(str(c.attrs.get("src", "")))
    return out


def broken(source: Path, href: str) -> str | None:
    if re.match(r"^[a-z][a-z0-9+.-]*:", href, flags=re.I) or href.startswith("//"):
        return None  # http(s), mailto: not checked here (no network in tests)
    target, _, anchor = href.partition("#")
    path = source if not target else (source.parent / unquote(target)).resolve()
    if not path.exists():
        return f"{href}: {path.relative_to(REPO) if path.is_relative_to(REPO) else path} does not exist"
    if anchor and path.suffix == ".md" and unquote(anchor) not in anchors(path):
        return f"{href}: no heading #{anchor} in {path.relative_to(REPO)}"
    return None


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_links_and_anchors_resolve(path: Path) -> None:
    problems = [p for href in links(path) if (p := broken(path, href))]
    assert problems == []


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_no_fence_swallows_the_text_after_it(path: Path) -> None:
    """A closing fence with text after it (```` ``` Each combination ... ````) is not a closing fence in
    CommonMark: everything up to the next fence renders as code. No code block may hold such a line."""
    bad = []
    for t in MD.parse(path.read_text()):
        if t.type == "fence":
            bad += [line for line in t.content.splitlines() if re.match(r"^\s{0,3}(```|~~~)", line)]
    assert bad == []


def test_docs_anchors_named_in_scripts_and_messages_exist() -> None:
    sources = [*REPO.glob("scripts/*"), *(REPO / "services" / "observatory").rglob("*.py"), REPO / "Makefile"]
    problems = []
    for src in sources:
        if not src.is_file():
            continue
        for ref in set(re.findall(r"\b((?:docs/)?[\w-]+\.md#[\w-]+)", src.read_text(errors="replace"))):
            path = REPO / ref.split("#")[0]
            if not path.exists() and not ref.startswith("docs/"):
                path = REPO / "docs" / ref.split("#")[0]
            if path.exists() and (
                p := broken(REPO / "README.md", str(path.relative_to(REPO)) + "#" + ref.split("#")[1])
            ):
                problems.append(f"{src.relative_to(REPO)}: {p}")
    assert problems == []


def test_the_checker_catches_a_missing_anchor_and_file(tmp_path: Path) -> None:
    assert broken(REPO / "README.md", "docs/stack.md#memory") is None
    assert broken(REPO / "README.md", "docs/stack.md#no-such-heading")
    assert broken(REPO / "README.md", "docs/no-such-page.md")
