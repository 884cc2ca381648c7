"""``journalctl -o verbose`` dumps read as the journal entries they show: the same fields, documents,
ids, recognised failures and hints as ``-o export`` of the same entries, save what verbose does not
print (a binary value: left out and said; a value's last line end)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest
import zstandard

from shipper.event import TAG_META
from shipper.sources.open import open_inputs
from shipper.sources.sniff import sniff
from shipper.event import TAG_BLOB_NOT_SHOWN
from tests.helpers.cli import shipper_out
from tests.helpers.journal import export_entry, make_journal
from tests.helpers.sources import ReadResult, read_all

DATA = Path(__file__).resolve().parents[1] / "data"
FEDORA = DATA / "corpus/derived/fedora37-no-rtc"
NO_RTC = DATA / "corpus/real/systemd/no-rtc"
WIREPLUMBER = DATA / "verbose"
OTHER_BOOT = "35e8501129134edd9df5267c49f744a4"
SEVERAL_LINES = "daemon MTA: problem creating SMTP socket\n    indented like a field: X=1\n\nafter a blank line"


def read_path(path: Path, **kwargs: Any) -> ReadResult:
    [group] = open_inputs([str(path)], **kwargs)
    [source] = group.sources
    return read_all(source)


def entries(result: ReadResult) -> list[tuple[dict[str, Any], tuple[str, ...]]]:
    """The entries read, with their tags; journalctl's ``-- Boot … --`` lines left out."""
    out = []
    for i, item in enumerate(result.items):
        tags = result.tags.get(i, ())
        if TAG_META not in tags:
            out.append((item, tags))
    return out


def replay_ndjson(home: Path, dump: Path) -> list[dict[str, Any]]:
    out = home / f"{dump.name}.ndjson"
    shipper_out(home, "replay", "--output", "ndjson", "-o", str(out), str(dump))
    return [orjson.loads(line) for line in out.read_bytes().splitlines()]


def test_the_corpus_verbose_dump_is_sniffed_and_gives_the_export_documents_and_ids(tmp_path: Path) -> None:
    verbose = FEDORA / "failures.verbose.txt"
    assert sniff(verbose.read_bytes()[:65536]) == "journal-verbose"
    docs, expected = replay_ndjson(tmp_path, verbose), replay_ndjson(tmp_path, FEDORA / "failures.export")
    assert len(docs) == 30 and docs == expected  # every field, @timestamp, host, process, event.id
    assert docs[0]["host"] == {"name": "fedora"} and docs[0]["process"] == {"name": "systemd", "pid": 1562}
    assert docs[0]["journald"]["cursor"].startswith("s=58984ff0ab5a44e1879101a8e84f8bd1;i=6a5;")


def test_the_corpus_verbose_dump_gives_the_export_dumps_failures_and_hints(tmp_path: Path) -> None:
    causes = {}
    for name in ("failures.verbose.txt", "failures.export"):
        store = tmp_path / f"{name}.db"
        shipper_out(tmp_path, "replay", "--store", str(store), str(FEDORA / name))
        causes[name] = shipper_out(tmp_path, "causes", "--store", str(store))
    assert causes["failures.verbose.txt"] == causes["failures.export"]
    assert "gdm.service failed (exit 1/FAILURE)" in causes["failures.verbose.txt"]
    assert "udisks2.service failed (SIGABRT, core dumped)" in causes["failures.verbose.txt"]


def test_the_header_cursor_gives_the_exact_receive_time_not_the_printed_source_time() -> None:
    """The header prints _SOURCE_REALTIME_TIMESTAMP (…053.027504); the cursor's t= is the receive
    time export prints as __REALTIME_TIMESTAMP (…053.033415), m= its monotonic time."""
    [(first, tags), *_] = entries(read_path(FEDORA / "failures.verbose.txt"))
    assert tags == ()
    assert first["__REALTIME_TIMESTAMP"] == "1666584053033415" != first["_SOURCE_REALTIME_TIMESTAMP"]
    assert first["__MONOTONIC_TIMESTAMP"] == "57896445"
    assert first["_BOOT_ID"] == "5ea5fc4f82a14186b5332a788ef9435e"


def test_binary_fields_are_left_out_and_said_and_boot_lines_are_meta_events() -> None:
    """24 real entries of two boots; four carry two binary fields that verbose prints as
    ``[8B blob data]``: the fields are left out (not made up), the entry is tagged."""
    verbose = read_path(WIREPLUMBER / "wireplumber.verbose.txt")
    exported = entries(read_path(WIREPLUMBER / "wireplumber.export"))
    meta = [verbose.items[i]["MESSAGE"] for i in verbose.tagged(TAG_META)]
    assert meta == [f"-- Boot {OTHER_BOOT} --"]
    got = entries(verbose)
    assert len(got) == len(exported) == 24
    blobs = 0
    for (entry, tags), (export, _) in zip(got, exported):
        binary = sorted(k for k, v in export.items() if isinstance(v, bytes))
        if binary:
            blobs += 1
            assert binary == ["WP_OBJECT", "WP_OBJECT_TYPE"] and tags == (TAG_BLOB_NOT_SHOWN,)
            export = {k: v for k, v in export.items() if k not in binary}
        else:
            assert tags == ()
        assert entry == export
    assert blobs == 4


def test_the_verbose_format_is_forced_and_read_from_stdin(tmp_path: Path) -> None:
    dump = tmp_path / "dump.log"
    dump.write_bytes((FEDORA / "failures.verbose.txt").read_bytes())
    forced = entries(read_path(dump, fmt="journal-verbose"))
    assert len(forced) == 30 and all(tags == () for _, tags in forced)
    out = tmp_path / "out.ndjson"
    shipper_out(tmp_path, "replay", "--format", "journal-verbose", "--output", "ndjson", "-o", str(out), str(dump))
    assert len(out.read_bytes().splitlines()) == 30
    with dump.open("rb") as stdin:
        [group] = open_inputs(["-"], stdin=stdin)
        [source] = group.sources
        assert len(entries(read_all(source))) == 30


# A journal file made by systemd-journal-remote: a unit failure (its catalog text with -x), a
# message of several lines, a tab, an empty and a long value, binary values, a field twice, a
# second boot.
def _made_export() -> bytes:
    unit_failed = export_entry({
        "MESSAGE": "sendmail.service: Failed with result 'exit-code'.",
        "MESSAGE_ID": "d9b373ed55a64feb8242e02dbe79a49c", "UNIT": "sendmail.service", "UNIT_RESULT": "exit-code", "SYSLOG_IDENTIFIER": "systemd", "_PID": "1",
        "PRIORITY": "4", "SYSLOG_FACILITY": "3"}, seq=0)
    lines = export_entry({
        "MESSAGE": SEVERAL_LINES,
        "SYSLOG_IDENTIFIER": "sendmail", "_PID": "24097", "TABBED": "a\tb", "EMPTY": "", "LONG": "x" * 400}, seq=1)
    binary = export_entry({"MESSAGE": b"bin\x00ary\xff", "SYSLOG_IDENTIFIER": "binproc", "BLOB": bytes(range(256)),
                           "_BOOT_ID": OTHER_BOOT}, seq=2)
    twice = export_entry({"MESSAGE": "two values", "SYSLOG_IDENTIFIER": "dup", "_BOOT_ID": OTHER_BOOT}, seq=3)
    return unit_failed + lines + binary + twice[:-1] + b"DUP=one\nDUP=two\n\n"


def _journalctl(journal: Path, *mode: str) -> bytes:
    return subprocess.run(["journalctl", f"--file={journal}", "--no-pager", *mode],
                          env={"TZ": "UTC", "LANG": "C.UTF-8"}, capture_output=True, check=True, timeout=120).stdout


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if shutil.which("journalctl") is None:
        pytest.skip("journalctl is not installed")
    tmp = tmp_path_factory.mktemp("verbose")
    journal = make_journal(tmp / "j", _made_export())
    dumps = {}
    for name, mode in (("verbose", ("-o", "verbose", "-x")), ("all", ("-o", "verbose", "--all")),
                       ("export", ("-o", "export"))):
        dumps[name] = tmp / f"made.{name}"
        dumps[name].write_bytes(_journalctl(journal, *mode))
    return dumps


def test_a_made_journals_verbose_dump_gives_its_export_entries_but_the_binary_values(made: dict[str, Path]) -> None:
    text = made["verbose"].read_bytes()
    assert b"\n                indented like a field: X=1\n" in text and "░░ Subject: Unit failed".encode() in text
    verbose, exported = read_path(made["verbose"]), entries(read_path(made["export"]))
    assert [verbose.items[i]["MESSAGE"] for i in verbose.tagged(TAG_META)] == [f"-- Boot {OTHER_BOOT} --"]
    got = entries(verbose)
    assert [tags for _, tags in got] == [(), (), (TAG_BLOB_NOT_SHOWN,), ()]
    for (entry, _), (export, _) in zip(got, exported):
        if isinstance(export["MESSAGE"], bytes):  # 8 bytes: printed "[8B blob data]", kept so; BLOB left out
            assert entry.pop("MESSAGE") == "[8B blob data]"
            assert entry.keys() == export.keys() - {"MESSAGE", "BLOB"}
            export = {k: export[k] for k in entry}
        assert entry == export
    assert got[1][0]["MESSAGE"] == SEVERAL_LINES
    assert (got[1][0]["TABBED"], got[1][0]["EMPTY"], got[1][0]["LONG"]) == ("a\tb", "", "x" * 400)
    assert got[3][0]["DUP"] == ["one", "two"] and got[2][0]["_BOOT_ID"] == OTHER_BOOT
    assert not any("Subject" in str(v) for entry, _ in got for v in entry.values())  # the catalog is no field


def test_the_made_journals_unit_failure_is_recognised_from_its_verbose_dump(made: dict[str, Path],
                                                                           tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    shipper_out(tmp_path, "replay", "--store", str(store), str(made["verbose"]))
    said = shipper_out(tmp_path, "causes", "--store", str(store))
    assert "sendmail.service failed" in said and "gorp" in said


def test_verbose_all_values_cut_at_a_nul_byte_are_said_where_they_can_be_told(made: dict[str, Path]) -> None:
    """``--all`` prints binary values line by line with printf's %.*s: each line up to its first NUL
    byte. MESSAGE ``bin\\0ary\\xff`` prints ``bin``, which no one can tell from a whole value; BLOB
    (bytes 0 to 255) prints from its line end on, with control characters, which tag the entry."""
    got = entries(read_path(made["all"]))
    blob = bytes(range(256))
    assert got[2][0]["MESSAGE"] == "bin" and got[2][0]["BLOB"] == blob[blob.index(b"\n") :]
    assert got[2][1] == (TAG_BLOB_NOT_SHOWN,)
    assert [tags for _, tags in got] == [(), (), (TAG_BLOB_NOT_SHOWN,), ()]
    real = entries(read_path(WIREPLUMBER / "wireplumber.export"))
    assert any(isinstance(v, bytes) and b"\0" in v for entry, _ in real for v in entry.values())


def test_every_entry_of_the_corpus_journals_reads_from_verbose_as_from_export(tmp_path: Path) -> None:
    """All 10,757 entries of the real no-rtc journals: the same fields as ``-o export`` gives but
    for the four entries' binary fields (left out and tagged) and two values' last line end."""
    if shutil.which("journalctl") is None:
        pytest.skip("journalctl is not installed")
    plain = tmp_path / "plain"
    plain.mkdir()
    for f in NO_RTC.iterdir():
        with f.open("rb") as src, (plain / f.name.removesuffix(".zst")).open("wb") as dst:
            zstandard.ZstdDecompressor().copy_stream(src, dst)
    for mode in ("verbose", "export"):
        out = subprocess.run(["journalctl", f"--directory={plain}", "--no-pager", "-o", mode],
                             env={"TZ": "UTC"}, capture_output=True, check=True, timeout=300).stdout
        (tmp_path / f"all.{mode}").write_bytes(out)
    got, exported = entries(read_path(tmp_path / "all.verbose")), entries(read_path(tmp_path / "all.export"))
    assert len(got) == len(exported) == 10757
    differ: dict[str, int] = {}
    for (entry, tags), (export, _) in zip(got, exported):
        assert entry["__CURSOR"] == export["__CURSOR"]
        for key in entry.keys() | export.keys():
            if entry.get(key) != export.get(key):
                differ[key] = differ.get(key, 0) + 1
                value = export[key]
                assert (key not in entry and isinstance(value, bytes) and tags == (TAG_BLOB_NOT_SHOWN,)) or \
                    (isinstance(value, str) and value == f"{entry[key]}\n")
    assert differ == {"WP_OBJECT": 4, "WP_OBJECT_TYPE": 4, "SYSLOG_RAW": 149, "PROBLEM_REPORT": 1}
