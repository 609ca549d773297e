"""Saved news pages reduced to their article: the main text, and what the page says of itself.

A news page is mostly not its article: menus, a cookie banner, share buttons, a newsletter box,
"related stories" whose headlines are about other attacks, comments, a footer. Sent whole, the
model reads those headlines as events of the article. trafilatura finds the main content and
reads the page's metadata (title, publication date, canonical URL, site name). It was chosen
over resiliparse's main-content extraction by measurement on realistic pages
(benchmarks/extractors.py, BENCHMARKS.md "Reading web pages"): resiliparse is ten times faster
but keeps comments, newsletter boxes and cookie banners, and no index page comes out empty.

Bytes are decoded by `sitrep.text.encoding.decode`, told the charset the page declares: the
HTTP `Content-Type` header when there is one (a WARC record), else the `<meta>` charset of the
page's first bytes, as a browser does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from email.message import Message
from typing import Final

import trafilatura
from bs4.dammit import EncodingDetector

from sitrep.model.article import Article
from sitrep.text.encoding import decode

# The HTML standard's prescan for a <meta> charset reads the first 1,024 bytes; pages that
# put a long <title> or scripts first are met by reading a little further.
_SNIFF_BYTES: Final = 2048

NO_ARTICLE_TEXT: Final = "no article text in the page: main-content extraction found nothing"

# Consent banners and pop-ups are dialogs, never the article; trafilatura keeps one that
# follows the page's footer (tests/data/pages/live-blog.html).
_NOT_THE_ARTICLE: Final = (
    "//*[@role='dialog' or @role='alertdialog' or @aria-modal='true'"
    " or contains(@id, 'cookie') or contains(@class, 'cookie')"
    " or contains(@id, 'consent') or contains(@class, 'consent')]"
)

# Page markup only: a date that appears in the prose ("on 3 March") is not the page's date,
# and guessing one would shift every relative date the article gives.
_DATE_SEARCH: Final = {"extensive_search": False, "original_date": True}


class NoArticleTextError(ValueError):
    """The page has no main content: an index page, a gallery, an empty shell."""

    def __init__(self) -> None:
        super().__init__(NO_ARTICLE_TEXT)


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


def decode_page(data: bytes, *, declared: str | None = None) -> str:
    """A page's bytes as text: `declared` (from HTTP) or the page's own `<meta>` charset is
    told to the decoder. Raises `UndecodableError` (a ValueError) with the reason."""
    return decode(data, declared=declared or declared_charset(data)).text


def read_page(html: str, *, url: str | None = None) -> Page:
    """The article of an HTML page; `url` is where it came from, when the page does not say.
    Raises `NoArticleTextError` for a page with no main content."""
    document = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        # Of the library's settings this one kept every paragraph of the test pages and
        # dropped most boilerplate; without it, an index page comes out as its menus.
        favor_precision=True,
        date_extraction_params=dict(_DATE_SEARCH),
        prune_xpath=_NOT_THE_ARTICLE,
    )
    if document is None or not isinstance(document, trafilatura.settings.Document):
        raise NoArticleTextError
    body = document.body
    # Headings alone are no article: an index page's main content is its section title.
    if body is None or not any(
        element.tag != "head" and "".join(element.itertext()).strip() for element in body
    ):
        raise NoArticleTextError
    lines = (line.strip() for line in (document.text or "").splitlines())
    text = "\n".join(line for line in lines if line)
    if not text:
        raise NoArticleTextError
    return Page(
        text=text,
        title=document.title or None,
        published=_iso_date(document.date),
        url=document.url or url,
        site=document.sitename or document.hostname or None,
    )


def page_article(
    page: Page,
    *,
    location: str,
    published: date | None = None,
    source: str | None = None,
    url: str | None = None,
    title: str | None = None,
    crawled: date | None = None,
) -> Article:
    """The article of `page`. What the archive states (the arguments) wins over what the page
    says of itself; the crawl date is the last resort for the publication date, and the
    location names the source when the page names no site."""
    return Article.from_text(
        page.text,
        published=published or page.published or crawled,
        source=source or page.site or location,
        url=url or page.url,
        title=title or page.title,
    )


def html_article(
    data: bytes,
    *,
    location: str,
    declared: str | None = None,
    url: str | None = None,
    published: date | None = None,
    crawled: date | None = None,
) -> Article:
    """An HTML page's bytes as an article. Raises a ValueError (undecodable bytes, no main
    content) or `ArticleError` with the reason it cannot be one."""
    page = read_page(decode_page(data, declared=declared), url=url)
    return page_article(page, location=location, url=url, published=published, crawled=crawled)


def _iso_date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


__all__ = [
    "NO_ARTICLE_TEXT",
    "NoArticleTextError",
    "Page",
    "charset_param",
    "declared_charset",
    "decode_page",
    "html_article",
    "page_article",
    "read_page",
]
