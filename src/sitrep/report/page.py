"""The review page: one HTML file whose styles, script and data are inline, so that it opens
from disk with no network at all.

The templates are data (`templates/`): `report.html.j2` is the page, `report.css` and
`report.js` are put into it verbatim. The data goes into a `<script type="application/json">`
element, with every `<` written as `\\u003c` so that no `</script>` in an article can end it.
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from sitrep._version import __version__
from sitrep.report.data import page_data

__all__ = ["embed_json", "render_page", "write_report"]

_TEMPLATES = files("sitrep.report") / "templates"


def embed_json(data: Any) -> str:
    """`data` as JSON that is safe inside a script element (and still the same JSON)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


def render_page(data: dict[str, Any]) -> str:
    """The page's HTML for data from `page_data`."""
    env = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    )
    template = env.from_string((_TEMPLATES / "report.html.j2").read_text("utf-8"))
    style = (_TEMPLATES / "report.css").read_text("utf-8")
    script = (_TEMPLATES / "report.js").read_text("utf-8")
    return template.render(
        run=data["run"],
        version=__version__,
        style=Markup(style),
        script=Markup(script),
        data=Markup(embed_json(data)),
    )


def write_report(directory: Path, target: Path) -> Path:
    """Write the review page of the run in `directory` to `target`; return `target`."""
    html = render_page(page_data(directory))
    target.write_text(html, encoding="utf-8")
    return target
