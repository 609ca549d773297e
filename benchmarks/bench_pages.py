"""Synthetic news pages for the reader benchmarks: realistic in size and in what surrounds the
article, with the article's paragraphs and the page's decoys known.

A news page is 50 to 200 KB of which the article is a few KB: inline CSS, a JSON state blob
(which repeats the article, as server-rendered sites do), an SVG icon sprite, a menu of a few
hundred links, "related" and "most read" lists whose headlines are about other attacks, a
newsletter box, comments, a cookie banner, a footer. Four layouts: a semantic `<article>`,
div soup with classes, a WordPress-style `<main>` with comments, and a live blog. The same
number and seed always give the same page.
"""

from __future__ import annotations

import gzip
import io
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

LAYOUTS = ("article", "divs", "wordpress", "live")

_PLACES = (
    "Kirkuk", "Mosul", "Tuz Khurmatu", "Gao", "Menaka", "Maiduguri", "Bama", "Beledweyne",
    "Baidoa", "Goma", "Beni", "Tillaberi", "Diffa", "Erbil", "Deir ez-Zor", "Hodeidah",
)  # fmt: skip
_ACTORS = (
    "gunmen on motorbikes", "suspected militants", "an armed group", "unidentified attackers",
    "insurgents in four gun trucks", "a local militia",
)  # fmt: skip
_EVENTS = (
    "attacked an army checkpoint", "shelled a village", "ambushed a supply convoy",
    "raided a livestock market", "fired rockets at a military base", "set fire to houses",
    "launched drones at an airport",
)  # fmt: skip
_SOURCES = (
    "a provincial police officer said", "local officials said", "a hospital source said",
    "residents told reporters by telephone", "the army said in a statement",
    "a spokesperson for the governor said",
)  # fmt: skip
_FOLLOW = (
    "The area has seen repeated attacks in recent months, and humanitarian agencies say access "
    "to several districts remains limited.",
    "No group immediately claimed responsibility, and the circumstances could not be "
    "independently verified.",
    "Roads leading to the town were closed for several hours while security forces searched "
    "the surrounding villages.",
    "Several families were reported to have left their homes for the district capital, where "
    "a camp already shelters thousands of displaced people.",
    "The regional administration called for calm and said reinforcements had been sent.",
)
_QUOTES = (
    "We heard shooting for almost an hour, and then the houses started burning",
    "Our forces repelled the attackers and the situation is now under control",
    "Most of the wounded are women and children, and we are running out of blood",
)
_DECOYS = (
    "Car bomb kills {n} at {place} checkpoint",
    "Drone strike on {place} convoy kills {n}",
    "Rockets hit {place} airport, wounding {n}",
    "Suicide bomber targets {place} market, {n} dead",
    "{n} soldiers missing after ambush near {place}",
    "Air strikes hit villages near {place} overnight",
)
_COMMENTS = (
    "This is the third attack there this year and nothing changes for the people who live there.",
    "May God protect the families. The government must act now instead of making speeches.",
    "Thank you for the reporting, nobody else covers what happens outside the capital.",
    "Where were the security forces? The checkpoint is less than a kilometre away.",
)
COOKIE_TEXT = (
    "We use cookies and similar technologies to personalise content and ads, and to analyse "
    "our traffic."
)
NEWSLETTER_TEXT = "Sign up for our morning briefing, delivered to your inbox every weekday."


@dataclass(frozen=True)
class SyntheticPage:
    number: int
    layout: str
    url: str
    published: date
    title: str
    paragraphs: tuple[str, ...]
    decoys: tuple[str, ...]  # text on the page that is not the article
    html: str


def _paragraphs(rng: random.Random, place: str, weekday: str) -> list[str]:
    """5 to 15 paragraphs; no sentence is said twice, as in a real article."""
    killed, wounded = rng.randint(2, 40), rng.randint(0, 60)
    paragraphs = [
        f"{rng.choice(_ACTORS).capitalize()} {rng.choice(_EVENTS)} near {place} on {weekday}, "
        f"killing {killed} people and wounding {wounded}, {rng.choice(_SOURCES)}."
    ]
    follow = rng.sample(_FOLLOW, len(_FOLLOW))
    quotes = rng.sample(_QUOTES, len(_QUOTES))
    for number in range(rng.randint(4, 14)):
        roll = rng.random()
        if roll < 0.25 and quotes:
            paragraphs.append(f'"{quotes.pop()}," {rng.choice(_SOURCES)}.')
        elif roll < 0.6 or not follow:
            other = rng.choice(_PLACES)
            paragraphs.append(
                f"In a separate incident near {other}, {rng.choice(_ACTORS)} "
                f"{rng.choice(_EVENTS)} late on {weekday}, {rng.choice(_SOURCES)}, and "
                f"{rng.randint(2, 90) + number * 100} people were reported missing."
            )
        else:
            paragraphs.append(" ".join(follow.pop() for _ in range(min(len(follow), 2))))
    return paragraphs


def _css(rng: random.Random) -> str:
    rules = (
        f".c{i}-{rng.randint(100, 999)}{{margin:{rng.randint(0, 24)}px {rng.randint(0, 24)}px;"
        f"padding:{rng.randint(0, 16)}px;color:#{rng.randint(0, 0xFFFFFF):06x};"
        f"font:{rng.randint(12, 22)}px/1.4 Georgia,serif}}"
        for i in range(rng.randint(200, 900))
    )
    return "<style>" + "".join(rules) + "</style>"


def _state(rng: random.Random, paragraphs: list[str], decoys: list[str]) -> str:
    state = {
        "props": {
            "page": {"type": "article", "body": [{"type": "p", "text": p} for p in paragraphs]},
            "related": [{"headline": d, "id": rng.getrandbits(48)} for d in decoys],
            "ads": {f"slot{i}": {"sizes": [[300, 250], [728, 90]]} for i in range(12)},
            "tracking": [f"{rng.getrandbits(64):016x}" for _ in range(rng.randint(300, 3000))],
        }
    }
    return f'<script id="__STATE__" type="application/json">{json.dumps(state)}</script>'


def _sprite(rng: random.Random) -> str:
    paths = (
        f'<symbol id="i{i}" viewBox="0 0 24 24"><path d="'
        + " ".join(
            f"M{rng.randint(0, 24)} {rng.randint(0, 24)}L{rng.randint(0, 24)}" for _ in range(12)
        )
        + '"/></symbol>'
        for i in range(rng.randint(20, 60))
    )
    return '<svg style="display:none">' + "".join(paths) + "</svg>"


def _menu(rng: random.Random) -> str:
    sections = []
    for s in range(rng.randint(8, 14)):
        links = "".join(
            f'<li><a href="/section-{s}/topic-{t}/">Topic {s}.{t}</a></li>'
            for t in range(rng.randint(8, 25))
        )
        sections.append(
            f'<li class="menu-section"><a href="/section-{s}/">Section {s}</a><ul>{links}</ul></li>'
        )
    return f'<nav class="mega-menu" aria-label="Main"><ul>{"".join(sections)}</ul></nav>'


def _links(prefix: str, headlines: list[str]) -> str:
    return "".join(
        f'<li><a href="/{prefix}/{i}/"><h3>{h}</h3></a>'
        f'<p class="teaser">{h}. Read the full story.</p></li>'
        for i, h in enumerate(headlines)
    )


def _footer(rng: random.Random) -> str:
    links = "".join(
        f'<li><a href="/about/{i}/">About page {i}</a></li>' for i in range(rng.randint(40, 80))
    )
    notice = "<p>© 2024 The Daily Example. All rights reserved.</p>"
    return f'<footer class="site-footer"><ul>{links}</ul>{notice}</footer>'


def _body(layout: str, title: str, stamp: str, paragraphs: list[str], rng: random.Random) -> str:
    if layout == "divs":
        text = "<br><br>\n".join(paragraphs)
        return (
            f'<div class="post"><div class="post-title"><h1>{title}</h1></div>'
            f'<div class="post-meta">Published {stamp}</div>'
            f'<div class="post-content">{text}</div></div>'
        )
    if layout == "live":
        entries = "".join(
            f'<div class="entry"><time datetime="{stamp}">{10 + i:02d}.'
            f"{rng.randint(0, 59):02d}</time><h3>Update {i}</h3><p>{p}</p></div>"
            for i, p in enumerate(paragraphs)
        )
        return (
            f'<div class="live-header"><span class="badge">Live</span><h1>{title}</h1>'
            f'<time datetime="{stamp}">{stamp}</time></div><div class="blog-body">{entries}</div>'
        )
    paras = "".join(
        f"<p>{p}</p>" + ('<div class="ad-slot">Advertisement</div>' if i % 4 == 3 else "")
        for i, p in enumerate(paragraphs)
    )
    meta = f'<div class="byline">By Staff Reporter <time datetime="{stamp}">{stamp}</time></div>'
    shares = (
        '<div class="share"><a href="#">Share on Facebook</a><a href="#">Share on X</a>'
        '<a href="#">Email</a></div>'
    )
    if layout == "wordpress":
        return (
            f'<main><h1 class="entry-title">{title}</h1>{meta}'
            f'<div class="entry-content">{paras}{shares}</div></main>'
        )
    return (
        f"<main><article><header><h1>{title}</h1>{meta}{shares}</header>"
        f'<div class="story-body">{paras}</div></article></main>'
    )


def page(number: int, seed: int = 0) -> SyntheticPage:
    rng = random.Random(seed * 1_000_003 + number)
    layout = LAYOUTS[number % len(LAYOUTS)]
    place = rng.choice(_PLACES)
    published = date(2024, 1, 1) + timedelta(days=number % 366)
    weekday = published.strftime("%A")
    title = f"Attack near {place} kills several, officials say (report {number})"
    url = f"https://news{number % 7}.example/{published:%Y/%m/%d}/attack-{number}"
    paragraphs = _paragraphs(rng, place, weekday)
    decoys = [
        rng.choice(_DECOYS).format(n=rng.randint(2, 30), place=rng.choice(_PLACES))
        for _ in range(rng.randint(8, 16))
    ]
    comments = rng.sample(_COMMENTS, rng.randint(0, len(_COMMENTS)))
    stamp = f"{published.isoformat()}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00Z"
    head = (
        f'<head><meta charset="utf-8"><title>{title} | The Daily Example</title>'
        f'<meta property="og:title" content="{title}">'
        f'<meta property="og:site_name" content="The Daily Example">'
        f'<link rel="canonical" href="{url}">'
        f'<meta property="article:published_time" content="{stamp}">'
        + "".join(
            f'<script src="/static/js/chunk-{i}.{rng.getrandbits(32):08x}.js" async></script>'
            for i in range(rng.randint(5, 15))
        )
        + _css(rng)
        + "</head>"
    )
    comment_html = "".join(
        f'<div class="comment"><span class="author">reader{i}</span><p>{c}</p></div>'
        for i, c in enumerate(comments)
    )
    half = len(decoys) // 2
    html = (
        '<!DOCTYPE html><html lang="en">'
        + head
        + "<body>"
        + _sprite(rng)
        + f'<div class="cookie-banner"><p>{COOKIE_TEXT}</p><button>Accept all</button></div>'
        + '<header class="site-header"><a class="logo" href="/">The Daily Example</a>'
        + f"{_menu(rng)}</header>"
        + _body(layout, title, stamp, paragraphs, rng)
        + f'<section class="newsletter"><h2>Newsletter</h2><p>{NEWSLETTER_TEXT}</p>'
        + '<form><input type="email"><button>Sign up</button></form></section>'
        + '<aside class="related"><h2>Related stories</h2>'
        + f"<ul>{_links('related', decoys[:half])}</ul></aside>"
        + f'<section class="comments"><h2>Comments ({len(comments)})</h2>{comment_html}</section>'
        + '<aside class="most-read"><h2>Most read</h2>'
        + f"<ol>{_links('popular', decoys[half:])}</ol></aside>"
        + _footer(rng)
        + _state(rng, paragraphs, decoys)
        + "</body></html>"
    )
    return SyntheticPage(
        number,
        layout,
        url,
        published,
        title,
        tuple(paragraphs),
        (*decoys, *comments, COOKIE_TEXT, NEWSLETTER_TEXT),
        html,
    )


def pages(count: int, seed: int = 0) -> Iterator[SyntheticPage]:
    for number in range(1, count + 1):
        yield page(number, seed)


def write_html_directory(directory: Path, count: int, seed: int = 0) -> Path:
    """`count` pages as `.html` files in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    for item in pages(count, seed):
        (directory / f"page-{item.number:06d}.html").write_text(item.html, "utf-8")
    return directory


def write_warc(path: Path, count: int, seed: int = 0) -> Path:
    """`count` pages as a crawler writes them: a request and a gzip'd response record each,
    every record its own gzip member, after a warcinfo record."""
    with path.open("wb") as stream:
        writer = WARCWriter(stream, gzip=True)
        writer.write_record(
            writer.create_warcinfo_record(path.name, {"software": "sitrep benchmarks"})
        )
        for item in pages(count, seed):
            request = writer.create_warc_record(
                item.url,
                "request",
                payload=io.BytesIO(b""),
                http_headers=StatusAndHeaders(
                    f"GET /{item.number} HTTP/1.1", [("Host", "news.example")], is_http_request=True
                ),
            )
            body = gzip.compress(item.html.encode("utf-8"))
            response = writer.create_warc_record(
                item.url,
                "response",
                payload=io.BytesIO(body),
                http_headers=StatusAndHeaders(
                    "200 OK",
                    [
                        ("Content-Type", "text/html; charset=utf-8"),
                        ("Content-Encoding", "gzip"),
                        ("Content-Length", str(len(body))),
                    ],
                    protocol="HTTP/1.1",
                ),
            )
            writer.write_record(request)
            writer.write_record(response)
    return path
