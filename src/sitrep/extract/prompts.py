"""Prompts are data: Jinja templates and few-shot examples, one directory per profile.

    prompts/extract/   the full profile: every rule, two worked examples
    prompts/compact/   the rules in brief, no example, for models with small context windows

Each holds `system.j2`, `user.j2` (given `published`, `text` and `part`: None, or the `Chunk`
of a long article that `text` is), an optional `examples/` and an optional `answer_format.j2`,
which tells a model with no function to call (`--mode json_object`) to answer with the JSON
object itself and gives it the schema. Rendering is strict (a missing variable raises). The
system message, examples included, is rendered once per `PromptSet`, so every request starts
with the same static prefix that endpoints can cache; the article comes last. The prompt
version is a hash of the files' content.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import jinja2

from sitrep.errors import ConfigurationError
from sitrep.model.article import Article
from sitrep.model.drafts import DraftExtraction
from sitrep.settings import PromptProfile
from sitrep.text.chunks import Chunk

TOOL_NAME = "record_article"
_PROFILE_DIRS = {PromptProfile.FULL: "extract", PromptProfile.COMPACT: "compact"}
# Any spelling of the closing tag a model might take for one.
_ARTICLE_CLOSE = re.compile(r"<\s*/\s*article\s*>", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class PromptExample:
    """A worked example: an article written for the prompt and the arguments it should yield."""

    name: str
    article: Article
    output: DraftExtraction


@dataclass(frozen=True, slots=True)
class PromptSet:
    system: str
    user: jinja2.Template
    version: str
    examples: tuple[PromptExample, ...]
    answer_format: jinja2.Template | None = None

    def messages(self, article: Article) -> list[dict[str, Any]]:
        """The chat messages for one article: the fixed system prefix, then the article."""
        return [{"role": "system", "content": self.system}, self.user_message(article)]

    def user_message(self, article: Article, chunk: Chunk | None = None) -> dict[str, Any]:
        """The article's user message, or that of one chunk of it: the chunk's text, and the
        template's `part` (the `Chunk`, None for a whole article) to say which part it is."""
        published = article.published.isoformat() if article.published else "unknown"
        text = article.text if chunk is None else article.text[chunk.start : chunk.end]
        # An article must not be able to close its own delimiter and speak as the user.
        text = _ARTICLE_CLOSE.sub("<\\/article>", text)
        content = self.user.render(published=published, text=text, part=chunk)
        return {"role": "user", "content": content}

    def system_with_schema(self, schema: dict[str, Any]) -> str:
        """The system message followed by the answer format and `schema`, for a model that
        is asked for a JSON object rather than a function call."""
        if self.answer_format is None:
            raise ConfigurationError(
                "this prompt set has no answer_format.j2, which --mode json_object needs to "
                "tell the model the shape of its answer"
            )
        shown = json.dumps(schema, ensure_ascii=False, separators=(",", ":"))
        rendered = self.answer_format.render(tool_name=TOOL_NAME, schema=shown)
        return f"{self.system}\n\n{rendered}"


def default_prompt_dir(profile: PromptProfile = PromptProfile.FULL) -> Traversable:
    """The bundled prompts of `profile`: in the installed package, or in the checkout it runs
    from.

    The wheel copies the repository's `prompts/` into the package (pyproject.toml); a source
    checkout (an editable install, `PYTHONPATH=src`) finds them beside `src/` instead.
    """
    name = _PROFILE_DIRS[profile]
    packaged = resources.files("sitrep") / "prompts" / name
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "prompts" / name


def load_prompts(directory: Traversable | None = None) -> PromptSet:
    """Read, check and render the templates and examples in `directory`."""
    directory = directory or default_prompt_dir()
    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False
    )
    files = sorted(
        (f for f in _walk(directory) if f.is_file()), key=lambda f: _relative(f, directory)
    )
    digest = hashlib.sha256()
    for f in files:
        digest.update(_relative(f, directory).encode() + b"\0" + f.read_bytes() + b"\0")
    examples_dir = directory / "examples"
    examples = tuple(_examples(examples_dir)) if examples_dir.is_dir() else ()
    answer_format = directory / "answer_format.j2"
    system = env.from_string((directory / "system.j2").read_text("utf-8")).render(
        tool_name=TOOL_NAME,
        examples=[
            {
                "published": e.article.published,
                "text": e.article.text,
                "output": e.output.model_dump_json(indent=1),
            }
            for e in examples
        ],
    )
    return PromptSet(
        system=system,
        user=env.from_string((directory / "user.j2").read_text("utf-8")),
        version=digest.hexdigest()[:12],
        examples=examples,
        answer_format=(
            env.from_string(answer_format.read_text("utf-8")) if answer_format.is_file() else None
        ),
    )


def _examples(directory: Traversable) -> list[PromptExample]:
    """Each `NAME.txt` (a `date YYYY-MM-DD` line, then the text) pairs with `NAME.json`."""
    found = []
    for text_file in sorted((f for f in directory.iterdir() if f.name.endswith(".txt")), key=str):
        name = text_file.name.removesuffix(".txt")
        article = Article.from_bytes(text_file.read_bytes(), source=name)
        output = DraftExtraction.model_validate(
            json.loads((directory / f"{name}.json").read_text("utf-8"))
        )
        found.append(PromptExample(name=name, article=article, output=output))
    return found


def _walk(directory: Traversable) -> list[Traversable]:
    out: list[Traversable] = []
    for item in directory.iterdir():
        out.extend(_walk(item) if item.is_dir() else [item])
    return out


def _relative(item: Traversable, root: Traversable) -> str:
    return str(item).removeprefix(str(root))
