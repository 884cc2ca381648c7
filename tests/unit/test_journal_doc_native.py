"""The C builder of journal documents (shipper/parse/_journaldoc.c) gives exactly what
`journal_doc` gives: the same documents, key for key and in the same key order (their JSON), and
the same last @timestamp, on the real corpus (journal files, an export, a JSON dump), on entries made
for each rule of the mapping, and on random entries. It leaks no reference."""

from __future__ import annotations

import random
import sys
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterator

import orjson
import pytest
import zstandard

from shipper.parse import journal_fields
from shipper.parse.journal_fields import documents_in_python, journal_doc
from shipper.sources.export import ExportParser, fields_from_json

DATA = Path(__file__).resolve().parents[1] / "data"
NO_RTC = DATA / "corpus/real/systemd/no-rtc"  # real Fedora journals (tests/data/corpus/SOURCES.md)
DERIVED = DATA / "corpus/derived/fedora37-no-rtc"  # the same failures as export and JSON dumps

native = journal_fields._native_documents


def test_the_c_builder_is_built_here() -> None:
    # scripts/bootstrap installs gcc and the Python headers, so the optional extension must exist:
    # without this test a failed build would only make journal entries slower, silently.
    assert journal_fields.NATIVE


def same(entries: list[Any], last: str = "2000-01-01T00:00:00.000000Z") -> None:
    """Both builders on ``entries``: equal documents, compared as their repr (which shows key order
    and types), and the same last @timestamp."""
    assert native is not None
    py_docs, py_last = documents_in_python(entries, last)
    c_docs, c_last = native(entries, last)
    assert len(c_docs) == len(py_docs) == len(entries)
    for entry, c_doc, py_doc in zip(entries, c_docs, py_docs):
        assert repr(c_doc) == repr(py_doc), entry
    assert c_last == py_last


def journal_entries(directory: Path) -> Iterator[dict[str, Any]]:
    pytest.importorskip("systemd.journal", reason="systemd-python is not installed")
    from shipper.sources.journal_entries import journal_module, read_entries

    for f in sorted(NO_RTC.iterdir()):
        path = directory / f.name.removesuffix(".zst")
        path.write_bytes(zstandard.ZstdDecompressor().decompress(f.read_bytes(), max_output_size=1 << 28))
        reader = journal_module()._Reader(0, None, [str(path)])
        for items, _ in read_entries(reader, []):
            yield from items
        reader.close()


def test_the_corpus_journals_give_the_same_documents(tmp_path: Path) -> None:
    entries = list(journal_entries(tmp_path))
    assert len(entries) == 10757  # SOURCES.md: 10,757 entries
    same(entries)


def test_the_corpus_export_and_json_dumps_give_the_same_documents() -> None:
    exported = [fields for fields, _, _ in ExportParser(65536).feed((DERIVED / "failures.export").read_bytes(), eof=True)]
    dumped = [fields_from_json(orjson.loads(line)) for line in (DERIVED / "failures.json").read_bytes().splitlines()]
    assert len(exported) == len(dumped) > 20
    same(exported)
    same(dumped)


STAMP = "1666584260758447"
BASE = {"MESSAGE": "gdm.service: Failed with result 'exit-code'.", "__REALTIME_TIMESTAMP": STAMP}

# Each rule of the mapping, on an entry made for it: those the C code builds and those it hands to
# journal_doc (odd values), so that both halves are compared.
CASES: list[dict[str, Any]] = [
    {},
    {"MESSAGE": "no stamp at all"},
    {"__REALTIME_TIMESTAMP": STAMP},
    {**BASE, "_SOURCE_REALTIME_TIMESTAMP": "1666584260733697"},
    {**BASE, "_SOURCE_REALTIME_TIMESTAMP": "1666584260733697x"},  # invalid: the received stamp
    {**BASE, "_SOURCE_REALTIME_TIMESTAMP": "", "__REALTIME_TIMESTAMP": "x"},  # neither: inferred
    {**BASE, "__REALTIME_TIMESTAMP": "123"},  # zero-filled
    {**BASE, "__REALTIME_TIMESTAMP": "1234567"},
    {**BASE, "__REALTIME_TIMESTAMP": "253402300799999999"},  # 9999-12-31T23:59:59.999999Z
    {**BASE, "__REALTIME_TIMESTAMP": "253402300800000000"},  # year 10000
    {**BASE, "__REALTIME_TIMESTAMP": "1666584260758447123"},  # 19 digits
    {**BASE, "__REALTIME_TIMESTAMP": "١٦٦٦٥٨٤٢٦٠٧٥٨٤٤٧"},  # digits, not ASCII
    {**BASE, "SYSLOG_IDENTIFIER": "sendmail", "_COMM": "sendmail-mta", "SYSLOG_PID": "123", "_PID": "456"},
    {**BASE, "SYSLOG_IDENTIFIER": "", "_COMM": "sendmail-mta", "SYSLOG_PID": "12a", "_PID": "456"},
    {**BASE, "SYSLOG_IDENTIFIER": "", "_COMM": "", "SYSLOG_PID": "", "_PID": "0123"},
    {**BASE, "_PID": "1234567890123456789"},  # 19 digits: no pid, kept in custom
    {**BASE, "_PID": "999999999999999999"},
    {**BASE, "SYSLOG_PID": "７"},  # a digit, not ASCII
    {**BASE, "_HOSTNAME": ""},
    {**BASE, "_HOSTNAME": "fedora", "UNIT": "gdm.service", "_SYSTEMD_UNIT": "init.scope"},
    {**BASE, "UNIT": "", "_SYSTEMD_UNIT": "init.scope", "USER_UNIT": "", "_SYSTEMD_USER_UNIT": ""},
    {**BASE, "INVOCATION_ID": "", "USER_INVOCATION_ID": "", "_SYSTEMD_INVOCATION_ID": "e7cb"},
    {**BASE, "USER_INVOCATION_ID": "64c1", "_SYSTEMD_INVOCATION_ID": "0006", "_SYSTEMD_SLICE": "", "_TRANSPORT": "x"},
    *({**BASE, "PRIORITY": p} for p in ("0", "3", "7", "8", "06", "nine", "", " 3")),
    *({**BASE, "SYSLOG_FACILITY": f} for f in ("0", "3", "23", "24", "03", "")),
    {**BASE, "PRIORITY": "4", "SYSLOG_FACILITY": "3"},
    {**BASE, "PRIORITY": "4", "SYSLOG_FACILITY": "99"},
    {**BASE, "MESSAGE_ID": "", "_BOOT_ID": "5ea5", "__CURSOR": "s=1"},
    {**BASE, "UNIT_RESULT": "exit-code", "EXIT_CODE": "exited", "EXIT_STATUS": "71", "COMMAND": "ExecStart"},
    {**BASE, "UNIT_RESULT": "", "EXIT_CODE": "", "EXIT_STATUS": "n/a", "COMMAND": "", "CODE_FUNC": ""},
    {**BASE, "CODE_FUNC": "unit_log_failure", "CODE_FILE": "src/core/unit.c", "CODE_LINE": "5624"},
    {**BASE, "JOB_TYPE": "start", "JOB_RESULT": "failed", "JOB_ID": "157"},
    {**BASE, "JOB_TYPE": "", "JOB_RESULT": "", "JOB_ID": ""},
    {**BASE, "JOB_ID": "88", "TID": "1562"},
    {"__REALTIME_TIMESTAMP": STAMP, "MESSAGE": b"\xff binary"},
    {**BASE, "MESSAGE": [b"first", "second"]},
    {**BASE, "COREDUMP": b"\x00\x01", "_HOSTNAME": b"host", "EXTRA": None, "LIST": ["a", b"\xfe"]},
    {**BASE, "PRIORITY": 3, "_PID": 12},
    MappingProxyType({**BASE, "_HOSTNAME": "a mapping, not a dict"}),
    {**BASE, "_HOSTNAME": type("Text", (str,), {})("a str subclass")},
    {**BASE, 3: "a key that is not text", "Ä": "x"},
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_each_rule_gives_the_same_document(case: int) -> None:
    same([CASES[case]])


def test_the_inferred_stamp_follows_from_entry_to_entry() -> None:
    same([{"MESSAGE": "a"}, {**BASE, "__REALTIME_TIMESTAMP": "1700000000000001"}, {"MESSAGE": "b"}, {"MESSAGE": "c"}])


KEYS = [*sorted(journal_fields._KEYWORD_FIELDS), "CODE_FILE", "TID", "_UID", "_CMDLINE", "OTHER"]
VALUES: list[Any] = ["", "0", "3", "7", "23", "123", "0123", "x", "init.scope", "1666584260758447", "16665842607584",
                     "253402300800000000", b"\xff", b"ok", ["a", "b"], None, "é"]


def random_entries(rng: random.Random, n: int) -> list[dict[str, Any]]:
    """Entries of random fields in random order, mostly str values (the common case), sometimes odd."""
    entries = []
    for _ in range(n):
        keys = rng.sample(KEYS, rng.randint(0, len(KEYS)))
        entry: dict[str, Any] = {}
        for key in keys:
            entry[key] = rng.choice(VALUES) if rng.random() < 0.3 else rng.choice(VALUES[:12])
        if rng.random() < 0.8:
            entry["__REALTIME_TIMESTAMP"] = str(1666584260758447 + rng.randint(0, 10**8))
        entries.append(entry)
    return entries


def test_random_entries_give_the_same_documents() -> None:
    rng = random.Random(20261127)
    for _ in range(20):
        same(random_entries(rng, 500))


def test_no_reference_is_leaked_or_lost() -> None:
    # Each value and key of an entry must be referenced as before once its documents are gone.
    assert native is not None
    entries = random_entries(random.Random(7), 300) + [dict(c) for c in CASES if isinstance(c, dict)]
    # (not the shared singletons, None and small ints, whose counts other threads move)
    objects = [obj for e in entries for kv in e.items() for obj in kv if sys.getrefcount(obj) < 10_000]
    before = [sys.getrefcount(obj) for obj in objects]
    for _ in range(3):
        docs, last = native(entries, "2000-01-01T00:00:00.000000Z")
        del docs, last
    assert [sys.getrefcount(obj) for obj in objects] == before


def test_what_journal_doc_raises_is_raised() -> None:
    from shipper.parse import _journaldoc

    def broken(fields: Any, last: str) -> Any:
        raise RuntimeError("journal_doc failed")

    args = (journal_fields._SEVERITY_OF, journal_fields._FACILITY_OF)
    with pytest.raises(RuntimeError, match="journal_doc failed"):
        _journaldoc.docs([BASE, {"MESSAGE": "no stamp: journal_doc's"}], "x", broken, *args)
    with pytest.raises(TypeError, match="without @timestamp"):
        _journaldoc.docs([{"MESSAGE": "no stamp"}], "x", lambda fields, last: {}, *args)
    assert _journaldoc.docs([BASE], "x", broken, *args)[0] == [journal_doc(BASE)]

    entries: list[Any] = [{"MESSAGE": "a"}, {"MESSAGE": "b"}, {"MESSAGE": "c"}]

    def shrinking(fields: Any, last: str) -> Any:  # a journal_doc that empties the list it is given
        entries.clear()
        return journal_doc(fields, last)

    with pytest.raises(RuntimeError, match="changed while they were read"):
        _journaldoc.docs(entries, "x", shrinking, *args)
