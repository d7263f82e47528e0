"""The digest as text: Jinja2 templates in, a (text, html) pair and a subject line out.

Pure given the templates: no clock (the digest carries `now`), no I/O after the Renderer is built.
Feed data is never a template and never `|safe`: the HTML environment autoescapes `*.html.j2`
explicitly, because `select_autoescape()` skips that suffix (RELIABILITY section 3.2).
"""

from __future__ import annotations

import functools
import importlib.resources
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import css_inline
import jinja2
from markupsafe import Markup, escape

import bot
from bot.errors import ConfigError
from bot.links import PaperLink, paper_link
from bot.mail.pieces import INDENT, WIDTH, marked_text, safe_link, segments, url_spans, wrap
from bot.mail.snippet import snippet
from bot.mail.subject import subject, topic
from bot.models import Paper, Subscriber
from bot.text import one_line

__all__ = ["DigestItem", "Digest", "Renderer", "subject", "bundled_templates"]

_MAX_AUTHORS = 10

TEXT_TEMPLATE = "digest.txt.j2"
HTML_TEMPLATE = "digest.html.j2"


@dataclass(frozen=True)
class DigestItem:
    """One paper in a digest, the queries it matched, and char spans of title/abstract to mark.

    `link` is the link to show (links.paper_link); None: worked out from the paper alone.
    `best` is the query that scored highest (query.rank): the table of contents groups by it.
    """

    paper: Paper
    queries: tuple[str, ...]
    title_marks: tuple[tuple[int, int], ...] = ()
    abstract_marks: tuple[tuple[int, int], ...] = ()
    link: PaperLink | None = None
    best: str | None = None


@dataclass(frozen=True)
class Digest:
    """One email's worth: `items` shown as cards, `listed` one line each after them (SPEC section
    4: the rest of what is due), `more` papers left for the next email; `now` is the send time.
    `full_abstracts`: whole abstracts instead of snippets (SPEC section 2, abstract = "full")."""

    subscriber: Subscriber
    items: tuple[DigestItem, ...]
    more: int
    now: datetime
    unsubscribe_url: str | None
    listed: tuple[DigestItem, ...] = ()
    full_abstracts: bool = False


def bundled_templates() -> Path:
    """The folder of the templates shipped with bot (installed package or source checkout)."""
    try:
        root = importlib.resources.files("bot.templates")
    except ModuleNotFoundError:
        root = None
    if isinstance(root, Path) and (root / TEXT_TEMPLATE).is_file():
        return root
    # Source checkout, not installed: `templates/` sits next to `bot/` (see pyproject.toml).
    return Path(bot.__file__).resolve().parent.parent / "templates"


def _is_html(name: str | None) -> bool:
    return name is not None and name.endswith((".html.j2", ".html", ".htm"))


class Renderer:
    """Compiles the two digest templates once; `override_dir` files win over the bundled ones.

    Raises ConfigError (one line: template, line, problem) when a template is missing or invalid.
    """

    def __init__(self, override_dir: Path | None = None):
        loaders: list[jinja2.BaseLoader] = []
        if override_dir is not None:
            loaders.append(jinja2.FileSystemLoader(str(override_dir)))
        loaders.append(jinja2.FileSystemLoader(str(bundled_templates())))
        self._env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=_is_html,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            auto_reload=False,
        )
        self._text = self._load(TEXT_TEMPLATE)
        self._html = self._load(HTML_TEMPLATE)
        # Many mail clients ignore <style>, so rules become style="" attributes; @media rules
        # (dark mode, narrow screens) cannot be attributes and stay in a <style> block, which the
        # clients that honour them read. Never fetch a stylesheet while rendering.
        self._inliner = css_inline.CSSInliner(load_remote_stylesheets=False, keep_at_rules=True)
        # DESIGN "Pitfalls": wrapping abstracts dominates rendering, so a paper is prepared once and
        # reused for every subscriber who gets it.
        self._prepare = functools.lru_cache(maxsize=4096)(_prepare_paper)

    def _load(self, name: str) -> jinja2.Template:
        try:
            return self._env.get_template(name)
        except jinja2.TemplateSyntaxError as exc:
            where = exc.filename or exc.name or name
            raise ConfigError(f"template {where}, line {exc.lineno}: {exc.message}") from None
        except jinja2.TemplateNotFound as exc:
            raise ConfigError(
                f"template {exc.name} not found in the templates folder or the bundled templates"
            ) from None

    def render(self, digest: Digest) -> tuple[str, str]:
        """The text body and the HTML body (CSS inlined) of `digest`."""
        items = []
        for number, item in enumerate(digest.items, 1):
            link = item.link or paper_link(item.paper)
            view = dict(
                self._prepare(
                    item.paper, item.title_marks, item.abstract_marks, link, digest.full_abstracts
                )
            )
            view["number"] = number
            view["queries"], view["matched_text"] = _matched(item.queries)
            items.append(view)
        # Cards that all matched the same queries say so once, at the top, not 50 times.
        same = len(items) > 1 and all(v["queries"] == items[0]["queries"] for v in items)
        matched_all = items[0]["queries"] if same else ()
        toc = _contents(digest.items, items)
        listed = [
            _line_view(item, number)
            for number, item in enumerate(digest.listed, len(digest.items) + 1)
        ]
        unsubscribe = one_line(digest.unsubscribe_url) if digest.unsubscribe_url else None
        context: dict[str, Any] = {
            "subject": subject([*digest.items, *digest.listed], digest.subscriber),
            "subscriber": digest.subscriber,
            "name": one_line(digest.subscriber.name),
            "email": one_line(digest.subscriber.email),
            "items": items,
            "toc": toc,
            "listed": listed,
            "count": len(items) + len(listed),
            "matched_all": matched_all,
            "matched_all_text": _matched_all(matched_all),
            "more": max(digest.more, 0),
            "now": digest.now,
            "date": f"{digest.now:%Y-%m-%d}",
            "unsubscribe_url": unsubscribe or None,
            # Only these schemes may become a link; anything else is shown as text.
            "unsubscribe_href": safe_link(unsubscribe, ("http", "https", "mailto")),
        }
        text = _fill(self._text, context)
        html = _fill(self._html, context)
        try:
            html = self._inliner.inline(html)
        except css_inline.InlineError as exc:
            raise ConfigError(f"template {HTML_TEMPLATE}: CSS cannot be inlined: {exc}") from None
        return text, html


def _fill(template: jinja2.Template, context: dict[str, Any]) -> str:
    try:
        return template.render(context)
    except jinja2.TemplateError as exc:
        where = template.filename or template.name
        raise ConfigError(f"template {where}: {one_line(str(exc))}") from None


def _contents(items: Sequence[DigestItem], views: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The table of contents: the cards' titles grouped by the query that matched each best,
    groups in the order of their best card."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for item, view in zip(items, views, strict=True):
        query = item.best or (item.queries[0] if item.queries else "")
        groups.setdefault(query, []).append(
            {
                "number": view["number"],
                "title": view["title"],
                "title_text": _contents_line(view["title"], view["number"]),
            }
        )
    return [
        {"query": one_line(query), "topic": topic(query) or one_line(query), "items": entries}
        for query, entries in groups.items()
    ]


@functools.lru_cache(maxsize=4096)
def _matched(queries: tuple[str, ...]) -> tuple[tuple[str, ...], str]:
    """A card's queries, each on one line, and its "Matched:" line wrapped (the same queries on
    many cards of a digest)."""
    shown = tuple(dict.fromkeys(one_line(q) for q in queries))
    return shown, wrap("Matched: " + "; ".join(shown))


@functools.lru_cache(maxsize=1024)
def _matched_all(queries: tuple[str, ...]) -> str:
    if not queries:
        return ""
    return textwrap.fill(
        "Every paper below matched: " + "; ".join(queries), width=WIDTH, break_on_hyphens=False
    )


def _contents_line(title: str, number: int) -> str:
    """A title in the text part's contents, wrapped under "  12. " (the number put in front)."""
    return f"  {number}. " + _wrapped_title(title, len(str(number)))


@functools.lru_cache(maxsize=4096)
def _wrapped_title(title: str, digits: int) -> str:
    # Only the width of the number matters: a paper is wrapped once for every subscriber.
    indent = 2 + digits + 2
    lines = textwrap.fill(
        title,
        width=WIDTH,
        initial_indent="x" * indent,
        subsequent_indent=" " * indent,
        break_on_hyphens=False,
    )
    return lines[indent:]


def _line_view(item: DigestItem, number: int) -> dict[str, Any]:
    """A paper listed in one line after the cards: number, title, link (or a title search)."""
    link = item.link or paper_link(item.paper)
    title = one_line(item.paper.title)
    return {
        "number": number,
        "id": item.paper.id,
        "title": title,
        "title_text": textwrap.fill(
            title, width=WIDTH, initial_indent=INDENT, subsequent_indent=INDENT
        ).lstrip(" "),
        "url": link.url,
        "url_is_search": link.search,
    }


def marked_html(pieces: Sequence[tuple[str, bool, str]]) -> Markup:
    """Segments as HTML: a marked piece in <mark>, a URL piece a link, every piece escaped.

    What the `marked` macro of _paper.html.j2 writes, done once per paper in Python (the macro
    cost about a tenth of a 50-card digest's rendering, for every subscriber again).
    """
    out = []
    for text, is_marked, href in pieces:
        if href:
            out.append(f'<a href="{escape(href)}">{escape(text)}</a>')
        elif is_marked:
            out.append(f"<mark>{escape(text)}</mark>")
        else:
            out.append(str(escape(text)))
    return Markup("".join(out))


def _prepare_paper(
    paper: Paper,
    title_marks: tuple[tuple[int, int], ...],
    abstract_marks: tuple[tuple[int, int], ...],
    link: PaperLink,
    full: bool = False,
) -> dict[str, Any]:
    """Everything the templates show about one paper, independent of the subscriber.

    The abstract is a snippet (mail.snippet) unless `full`.
    """
    # The title is itself a link in HTML: a URL in it gets no highlight but no link of its own.
    title = tuple((text, marked, "") for text, marked, _ in segments(paper.title, title_marks))
    text = paper.abstract
    if not full:
        protected = [(a, b) for a, b, _ in url_spans(text)]
        text, abstract_marks = snippet(text, abstract_marks, protected)
    abstract = segments(text, abstract_marks)
    authors = [a for a in (one_line(name) for name in paper.authors) if a]
    if len(authors) > _MAX_AUTHORS:
        authors = [*authors[:_MAX_AUTHORS], f"and {len(authors) - _MAX_AUTHORS} more"]
    # SPEC section 6: the listing's date when the source gives one, else the day first seen.
    when = paper.published or paper.first_seen
    return {
        "id": paper.id,
        "title": "".join(text for text, _, _ in title),
        "title_segments": title,
        "title_html": marked_html(title),
        # The indent stands in for the "12. " the template puts before the first line.
        "title_text": wrap(marked_text(title)).lstrip(" "),
        "url": link.url,
        "url_is_search": link.search,
        "authors": ", ".join(authors),
        "authors_text": wrap(", ".join(authors)),
        "sources": ", ".join(s for s in (one_line(s) for s in paper.sources) if s),
        "date": f"{when:%Y-%m-%d}" if when else "",
        "abstract_segments": abstract,
        "abstract_html": marked_html(abstract),
        "abstract_text": wrap(marked_text(abstract)),
        "abstract_cut": text != paper.abstract,
    }
