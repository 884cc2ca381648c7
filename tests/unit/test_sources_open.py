"""open_inputs: from paths to groups of sources (families, journals, stdin, errors)."""

from __future__ import annotations

import bz2
import gzip
import io
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from shipper.errors import ExitCode, InputError
from shipper.sources.export import ExportSource
from shipper.sources.files import TextSource
from shipper.sources.journal import JournalSource
from shipper.sources.open import open_inputs
from shipper.sources.stream import input_error
from tests.helpers.sources import read_all, read_group_items

DATA = Path(__file__).resolve().parents[1] / "data"
MESSAGES = DATA / "corpus/derived/fedora37-no-rtc/unit-lifecycle.short-iso.log"
ES_LOG = DATA / "corpus/real/beats/elasticsearch.624.log"
JOURNAL_ZST = DATA / "corpus/real/systemd/no-rtc/user-1000.journal.zst"


def _split_family(directory: Path) -> list[str]:
    """MESSAGES cut into a rotated set; returns its lines."""
    data = MESSAGES.read_bytes()
    lines = data.splitlines(keepends=True)
    parts = [b"".join(lines[k * 900 : (k + 1) * 900]) for k in range(4)]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "messages-20221020.gz").write_bytes(gzip.compress(parts[0]))
    (directory / "messages.2.bz2").write_bytes(bz2.compress(parts[1]))
    (directory / "messages.1").write_bytes(parts[2])
    (directory / "messages").write_bytes(parts[3])
    os.utime(directory / "messages-20221020.gz", (1, 1))
    os.utime(directory / "messages.2.bz2", (2, 2))
    os.utime(directory / "messages.1", (3, 3))
    return [line.rstrip(b"\n").decode() for line in lines[: 4 * 900]]


def test_directory_gives_one_group_per_family_and_one_for_journals(tmp_path: Path) -> None:
    lines = _split_family(tmp_path)
    (tmp_path / "elasticsearch.log").write_bytes(ES_LOG.read_bytes())
    (tmp_path / ".hidden").write_bytes(b"not read\n")
    sub = tmp_path / "journal" / "2dc07f7a727e4b46a1927eab9d6cd4b7"
    sub.mkdir(parents=True)
    (sub / "user-1000.journal.zst").write_bytes(JOURNAL_ZST.read_bytes())
    (tmp_path / "system.journal.zst").write_bytes((JOURNAL_ZST.parent / "system.journal.zst").read_bytes())

    groups = open_inputs([str(tmp_path)])
    ids = [g.source_id for g in groups]
    assert ids == [str(tmp_path / "elasticsearch.log"), str(tmp_path / "messages"), f"journal:{tmp_path}"]
    es, messages, journal = groups
    assert [type(s) for s in es.sources] == [TextSource]
    assert es.sources[0].origin.format == "elasticsearch"  # type: ignore[attr-defined]
    # The dated file is the oldest by mtime here, so the dated block goes first.
    assert [s.origin.path for s in messages.sources] == [  # type: ignore[attr-defined]
        str(tmp_path / n) for n in ("messages-20221020.gz", "messages.2.bz2", "messages.1", "messages")
    ]
    assert all(s.source_id == messages.source_id for s in messages.sources)
    assert read_group_items(messages.sources) == lines
    [jsource] = journal.sources
    assert isinstance(jsource, JournalSource)
    assert len(read_all(jsource).items) > 1000


def test_paths_of_one_family_given_separately_are_one_group(tmp_path: Path) -> None:
    _split_family(tmp_path)
    names = ["messages", "messages.1", "messages.2.bz2"]
    [group] = open_inputs([str(tmp_path / n) for n in names])
    assert group.source_id == str(tmp_path / "messages")
    assert [s.origin.path for s in group.sources] == [  # type: ignore[attr-defined]
        str(tmp_path / n) for n in ("messages.2.bz2", "messages.1", "messages")
    ]


def test_a_plain_file_is_one_group_and_a_path_given_twice_is_read_once(tmp_path: Path) -> None:
    groups = open_inputs([str(ES_LOG), str(ES_LOG), str(ES_LOG.parent / "." / ES_LOG.name)])
    assert [g.source_id for g in groups] == [str(ES_LOG)]
    assert len(groups[0].sources) == 1


def test_stdin_compressed(tmp_path: Path) -> None:
    data = MESSAGES.read_bytes()
    [group] = open_inputs(["-"], stdin=io.BytesIO(gzip.compress(data)))
    assert group.source_id == "stdin"
    [source] = group.sources
    assert source.total() is None
    result = read_all(source)
    assert result.items == [line.decode() for line in data.splitlines()]
    assert result.chunks[0].origin.path is None
    assert result.chunks[-1].checkpoint == ("-", len(data))


def test_stdin_export_dump() -> None:
    data = (DATA / "corpus/real/beats/journal1.export").read_bytes()
    [group] = open_inputs(["-"], stdin=io.BytesIO(data))
    [source] = group.sources
    assert isinstance(source, ExportSource)
    assert len(read_all(source).items) == 10


def test_a_binary_journal_on_stdin_is_refused_clearly() -> None:
    with pytest.raises(InputError) as err:
        open_inputs(["-"], stdin=io.BytesIO(JOURNAL_ZST.read_bytes()))
    assert "binary journal" in str(err.value) and "journalctl -o export" in str(err.value)


def test_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "maillog"
    with pytest.raises(InputError) as err:
        open_inputs([str(ES_LOG), str(missing)])
    assert err.value.exit_code == ExitCode.INPUT
    message = str(err.value)
    assert str(missing) in message and "No such file or directory" in message and "check the path" in message


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "secure"
    path.write_bytes(b"x\n")
    path.chmod(0)
    with pytest.raises(InputError) as err:
        open_inputs([str(tmp_path)])
    assert str(path) in str(err.value) and "Permission denied" in str(err.value)


def test_unknown_format() -> None:
    with pytest.raises(InputError) as err:
        open_inputs([str(ES_LOG)], fmt="xml")
    assert "journal-json" in str(err.value)


def test_forced_format(tmp_path: Path) -> None:
    [group] = open_inputs([str(MESSAGES)], fmt="elasticsearch")
    assert group.sources[0].origin.format == "elasticsearch"  # type: ignore[attr-defined]
    [group] = open_inputs([str(MESSAGES)], fmt="journal-export")
    result = read_all(group.sources[0])  # a text file read as export: nothing is lost
    assert len(result.items) > 5 and set(result.tags.values()) == {("unparsed",)}
    assert all(len(item["MESSAGE"].encode()) <= 65536 for item in result.items)
    assert "\n".join(item["MESSAGE"] for item in result.items) == MESSAGES.read_text().rstrip("\n")
    (tmp_path / "system.journal.zst").write_bytes(JOURNAL_ZST.read_bytes())
    [group] = open_inputs([str(tmp_path)], fmt="syslog")  # a binary journal is always a journal
    assert isinstance(group.sources[0], JournalSource)


def test_empty_directory_gives_no_groups(tmp_path: Path) -> None:
    assert open_inputs([str(tmp_path)]) == []


def test_a_fifo_is_read_as_a_stream(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    data = ES_LOG.read_bytes()

    def write() -> None:
        with open(fifo, "wb") as out:
            out.write(data)

    writer = threading.Thread(target=write)
    writer.start()
    [group] = open_inputs([str(fifo)])
    result = read_all(group.sources[0])
    writer.join()
    assert result.items == [line.decode() for line in data.splitlines()]
    assert result.chunks[0].origin.format == "elasticsearch"


def test_permission_error_message() -> None:
    exc = PermissionError(13, "Permission denied", "/var/log/secure")
    err = input_error("/var/log/secure", exc)
    assert str(err) == (
        "cannot read /var/log/secure: Permission denied (run as a user that may read it "
        "(e.g. a member of group adm), or copy the file)"
    )


def test_journal_files_without_systemd_python_fail_early_and_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "system.journal.zst").write_bytes(JOURNAL_ZST.read_bytes())
    (tmp_path / "messages").write_bytes(b"Aug 30 14:55:47 gorp sendmail[1]: x\n")
    monkeypatch.setitem(sys.modules, "systemd", None)  # what a host without systemd-python sees
    with pytest.raises(InputError) as err:
        open_inputs([str(tmp_path)])
    assert "systemd-python" in str(err.value) and "journalctl -o export" in str(err.value)
    [group] = open_inputs([str(tmp_path / "messages")])  # text replay still works
    assert read_all(group.sources[0]).items == ["Aug 30 14:55:47 gorp sendmail[1]: x"]


def test_a_file_removed_or_replaced_after_it_was_listed_is_read_as_listed(tmp_path: Path) -> None:
    """logrotate deletes the oldest file and renames the others while a replay runs: what was
    listed is read (the files are held open from the listing, `shipper.sources.pins`), not
    "No such file", and not the new file that took the name."""
    text = tmp_path / "maillog.1"
    text.write_bytes(b"Aug 30 14:55:47 gorp sendmail[1]: x\n")
    dump = tmp_path / "dump.export"
    dump.write_bytes((DATA / "corpus/real/beats/journal1.export").read_bytes())
    expected = read_all(open_inputs([str(dump)])[0].sources[0]).items
    groups = open_inputs([str(text), str(dump)])
    text.unlink()
    text.write_bytes(b"Aug 30 14:55:48 gorp sendmail[1]: a new file under the name\n")
    dump.unlink()
    assert read_all(groups[0].sources[0]).items == ["Aug 30 14:55:47 gorp sendmail[1]: x"]
    assert read_all(groups[1].sources[0]).items == expected and len(expected) == 10




def test_more_files_than_the_open_files_limit_are_all_read(tmp_path: Path) -> None:
    """Files are held open from the listing: past the soft limit of open files, it is raised
    towards the hard one instead of failing with "Too many open files"."""
    for n in range(100):
        (tmp_path / f"app{n:03d}.log").write_bytes(f"Aug 30 14:55:47 gorp app{n}[1]: file {n}\n".encode())
    script = ("import resource\n"
              "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
              "resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))\n"
              "from shipper.sources.open import open_inputs\n"
              f"groups = open_inputs([{str(tmp_path)!r}])\n"
              "print(sum(1 for g in groups for s in g.sources for c in s.chunks() for _ in c.items))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == ["100"]


def test_a_file_truncated_while_it_is_read_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """logrotate's copytruncate empties the file in place while a replay reads it: what was read
    stays, and the last item says the rest was cut (not a silent end)."""
    log = tmp_path / "messages"
    log.write_bytes(b"".join(b"Aug 30 14:55:47 gorp app[1]: line %d\n" % i for i in range(2000)))
    monkeypatch.setattr(TextSource, "block_size", 4096)
    [group] = open_inputs([str(log)])
    [source] = group.sources
    assert isinstance(source, TextSource)
    chunks = source.chunks()
    items = list(next(chunks).items)
    with open(log, "r+b") as f:
        f.truncate(0)
    rest = list(chunks)
    source.close()
    items += [item for chunk in rest for item in chunk.items]
    lines, error = items[:-1], items[-1]
    original = [f"Aug 30 14:55:47 gorp app[1]: line {i}" for i in range(len(lines))]
    assert 0 < len(lines) < 2000 and lines[:-1] == original[:-1]
    assert original[-1].startswith(lines[-1])  # the line the truncation cut, as far as it was read
    assert "was truncated while it was read" in error and "replay the copy" in error
    assert rest[-1].tags == {len(rest[-1].items) - 1: ("unparsed", "read_error")}


def test_a_text_source_read_again_reads_the_file_again(tmp_path: Path) -> None:
    """The listed descriptor serves the first reading; it is closed with that stream, and its
    number may be another file's later, so a second reading opens the file by its name."""
    log = tmp_path / "messages"
    log.write_bytes(b"Aug 30 14:55:47 gorp app[1]: one\n")
    [group] = open_inputs([str(log)])
    [source] = group.sources
    first = read_all(source).items
    other = open(tmp_path / "other", "wb")  # likely to take the number the first reading freed
    try:
        assert read_all(source).items == first == ["Aug 30 14:55:47 gorp app[1]: one"]
    finally:
        other.close()
