"""Markdown to safe HTML: markdown-it-py renders, nh3 (ammonia) keeps only an allow-list."""

from __future__ import annotations

import re

import nh3
from linkify_it import LinkifyIt
from markdown_it import MarkdownIt

# Bare URLs become links, as in every chat product, but only `http://` and `https://`
# ones: linkify-it's other schemes (`ftp:`, `mailto:`, protocol-relative `//`) and its
# fuzzy matches (`example.com`, `www.`, e-mail addresses, IPs) would turn ordinary words
# into links. Never `javascript:` or `data:`: those are not recognised schemes here, and
# markdown-it refuses them as link targets anyway.
_linkify = LinkifyIt(
    schemas={"ftp:": None, "//": None, "mailto:": None},
    options={"fuzzy_link": False, "fuzzy_email": False, "fuzzy_ip": False},
)

# CommonMark without raw HTML passthrough, plus strikethrough, tables (GFM-like) and
# bare-URL links. Images are not rendered: a remote image in a message would leak every
# reader's IP to its host. `![alt](url)` shows as "!" and a link instead (images are
# shared as uploads).
_md = (
    MarkdownIt("commonmark", {"html": False, "linkify": True, "breaks": True})
    .enable(["strikethrough", "table", "linkify"])
    .disable("image")
)
_md.linkify = _linkify

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


# Built once: nh3.clean with the options passed per call rebuilds its allow-lists every
# time (~30 µs per message here, against ~5 µs with a prepared Cleaner).
_cleaner = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    attributes=ALLOWED_ATTRIBUTES,
    url_schemes=ALLOWED_URL_SCHEMES,
    link_rel="noopener noreferrer nofollow",
    # Links open in a new tab: following one must not navigate the chat away.
    set_tag_attribute_values={"a": {"target": "_blank"}},
    strip_comments=True,
)

# Most chat lines are plain words: letters and digits of any script, single spaces, a
# hyphen, apostrophe, dot, comma or colon inside a word ("don't", "3.5", "12:30"),
# sentence marks after one. None of that means
# anything to markdown or needs escaping in HTML, so such a line renders as itself in a
# paragraph (tests/services/test_render.py checks it against the full path) and skips
# ~100 µs of markdown parsing per message. A line starting "1." is an ordered list.
# A URL never matches (its "//" is not a plain character), so linking needs the parser.
_PLAIN_WORD = r"[^\W_]+(?:[-'.,:][^\W_]+)*[,.!?:;]*"
_PLAIN = re.compile(rf"{_PLAIN_WORD}(?: {_PLAIN_WORD})*")
_LIST_START = re.compile(r"\d+\.(?: |$)")


def render_markdown(content: str) -> str:
    """The `contentHtml` of a message: rendered markdown, sanitised by allow-list."""
    if _PLAIN.fullmatch(content) and not _LIST_START.match(content):
        return f"<p>{content}</p>"
    return _cleaner.clean(_md.render(content)).strip()
