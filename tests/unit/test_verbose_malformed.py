"""A ``journalctl -o verbose`` dump with damage in it: what is no entry is kept as unparsed events,
never dropped, the good entries around it read; telling verbose text from other text."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipper.errors import InputError
from shipper.event import TAG_META, TAG_READ_ERROR, TAG_TRUNCATED, TAG_UNPARSED
from shipper.sources.open import open_inputs
from shipper.sources.sniff import not_a_log, sniff
from tests.helpers.sources import ReadResult, read_all

DATA = Path(__file__).resolve().parents[1] / "data"
CORPUS = (DATA / "corpus/derived/fedora37-no-rtc/failures.verbose.txt").read_bytes()
SYSLOG = (DATA / "corpus/derived/fedora37-no-rtc/unit-lifecycle.short-iso.log").read_bytes()


def _entries(data: bytes) -> list[bytes]:
    """The corpus dump's entries, each its header and field lines with their line ends."""
    starts = [i + 1 for i in range(len(data)) if data.startswith(b"\nMon 2022-", i)]
    bounds = [0, *starts, len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:])]


ENTRIES = _entries(CORPUS)


def read_bytes(tmp_path: Path, data: bytes, name: str = "dump.txt", **kwargs: str) -> ReadResult:
    path = tmp_path / name
    path.write_bytes(data)
    [group] = open_inputs([str(path)], **kwargs)  # type: ignore[arg-type]
    [source] = group.sources
    return read_all(source)


def test_the_corpus_dump_splits_into_its_thirty_entries() -> None:
    assert len(ENTRIES) == 30 and b"".join(ENTRIES) == CORPUS


def test_damaged_entries_and_stray_text_are_unparsed_events_and_the_good_ones_read(tmp_path: Path) -> None:
    bad_line = ENTRIES[1].replace(b"    _PID=1562\n", b"    _PID=1562\n  a line of two spaces\n", 1)
    bad_cursor = ENTRIES[2].replace(b";x=", b";x=zz", 1)
    data = (b"$ journalctl -o verbose --user > dump.txt\n" + ENTRIES[0] + bad_line + bad_cursor
            + b"pasted between two entries\n" + ENTRIES[3])
    result = read_bytes(tmp_path, data)
    items, tags = result.items, result.tags
    assert [tags.get(i, ()) for i in range(len(items))] == [(TAG_UNPARSED,), (), (TAG_UNPARSED,), (TAG_UNPARSED,),
                                                            (TAG_UNPARSED,), ()]
    assert items[0] == {"MESSAGE": "$ journalctl -o verbose --user > dump.txt"}
    # The entry with a bad line: its text whole, the fields read before that line (its time too).
    assert items[2]["MESSAGE"] == bad_line.decode().rstrip("\n")
    assert items[2]["__REALTIME_TIMESTAMP"] == "1666584053033690" and items[2]["_PID"] == "1562"
    assert "_HOSTNAME" not in items[2]  # after the bad line
    assert items[3] == {"MESSAGE": bad_cursor.decode().rstrip("\n")}  # no cursor of journalctl: nothing taken from it
    assert items[4] == {"MESSAGE": "pasted between two entries"}
    assert (items[1]["_PID"], items[5]["_PID"]) == ("1562", ENTRIES[3].split(b"    _PID=")[1].split(b"\n")[0].decode())
    assert result.chunks[-1].checkpoint == (str(tmp_path / "dump.txt"), len(data))


def test_a_dump_cut_inside_an_entry_is_said(tmp_path: Path) -> None:
    """Cut inside a value: the entry is read, tagged truncated (its last value may be cut); cut
    inside a field's name: its text is an unparsed event. Either is followed by a read error."""
    in_value = ENTRIES[1][: ENTRIES[1].index(b"    MESSAGE=") + 27]  # "    MESSAGE=Failed to start", no line end
    in_name = ENTRIES[1][: ENTRIES[1].index(b"    _COMM=") + 8]  # "    _COM"
    for cut, tags in ((in_value, (TAG_TRUNCATED,)), (in_name, (TAG_UNPARSED, TAG_TRUNCATED))):
        result = read_bytes(tmp_path, ENTRIES[0] + cut)
        assert [result.tags.get(i, ()) for i in range(3)] == [(), tags, (TAG_UNPARSED, TAG_READ_ERROR)]
        said = result.items[2]["MESSAGE"]
        assert f"ends inside the verbose entry that starts at byte {len(ENTRIES[0])}" in said
        assert "journalctl -o verbose ends every line with a line end" in said
        assert result.items[1]["_GID"] == "1000" and len(result.items) == 3
    assert read_bytes(tmp_path, ENTRIES[0] + in_value).items[1]["MESSAGE"] == "Failed to start"
    assert read_bytes(tmp_path, ENTRIES[0] + in_name).items[1]["MESSAGE"] == in_name.decode()


def test_boot_lines_blank_lines_and_catalog_text_of_either_locale(tmp_path: Path) -> None:
    """``-- Boot … --`` is a meta event; blank lines (a paste) end an entry; the catalog text of -x
    (``░░`` in a UTF-8 locale, ``-- `` before systemd 246 or in others) is left out."""
    catalog = "░░ Subject: Unit failed\n░░ \n".encode() + b"-- Subject: Unit failed\n-- \n"
    data = (b"-- Boot 5ea5fc4f82a14186b5332a788ef9435e --\n" + ENTRIES[0] + catalog + b"\n\n" + ENTRIES[1]
            + b"-- No entries --\n")
    result = read_bytes(tmp_path, data)
    assert [result.tags.get(i, ()) for i in range(4)] == [(TAG_META,), (), (), (TAG_META,)]
    assert result.items[0] == {"MESSAGE": "-- Boot 5ea5fc4f82a14186b5332a788ef9435e --"}
    assert not any("Subject" in str(v) for v in result.items[1].values())
    assert len(result.items) == 4


def test_text_that_is_no_verbose_dump_forced_to_be_read_as_one_loses_nothing(tmp_path: Path) -> None:
    lines = SYSLOG.splitlines()[:50]
    result = read_bytes(tmp_path, b"\n".join(lines) + b"\n", fmt="journal-verbose")
    assert [item["MESSAGE"].encode() for item in result.items] == lines
    assert all(tags == (TAG_UNPARSED,) for tags in result.tags.values()) and len(result.tags) == 50


def test_sniffing_tells_a_verbose_dump_from_text_that_quotes_one_entry() -> None:
    assert sniff(CORPUS[:65536]) == "journal-verbose"
    assert sniff(CORPUS[:5000]) == "journal-verbose"  # cut inside an entry by the end of the sample
    assert sniff(b"-- Boot 5ea5fc4f82a14186b5332a788ef9435e --\n" + ENTRIES[0]) == "journal-verbose"
    quoted = SYSLOG[:20000] + ENTRIES[0] + SYSLOG[20000:40000]
    assert sniff(quoted) == "syslog"
    assert sniff(ENTRIES[0].replace(b";x=", b";x=zz")) == "syslog"  # no cursor of journalctl
    assert not_a_log("system.journal", CORPUS, "journal-verbose") is None  # a dump saved as *.journal


def test_the_format_is_known_by_name(tmp_path: Path) -> None:
    path = tmp_path / "d.txt"
    path.write_bytes(CORPUS)
    assert open_inputs([str(path)], fmt="journal-verbose")
    with pytest.raises(InputError, match="journal-verbose"):
        open_inputs([str(path)], fmt="verbose")
