"""Markdown to safe HTML: markdown-it-py renders, nh3 (ammonia) keeps only an allow-list."""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

# CommonMark without raw HTML passthrough, plus strikethrough and tables (GFM-like).
# Images are not rendered: a remote image in a message would leak every reader's IP to
# its host. `![alt](url)` shows as "!" and a link instead (images are shared as uploads).
_md = (
    MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True})
    .enable(["strikethrough", "table"])
    .disable("image")
)

ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "del",
    "s",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
# Only these link schemes survive: no javascript:, data:, vbscript: ...
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}


def render_markdown(content: str) -> str:
    """The `contentHtml` of a message: rendered markdown, sanitised by allow-list."""
    html = _md.render(content)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    ).strip()
