"""contentHtml: markdown rendered by markdown-it-py, then allow-list sanitised by nh3."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chat_server.services import render
from chat_server.services.render import ALLOWED_TAGS, render_markdown


class Collector(HTMLParser):
    """Every tag and attribute a browser would see in the HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> Collector:
    c = Collector()
    c.feed(html)
    c.close()
    return c


def assert_safe(html: str) -> Collector:
    """No executable markup: only allowed tags, no event handlers, no dangerous URLs."""
    doc = parse(html)
    for tag, attrs in doc.tags:
        assert tag in ALLOWED_TAGS, (tag, html)
        assert tag not in {"script", "style", "iframe", "img", "svg", "object", "embed"}, html
        for name, value in attrs.items():
            assert not name.startswith("on"), html
            assert name != "style", html
            if name in ("href", "src"):
                assert (value or "").split(":", 1)[0].lower().strip() in (
                    "http",
                    "https",
                    "mailto",
                ), html
    return doc


XSS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    '<svg onload="alert(1)">',
    '<a href="javascript:alert(1)">click</a>',
    '<iframe src="https://evil.example"></iframe>',
    "<style>body{display:none}</style>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](vbscript:msgbox(1))",
    "<javascript:alert(1)>",
    "![x](javascript:alert(1))",
    '[x](https://ok.example "title" onclick="alert(1)")',
    "**<img src=x onerror=alert(1)>**",
    "`<script>alert(1)</script>`",
    "```\n<script>alert(1)</script>\n```",
    "<!-- <script>alert(1)</script> -->",
    "> <script>alert(1)</script>",
    "| a | b |\n|---|---|\n| <script>x</script> | <img src=x onerror=y> |",
]


@pytest.mark.parametrize("content", XSS)
def test_no_executable_markup_survives(content):
    html = render_markdown(content)
    assert_safe(html)
    lowered = html.lower()
    assert "<script" not in lowered
    assert "<img" not in lowered
    assert "<iframe" not in lowered
    assert "<svg" not in lowered


def test_script_tag_is_shown_as_text():
    html = render_markdown("<script>alert(1)</script>")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "".join(parse(html).text) == "<script>alert(1)</script>"


def test_html_in_content_is_escaped_not_interpreted():
    html = render_markdown("<b>bold?</b> & <i>x</i>")
    doc = assert_safe(html)
    assert [t for t, _ in doc.tags] == ["p"]
    assert "&lt;b&gt;bold?&lt;/b&gt; &amp; &lt;i&gt;x&lt;/i&gt;" in html
    assert "".join(doc.text) == "<b>bold?</b> & <i>x</i>"


def test_onerror_attribute_never_becomes_an_attribute():
    doc = assert_safe(render_markdown('<img src=x onerror="alert(1)">'))
    assert all("onerror" not in attrs for _, attrs in doc.tags)


@pytest.mark.parametrize(
    "link",
    ["[x](javascript:alert(1))", "[x](data:text/html,<script>alert(1)</script>)"],
)
def test_dangerous_links_are_not_links(link):
    doc = assert_safe(render_markdown(link))
    assert [t for t, _ in doc.tags if t == "a"] == []


def test_bold_and_italic():
    html = render_markdown("**bold** and *italic* and ~~gone~~")
    assert "<strong>bold</strong>" in html
    assert "<em>italic</em>" in html
    assert "<s>gone</s>" in html or "<del>gone</del>" in html
    assert_safe(html)


def test_links_render_with_safe_rel():
    html = render_markdown("see [the docs](https://example.com/docs?a=1&b=2)")
    doc = assert_safe(html)
    links = [attrs for tag, attrs in doc.tags if tag == "a"]
    assert len(links) == 1
    assert links[0]["href"] == "https://example.com/docs?a=1&b=2"
    rel = set((links[0].get("rel") or "").split())
    assert {"noopener", "noreferrer", "nofollow"} <= rel
    assert links[0]["target"] == "_blank"


def test_mailto_and_autolink():
    doc = assert_safe(render_markdown("<https://example.com> and [mail](mailto:a@example.com)"))
    hrefs = [attrs["href"] for tag, attrs in doc.tags if tag == "a"]
    assert hrefs == ["https://example.com", "mailto:a@example.com"]


def test_inline_and_block_code():
    html = render_markdown("use `x < y` here\n\n```\nif a && b:\n    pass\n```")
    assert "<code>x &lt; y</code>" in html
    assert "<pre><code>if a &amp;&amp; b:\n    pass\n</code></pre>" in html
    assert_safe(html)


def test_newlines_become_line_breaks():
    html = render_markdown("one\ntwo")
    assert "<br>" in html
    assert "one" in html and "two" in html


def test_lists_and_quotes():
    html = render_markdown("- a\n- b\n\n> quoted")
    tags = [t for t, _ in assert_safe(html).tags]
    assert tags.count("li") == 2
    assert "ul" in tags
    assert "blockquote" in tags


def test_plain_text_round_trips():
    html = render_markdown("just words, 100% plain")
    assert html == "<p>just words, 100% plain</p>"


def test_unicode_preserved():
    assert "héllo 世界 🙂" in render_markdown("héllo 世界 🙂")


# Characters plain chat lines are made of, and the ones around them that make markdown
# (or HTML escaping) act: the fast path for plain lines must never differ from the full
# rendering.
_PLAIN_CHARS = [*"abZ09 -'.,!?:;", "é", "ß", "Ж", "中", "٣", "😀"]
_MARKUP_CHARS = [*'_*#>+`~|&<"[]()\\\n\t', "\u00a0"]


def _full_rendering(content: str) -> str:
    return render._cleaner.clean(render._md.render(content)).strip()


@settings(max_examples=3000, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(_PLAIN_CHARS + _MARKUP_CHARS), max_size=30)
    | st.text(alphabet=st.sampled_from(_PLAIN_CHARS), max_size=30)
)
def test_plain_line_fast_path_renders_like_markdown(content: str) -> None:
    assert render_markdown(content) == _full_rendering(content)


@pytest.mark.parametrize(
    ("content", "html"),
    [
        ("hello world", "<p>hello world</p>"),
        ("don't stop-me now!", "<p>don't stop-me now!</p>"),
        ("Привет, как дела?", "<p>Привет, как дела?</p>"),
        ("10 people came", "<p>10 people came</p>"),
        ("at 12:30, 3.5 km e.g. 1,000", "<p>at 12:30, 3.5 km e.g. 1,000</p>"),
        ("1.5 hours", "<p>1.5 hours</p>"),
        ("1. first", "<ol>\n<li>first</li>\n</ol>"),
        ("2024.", '<ol start="2024">\n<li></li>\n</ol>'),
        ("a  b", "<p>a  b</p>"),
        (" lead", "<p>lead</p>"),
        ("snake_case_name", "<p>snake_case_name</p>"),
        ("_em_ here", "<p><em>em</em> here</p>"),
    ],
)
def test_common_lines_render_as_markdown_says(content: str, html: str) -> None:
    assert render_markdown(content) == html
    assert render_markdown(content) == _full_rendering(content)


def _links(html: str) -> list[dict[str, str | None]]:
    return [attrs for tag, attrs in assert_safe(html).tags if tag == "a"]


@pytest.mark.parametrize(
    ("content", "href"),
    [
        ("https://example.com", "https://example.com"),
        ("see http://example.com/a?b=1&c=2#d now", "http://example.com/a?b=1&c=2#d"),
        ("look: https://example.com/path.", "https://example.com/path"),
        ("(https://example.com/x)", "https://example.com/x"),
        ("**https://example.com**", "https://example.com"),
        (
            "https://пример.рф/путь",
            "https://xn--e1afmkfd.xn--p1ai/%D0%BF%D1%83%D1%82%D1%8C",
        ),
    ],
)
def test_bare_urls_become_links_that_open_in_a_new_tab(content, href):
    links = _links(render_markdown(content))
    assert len(links) == 1, render_markdown(content)
    assert links[0]["href"] == href
    assert links[0]["target"] == "_blank"
    assert set((links[0]["rel"] or "").split()) == {"noopener", "noreferrer", "nofollow"}


@pytest.mark.parametrize(
    "content",
    [
        "javascript:alert(1)",
        "javascript://example.com/%0aalert(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "vbscript:msgbox(1)",
        "ftp://example.com/file",
        "example.com and www.example.com",
        "mail me at a@example.com",
        "`https://example.com` in code",
        "```\nhttps://example.com\n```",
    ],
)
def test_only_bare_http_urls_are_linked(content):
    assert _links(render_markdown(content)) == []


def test_a_line_without_a_url_keeps_the_fast_path(monkeypatch):
    def no_parser(_content: str) -> str:
        raise AssertionError("the markdown parser ran for a plain line")

    monkeypatch.setattr(render._md, "render", no_parser)
    assert render_markdown("see you at 12:30, ok?") == "<p>see you at 12:30, ok?</p>"
