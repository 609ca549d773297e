"""Saved news pages reduced to their article: the main text, and what the page says of itself.

A news page is mostly not its article: menus, a cookie banner, share buttons, a newsletter box,
"related stories" whose headlines are about other attacks, comments, a footer. Sent whole, the
model reads those headlines as events of the article. trafilatura finds the main content; the
page's own tags give its title, canonical URL and site name, and htmldate its publication date.
trafilatura was chosen over resiliparse's main-content extraction by measurement on realistic
pages (benchmarks/extractors.py, BENCHMARKS.md "Reading"): resiliparse is twenty times
faster but keeps comments, newsletter boxes and cookie banners, and leaves an index page's
headings as if they were an article.

Bytes are decoded by `sitrep.text.encoding.decode`, told the charset the page declares: the
HTTP `Content-Type` header when there is one (a WARC record), else the `<meta>` charset of the
page's first bytes, as a browser does.

The page is parsed once. Its metadata is read from the whole tree; then the furniture no
article is ever in (scripts, styles, SVG, navigation, asides, footers, embedded media, dialogs)
is cut out before trafilatura sees it. trafilatura drops those elements itself, but only after
running its XPath rules and its fallback extractors (readability, jusText) over the whole tree:
on a 100 KB page with a menu of hundreds of links, that costs two thirds of its time
(benchmarks/extractors.py, BENCHMARKS.md "Reading").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from email.message import Message
from typing import Final
from urllib.parse import urlsplit

import htmldate
import trafilatura
from bs4.dammit import EncodingDetector
from lxml import etree
from lxml.html import HtmlElement
from trafilatura.utils import load_html

from sitrep.model.article import Article, split_date_line
from sitrep.text.encoding import Decoded, decode

# The HTML standard's prescan for a <meta> charset reads the first 1,024 bytes; pages that
# put a long <title> or scripts first are met by reading a little further.
_SNIFF_BYTES: Final = 2048

NO_ARTICLE_TEXT: Final = "no article text in the page: main-content extraction found nothing"
NO_VISIBLE_TEXT: Final = "the page has no visible text, only markup"
# Text a reader never sees: the head, code, styles, templates (a fragment has no body).
_INVISIBLE: Final = frozenset({"head", "title", "script", "style", "noscript", "template"})
# Elements that never hold the article, cut out before extraction. Each is one trafilatura's
# own cleaning deletes whole (`trafilatura.settings.MANUALLY_CLEANED`), so its main extractor
# reads the same tree; `<form>` is not among them, since a page can wrap everything in one
# (trafilatura keeps a form holding most of the page's text).
_FURNITURE: Final = (
    "script",
    "style",
    "noscript",
    "svg",
    "iframe",
    "nav",
    "aside",
    "footer",
    "object",
    "embed",
    "canvas",
    "video",
    "audio",
    "picture",
    "button",
    "select",
    "input",
)

# Consent banners and pop-ups are dialogs, never the article; trafilatura keeps one that
# follows the page's footer (tests/data/pages/live-blog.html). A page's <html> or <body> that
# names cookies in its class (WordPress's `cookies-not-set`) is the page, not a banner.
_NOT_THE_ARTICLE: Final = etree.XPath(
    "//*[not(self::html or self::body)]"
    "[@role='dialog' or @role='alertdialog' or @aria-modal='true'"
    " or contains(@id, 'cookie') or contains(@class, 'cookie')"
    " or contains(@id, 'consent') or contains(@class, 'consent')]"
)


class NoArticleTextError(ValueError):
    """The page has no main content: an index page, a gallery, an empty shell."""

    def __init__(self, reason: str = NO_ARTICLE_TEXT) -> None:
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class Page:
    """A page's article: its text, one paragraph a line, and the page's own metadata."""

    text: str
    title: str | None = None
    published: date | None = None
    url: str | None = None
    site: str | None = None  # og:site_name, else the host of the page's URL


def charset_param(content_type: str | None) -> str | None:
    """The `charset` parameter of a `Content-Type` header value, if it names one."""
    if not content_type:
        return None
    header = Message()
    header["Content-Type"] = content_type
    return header.get_content_charset()


def declared_charset(data: bytes) -> str | None:
    """The charset a page's `<meta charset>` or `<meta http-equiv>` declares, if any."""
    return EncodingDetector.find_declared_encoding(data[:_SNIFF_BYTES], is_html=True)


def decode_page(data: bytes, *, declared: str | None = None) -> Decoded:
    """A page's bytes as text: `declared` (from HTTP) or the page's own `<meta>` charset is
    told to the decoder. Raises `UndecodableError` (a ValueError) with the reason."""
    return decode(data, declared=declared or declared_charset(data))


def read_page(html: str, *, url: str | None = None) -> Page:
    """The article of an HTML page; `url` is where it came from, when the page does not say.
    Raises `NoArticleTextError` for a page with no main content."""
    tree = load_html(html)
    if tree is None:
        raise NoArticleTextError
    if not _has_visible_text(tree):
        raise NoArticleTextError(NO_VISIBLE_TEXT)
    # The metadata first, from the whole page: JSON-LD is a script, a date may be in a footer.
    canonical = _first(tree, _CANONICAL) or url
    title = _title(tree)
    published = _published(tree, canonical)
    site = _first(tree, _SITE_NAME) or _host(canonical)
    _cut_furniture(tree)
    document = trafilatura.bare_extraction(
        tree,
        url=url,
        include_comments=False,
        include_tables=True,
        # Of the library's settings this one kept every paragraph of the test pages and
        # dropped most boilerplate; without it, an index page comes out as its menus. The
        # fallback extractors stay on (no `fast`): without them a live blog loses paragraphs.
        favor_precision=True,
    )
    if not isinstance(document, trafilatura.settings.Document) or document.body is None:
        raise NoArticleTextError
    # Headings alone are no article: an index page's main content is its section title.
    if not any(
        element.tag != "head" and "".join(element.itertext()).strip() for element in document.body
    ):
        raise NoArticleTextError
    lines = (line.strip() for line in (document.text or "").splitlines())
    text = "\n".join(line for line in lines if line)
    if not text:
        raise NoArticleTextError
    return Page(text=text, title=title, published=published, url=canonical, site=site)


def _has_visible_text(tree: HtmlElement) -> bool:
    """Whether any text of the page is outside `_INVISIBLE` elements; stops at the first."""
    for element in tree.iter(etree.Element):
        if element.text and element.text.strip() and not _invisible(element):
            return True
        tail, parent = element.tail, element.getparent()
        if tail and tail.strip() and parent is not None and not _invisible(parent):
            return True
    return False


def _invisible(element: HtmlElement) -> bool:
    return element.tag in _INVISIBLE or any(
        ancestor.tag in _INVISIBLE for ancestor in element.iterancestors()
    )


def _cut_furniture(tree: HtmlElement) -> None:
    """Cut `_FURNITURE` and dialogs out of `tree`, keeping the text that follows each."""
    etree.strip_elements(tree, *_FURNITURE, with_tail=False)
    for element in _NOT_THE_ARTICLE(tree):
        if element.getparent() is not None:  # the root is never cut
            element.drop_tree()


# The page's metadata is read here rather than by trafilatura's `extract_metadata`, which
# also looks for authors, categories, tags and a licence: 7.5 ms of a 100 KB page's 17
# (benchmarks/extractors.py), for fields that are each one tag. htmldate, which trafilatura
# uses too, reads the date: <time datetime>, article:published_time, JSON-LD datePublished.
_CANONICAL: Final = ("//link[@rel='canonical']/@href", "//meta[@property='og:url']/@content")
_SITE_NAME: Final = ("//meta[@property='og:site_name']/@content",)
_TITLES: Final = (
    "//meta[@property='og:title']/@content",
    "//meta[@name='twitter:title']/@content",
)


def _first(tree: HtmlElement, paths: tuple[str, ...]) -> str | None:
    for path in paths:
        for value in tree.xpath(path):
            if text := " ".join(str(value).split()):
                return text
    return None


def _title(tree: HtmlElement) -> str | None:
    """og:title, else the one <h1>, else <title>: the headline, without the site's name that
    <title> usually appends."""
    if title := _first(tree, _TITLES):
        return title
    headings = tree.xpath("//h1")
    if len(headings) == 1 and (heading := " ".join(headings[0].text_content().split())):
        return heading
    return _first(tree, ("//title/text()",))


def _published(tree: HtmlElement, url: str | None) -> date | None:
    # Page markup only (not `extensive_search`): a date in the prose ("on 3 March") is not the
    # page's date, and a wrong guess would shift every relative date the article gives.
    found = htmldate.find_date(tree, url=url, extensive_search=False, original_date=True)
    return date.fromisoformat(found) if found else None


def _host(url: str | None) -> str | None:
    if not url:
        return None
    host = urlsplit(url).hostname
    return host.removeprefix("www.") if host else None


def page_article(
    page: Page,
    *,
    location: str,
    published: date | None = None,
    source: str | None = None,
    url: str | None = None,
    title: str | None = None,
    crawled: date | None = None,
    encoding: str | None = None,
) -> Article:
    """The article of `page` (`encoding`: how its bytes were read, if they were bytes). What
    the archive states (the arguments) wins over what the page says of itself; the crawl date
    is the last resort for the publication date, and the location names the source when the
    page names no site."""
    return Article.from_text(
        page.text,
        published=published or page.published or crawled,
        source=source or page.site or location,
        url=url or page.url,
        title=title or page.title,
        encoding=encoding,
    )


@dataclass(frozen=True, slots=True)
class PageJob:
    """A web page to reduce to its article, with what its archive says of it: plain data, so
    that a worker process can be handed it (`sitrep.run.parallel`). `content` is the page's
    bytes, decoded by the charset `declared` (from HTTP) or its own `<meta>` one, or its text
    (from a row, `encoding` being how that was read). What the archive states wins over what
    the page says (`page_article`)."""

    location: str
    content: bytes | str
    declared: str | None = None
    date_line: bool = False  # a leading `date YYYY-MM-DD` line, an archive's own, may come first
    published: date | None = None
    crawled: date | None = None
    source: str | None = None
    url: str | None = None
    title: str | None = None
    encoding: str | None = None
    article_id: str | None = None  # the id the archive gives, over the hash of the text

    def article(self) -> Article:
        """The article. Raises a ValueError (undecodable bytes, no main content) or
        `ArticleError` with the reason the page cannot be one."""
        encoding: str | None
        if isinstance(self.content, bytes):
            decoded = decode_page(self.content, declared=self.declared)
            html, encoding = decoded.text, decoded.encoding
        else:
            html, encoding = self.content, self.encoding
        published = self.published
        if self.date_line:
            stated, html = split_date_line(html)
            published = published or stated
        article = page_article(
            read_page(html, url=self.url),
            location=self.location,
            published=published,
            source=self.source,
            url=self.url,
            title=self.title,
            crawled=self.crawled,
            encoding=encoding,
        )
        if self.article_id is not None:
            article = article.model_copy(update={"id": self.article_id})
        return article


__all__ = [
    "NO_ARTICLE_TEXT",
    "NO_VISIBLE_TEXT",
    "NoArticleTextError",
    "Page",
    "PageJob",
    "charset_param",
    "declared_charset",
    "decode_page",
    "page_article",
    "read_page",
]
