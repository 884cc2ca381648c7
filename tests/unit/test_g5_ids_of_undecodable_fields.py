"""Journal entries whose host or process name, and Elasticsearch JSON log lines whose message,
differ only in bytes that are not UTF-8 get different ids.

The id is made of those bytes (`shipper.ids`), not of the U+FFFD stored for them: a journal
entry's ``_HOSTNAME``, ``SYSLOG_IDENTIFIER`` and ``_COMM`` keep them for the id as its MESSAGE does
(and the entry gets the id of its ForwardToSyslog line, which keeps them too); so does the message
of an Elasticsearch JSON log line, which orjson reads only with them replaced. With 0 and 2
workers alike. Real journal files (systemd-journal-remote), real `shipper replay` processes, the
real local store.
"""

from __future__ import annotations

from hashlib import blake2b
from pathlib import Path

import pytest

from tests.helpers.journal import export_entry, make_journal
from tests.unit.test_ids_of_undecodable_bytes import BAD, WORKERS, _ndjson, _stored

ENTRY = {"SYSLOG_IDENTIFIER": "sshd", "SYSLOG_PID": "7", "PRIORITY": "6", "_TRANSPORT": "syslog", "MESSAGE": "caf au lait"}
# Entries that differ from ENTRY only in a field the id is made of, with ``%s`` for the byte.
ODD = {
    "_HOSTNAME": {"_HOSTNAME": b"gorp%s"},
    "SYSLOG_IDENTIFIER": {"SYSLOG_IDENTIFIER": b"ss%shd"},
    "_COMM": {"SYSLOG_IDENTIFIER": b"", "_COMM": b"ss%shd"},
}


def _key_id(*parts: bytes) -> str:
    """The first id of an event whose key is ``parts``, undecodable bytes counted as themselves."""
    key = "\x1f".join(p.decode("utf-8", "surrogateescape") for p in parts)
    return blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _journal(directory: Path, odd: dict[str, bytes], bad: bytes) -> Path:
    """A journal whose first entry is ENTRY with ``odd`` (``bad`` for its ``%s``), then 299 plain
    entries (enough for the express lane to take the others); its export text beside it
    (``<directory>.export``)."""
    padding = b"".join(export_entry({**ENTRY, "MESSAGE": f"entry {n}"}, seq=n) for n in range(1, 300))
    export = export_entry({**ENTRY, **{k: v.replace(b"%s", bad) for k, v in odd.items()}}) + padding
    make_journal(directory, export)
    directory.with_suffix(".export").write_bytes(export)
    return directory


@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("field", sorted(ODD))
def test_journal_entries_differing_only_in_an_undecodable_name_are_stored_apart(
    tmp_path: Path, field: str, workers: str
) -> None:
    first, second = (_journal(tmp_path / f"journal-{k}", ODD[field], bad) for k, bad in enumerate(BAD))
    store = tmp_path / "events.db"
    assert _stored(tmp_path, workers, store, first) == (0, 300)
    assert _stored(tmp_path, workers, store, second) == (299, 1)
    # The same entries from export dumps: the same ids.
    dumps = (first.with_suffix(".export"), second.with_suffix(".export"))
    assert _stored(tmp_path, workers, store, *dumps, fmt="journal-export") == (600, 0)


def test_an_undecodable_name_is_stored_replaced_and_the_id_is_made_of_its_bytes(tmp_path: Path) -> None:
    odd = {"_HOSTNAME": b"gorp%s", "SYSLOG_IDENTIFIER": b"ss%shd"}
    journal = _journal(tmp_path / "journal", odd, BAD[0])
    docs = {w: _ndjson(tmp_path, w, journal) for w in WORKERS}
    assert docs["0"] == docs["2"]
    doc = docs["0"][0]
    assert doc["host"] == {"name": "gorp\ufffd"} and doc["process"] == {"name": "ss\ufffdhd", "pid": 7}
    assert doc["tags"] == ["invalid_utf8"]
    assert doc["event"]["id"] == _key_id(b"gorp\xe9", b"2017-08-30T14:55:47", b"ss\xe9hd", b"7", b"caf au lait")
    # The entries of valid UTF-8 keep the ids they always had.
    assert docs["0"][1]["event"]["id"] == _key_id(b"gorp", b"2017-08-30T14:55:48", b"sshd", b"7", b"entry 1")
    assert docs["0"][1]["event"]["id"] == "b10a5fd641f0a4b2eddb50ce96be080d"
    assert "tags" not in docs["0"][1]


@pytest.mark.parametrize("workers", WORKERS)
def test_the_entry_and_its_forwarded_line_are_stored_once(tmp_path: Path, workers: str) -> None:
    """ForwardToSyslog writes the entry's host and identifier bytes as they are: the line read
    from /var/log/messages is the entry already stored."""
    odd = {"_HOSTNAME": b"gorp%s", "SYSLOG_IDENTIFIER": b"ss%shd"}
    store = tmp_path / "events.db"
    assert _stored(tmp_path, workers, store, _journal(tmp_path / "journal", odd, BAD[0])) == (0, 300)
    line = tmp_path / "messages"
    line.write_bytes(b"Aug 30 14:55:47 gorp\xe9 ss\xe9hd[7]: caf au lait\nAug 30 14:55:47 gorp\xe8 ss\xe9hd[7]: caf au lait\n")
    assert _stored(tmp_path, workers, store, line, year="2017") == (1, 1)


def _es_log(path: Path, bad: bytes) -> None:
    """A JSON (8.x) Elasticsearch server log: 3,000 lines, every 100th with ``bad`` in its message."""
    lines = []
    for i in range(3000):
        stamp = f"2024-08-30T10:{i // 60 % 60:02d}:{i % 60:02d}.000Z".encode()
        text = b"caf" + bad + b" au lait %d" % i if i % 100 == 7 else b"node started %d" % i
        lines.append(b'{"@timestamp":"' + stamp + b'","log.level":"INFO","message":"' + text
                     + b'","elasticsearch.node.name":"n\\u00f6de-1","log.logger":"o.e.n.Node"}')
    path.write_bytes(b"\n".join(lines) + b"\n")


@pytest.mark.parametrize("workers", WORKERS)
def test_es_json_lines_differing_only_in_undecodable_bytes_are_stored_apart(tmp_path: Path, workers: str) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    _es_log(first, BAD[0])
    _es_log(second, BAD[1])
    store = tmp_path / "events.db"
    assert _stored(tmp_path, workers, store, first, fmt="elasticsearch") == (0, 3000)
    assert _stored(tmp_path, workers, store, second, fmt="elasticsearch") == (2970, 30)


def test_an_es_json_message_is_stored_replaced_and_its_id_is_made_of_its_bytes(tmp_path: Path) -> None:
    path = tmp_path / "es.json"
    _es_log(path, BAD[0])
    docs = {w: _ndjson(tmp_path, w, path) for w in WORKERS}
    assert docs["0"] == docs["2"]
    doc = docs["0"][7]
    assert doc["message"] == "caf\ufffd au lait 7" and doc["tags"] == ["invalid_utf8"]
    assert doc["elasticsearch"] == {"node": {"name": "n\u00f6de-1"}} and doc["log"]["logger"] == "o.e.n.Node"
    assert doc["event"]["id"] == _key_id(b"", b"2024-08-30T10:00:07", b"", b"", b"caf\xe9 au lait 7")
    assert docs["0"][6]["event"]["id"] == _key_id(b"", b"2024-08-30T10:00:06", b"", b"", b"node started 6")


