import pytest

from shipper.acks import AckTracker
from shipper.event import get_path, set_path
from shipper.ids import IdAssigner, derived_id


def doc(ts: str, msg: str, host: str = "gorp", proc: str = "sendmail", pid: int = 24097) -> dict:
    return {"@timestamp": ts, "message": msg, "host": {"name": host}, "process": {"name": proc, "pid": pid}}


def test_checkpoint_moves_only_over_an_acknowledged_prefix() -> None:
    t = AckTracker(sinks=1)
    a, b, c = (t.register("f", pos) for pos in (10, 20, 30))
    t.ack(c)
    assert t.committed("f") is None  # 30 is acked but 10 and 20 are not
    t.ack(a)
    assert t.committed("f") == 10
    t.ack(b)
    assert t.committed("f") == 30 and t.in_flight == 0


def test_every_sink_must_acknowledge() -> None:
    t = AckTracker(sinks=2)
    s = t.register("j", "cursor-1")
    t.ack(s)
    assert t.committed("j") is None
    t.ack(s)
    assert t.committed("j") == "cursor-1"
    with pytest.raises(KeyError):
        t.ack(s)


def test_id_is_content_based_and_ignores_subsecond_precision() -> None:
    from_syslog = doc("2017-08-30T14:56:07.000000Z", "daemon Daemon1: problem creating SMTP socket")
    from_journal = doc("2017-08-30T14:56:07.418211Z", "daemon Daemon1: problem creating SMTP socket")
    from_syslog["log"] = {"file": {"path": "/var/log/messages"}, "offset": 10}
    IdAssigner().assign([from_syslog])
    IdAssigner().assign([from_journal])
    assert from_syslog["event"]["id"] == from_journal["event"]["id"]


def test_identical_lines_in_one_second_stay_distinct_but_stable() -> None:
    def ids() -> list[str]:
        docs = [doc("2017-08-30T14:56:07.000000Z", "same") for _ in range(3)]
        IdAssigner().assign(docs)
        return [d["event"]["id"] for d in docs]

    first = ids()
    assert len(set(first)) == 3
    assert ids() == first


def test_ids_differ_by_host_pid_and_message() -> None:
    base = doc("2017-08-30T14:56:07.000000Z", "m")
    variants = [base, doc(base["@timestamp"], "m", host="other"), doc(base["@timestamp"], "m", pid=1), doc(base["@timestamp"], "n")]
    for d in variants:
        IdAssigner().assign([d])
    assert len({d["event"]["id"] for d in variants}) == 4
    assert derived_id("x", "1") != derived_id("x", "2")


def test_paths() -> None:
    d: dict = {}
    set_path(d, "rootcause.cause.message", "m")
    assert d == {"rootcause": {"cause": {"message": "m"}}}
    assert get_path(d, "rootcause.cause.message") == "m"
    assert get_path(d, "rootcause.nope.x", 5) == 5


def test_same_line_from_two_containers_is_two_events() -> None:
    a = doc("2017-08-30T14:56:07.000000Z", "ERROR: [1] bootstrap checks failed")
    b = doc("2017-08-30T14:56:07.000000Z", "ERROR: [1] bootstrap checks failed")
    a["container"], b["container"] = {"name": "es01"}, {"name": "es02"}
    IdAssigner().assign([a, b])
    assert a["event"]["id"] != b["event"]["id"]


def test_ids_are_pinned() -> None:
    """The ids of stored events must never change (a changed id stores an event twice): these are
    the values shipper has always given. Host, second, process, pid, message, occurrence,
    container, and a message with an undecodable byte kept as a lone surrogate."""
    docs = [
        doc("2017-08-30T14:56:07.123456Z", "daemon Daemon1: problem creating SMTP socket"),
        doc("2017-08-30T14:56:07.000000Z", "daemon Daemon1: problem creating SMTP socket"),
        {"@timestamp": "2017-08-30T14:56:07.000000Z", "message": "no process", "host": {"name": "gorp"}},
        {"@timestamp": "2017-08-30T14:56:08.000000Z", "message": "ERROR: [1] bootstrap checks failed", "container": {"name": "es01"}},
        {"@timestamp": "2017-08-30T14:56:08.000000Z", "message": "bad \udcff byte", "process": {"name": "x"}},
    ]
    IdAssigner().assign(docs)
    assert [d["event"]["id"] for d in docs] == [
        "ef2db7de74ca06896bd3387bfaccedf1",
        "9845542b6893dbf3f018016d3747aec6",  # the same content again in that second
        "f7df70bb8dd3961e72333734b076a967",
        "a7a81391679eea8456a17fe15e2b501b",
        "6ee201411ae2cf9db56bb21411e68f42",
    ]
    assert derived_id("ef2db7de74ca06896bd3387bfaccedf1", "line1") == "fa3ee4f4528d687b40fc87ca97c5e42c"
