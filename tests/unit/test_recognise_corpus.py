"""Every line of the corpus (and the seed) that carries a failure text is recognised.

The texts are found with a grep, independently of the signature files, so a wording the
signatures miss makes this fail. Each file is read whole, as `replay` reads it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from helpers.samples import CORPUS, DATA, SEED, covering, enrich_all, parse_paths
from shipper.event import Doc, get_path

TEXTS = re.compile(
    r"SYSERR|bootstrap check|node validation exception|process exited, code="
    r"|Failed with result|entered failed state|never wrote its PID file|Failed to start"
    r"|[Ss]tart request repeated too quickly|problem creating SMTP socket|SMTP socket wedged"
    r"|too low, increase to|memory is not locked|unsuitable for production use"
)
# Lines that carry such a text but report no failure.
NOT_FAILURES = re.compile(
    r"enforcing bootstrap checks"  # INFO: the node runs in production mode
    r"|status=0/SUCCESS"  # a successful exit in a status block
)
# Files that are not log input: provenance tables.
SKIP = {"SOURCES.md", "README"}


def _files() -> list[Path]:
    out = []
    for path in sorted([*CORPUS.rglob("*"), *SEED.rglob("*")]):
        if not path.is_file() or path.name in SKIP or path.suffix in (".zst", ".csv"):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if TEXTS.search(text):
            out.append(path)
    return out


FILES = _files()


def test_the_grep_finds_the_failure_files() -> None:
    names = {p.name for p in FILES}
    assert len(FILES) >= 40
    assert {"messages-sendmail.log", "es8-ecs-json-docker.log", "failures.json", "centos7-docker-203-EXEC.log"} <= names


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(DATA)) for p in FILES])
def test_every_failure_line_is_recognised(path: Path) -> None:
    docs = enrich_all(parse_paths([path], timezone="UTC", year=2017))
    missed = []
    for n, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        if not TEXTS.search(line) or NOT_FAILURES.search(line):
            continue
        if not covering(docs, line) and not _in_summary(docs, line):
            missed.append(f"{n}: {line[:160]}")
    assert not missed, "not recognised:\n" + "\n".join(missed)


def _in_summary(docs: list[Doc], line: str) -> bool:
    """A summary spread over two lines of one record ("node validation exception" then
    "[2] bootstrap checks failed") is one summary event: the second line is inside it."""
    return any(
        get_path(d, "rootcause.role") == "summary" and line.strip() in d.get("message", "").split("\n")[1:]
        for d in docs
    )
