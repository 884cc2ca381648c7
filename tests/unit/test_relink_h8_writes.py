"""`shipper relink` when the cluster cannot take its writes or searches now: whole requests and
items answered 429/502/503/504 and search pages answered so are tried again; what still could not
be written is counted in the summary, with why (exit 5); a cluster unreachable before anything
was written is exit 6. Replays apart of the seed's sendmail case leave 3 documents to relink."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fakees import FakeES
from tests.helpers.es import err, make_env, out, run_command
from tests.helpers.samples import SEED

SYSLOG = "logs-shipper.syslog-default"


@pytest.fixture
def cfg(es: FakeES, tmp_path: Path) -> Path:
    """The config (fast retries), after the failure and its causes were replayed apart."""
    path = tmp_path / "operator.yml"
    path.write_text(f"state_dir: {tmp_path / 's'}\noutput:\n  elasticsearch:\n    retry_initial: 5ms\n"
                    "    retry_max: 20ms\n")
    lines = (SEED / "messages-sendmail.log").read_text().splitlines(keepends=True)
    for name, marker in (("messages", " systemd[1]: "), ("maillog", " sendmail[")):
        (tmp_path / name).write_text("".join(line for line in lines if marker in line))
        env = make_env()
        assert run_command("replay", ["--quiet", "--output", "es", "--es-url", es.url, "--config", str(path),
                                      "--year", "2017", "--timezone", "UTC", str(tmp_path / name)], env) == 0, err(env)
    es.faults._item_attempts.clear()  # (the item faults count from now)
    return path


def relink(es: FakeES, cfg: Path, code: int) -> tuple[str, str]:
    env = make_env()
    assert run_command("relink", ["--es-url", es.url, "--config", str(cfg)], env) == code, out(env) + err(env)
    return out(env), err(env)


def linked(es: FakeES) -> int:
    return sum(1 for d in es.docs(SYSLOG).values() if "cause" in d.get("rootcause", {}))


@pytest.mark.parametrize("fault", ["request_statuses", "item_429_times", "item_503_times", "search_statuses"])
def test_what_the_cluster_cannot_take_now_is_tried_again(es: FakeES, cfg: Path, fault: str) -> None:
    setattr(es.faults, fault, [429, 503, 502, 504] if fault.endswith("statuses") else 2)
    said, _ = relink(es, cfg, 0)
    assert "3 documents updated, 7 unchanged, 0 not written" in said, said
    assert linked(es) == 3


def test_items_still_refused_after_the_tries_are_counted_with_why(es: FakeES, cfg: Path) -> None:
    es.faults.item_503_times = 5
    said, warned = relink(es, cfg, 5)
    assert "0 documents updated, 7 unchanged, 3 not written" in said, said
    assert "503 unavailable_shards_exception: " in warned and "(tried 5 times)" in warned, warned
    assert "shipper: error: 3 documents could not be written back (0 were) (listed above)" in warned, warned


def test_a_bulk_request_that_fails_on_a_later_page_says_what_was_written_and_what_not(
        es: FakeES, cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shipper.commands.relink_write as writing

    pages: list[int] = []
    actions = writing.index_actions

    def second_page_unavailable(docs: Any) -> Any:  # the cluster answers 503 from the second page on
        pages.append(len(docs))
        if len(pages) == 2:
            es.faults.request_statuses = [503] * 5
        return actions(docs)

    monkeypatch.setattr(writing, "PAGE", 1)
    monkeypatch.setattr(writing, "index_actions", second_page_unavailable)
    said, warned = relink(es, cfg, 5)
    assert "1 documents updated, 7 unchanged, 2 not written" in said, said
    assert (f"relink: stopped writing: Elasticsearch at {es.url} answered the bulk request 503: "
            "cluster_block_exception") in said and "(tried 5 times); 2 documents were not written\n" in said, said
    assert "shipper: error: 2 documents could not be written back (1 were): Elasticsearch at" in warned, warned
    assert linked(es) == 1 and len(pages) == 6


def test_a_cluster_gone_before_anything_was_written_is_unreachable(
        es: FakeES, cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shipper.commands.relink_write as writing

    actions = writing.index_actions

    def gone(docs: Any) -> Any:
        es.stop()
        return actions(docs)

    monkeypatch.setattr(writing, "index_actions", gone)
    said, warned = relink(es, cfg, 6)
    assert "0 documents updated, 7 unchanged, 3 not written" in said, said
    assert f"shipper: error: the bulk request to {es.url} failed: " in warned and \
        "nothing was written (3 documents to write)" in warned, warned
