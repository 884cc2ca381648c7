"""The Elasticsearch parser: JSON layouts field by field, stderr grouping, prefixes, stack traces."""

from __future__ import annotations

import orjson

from shipper.event import TAG_UNPARSED, Doc, get_path
from shipper.parse.base import ParseContext
from shipper.parse.common import TAG_TIMESTAMP_INFERRED
from shipper.parse.dispatch import make_parser
from shipper.parse.eslog import strip_prefix
from shipper.sources.base import Origin, RawChunk
from tests.helpers.parse import DATA, Lines, parse_text, read_lines


def parse(*lines: str, timezone: str = "UTC", mtime: float | None = None) -> list[Doc]:
    return parse_text("elasticsearch", Lines(list(lines), [i * 1000 for i in range(len(lines))]), timezone=timezone, mtime=mtime)


def test_ecs_json_8x_keeps_error_fields_and_nests_dotted_keys() -> None:
    line = orjson.dumps(
        {
            "@timestamp": "2023-04-14T13:16:22.148Z",
            "log.level": "ERROR",
            "message": "fatal exception while booting Elasticsearch",
            "ecs.version": "1.2.0",
            "service.name": "ES_ECS",
            "event.dataset": "elasticsearch.server",
            "process.thread.name": "main",
            "log.logger": "org.elasticsearch.bootstrap.Elasticsearch",
            "elasticsearch.node.name": "es01",
            "elasticsearch.cluster.name": "docker-cluster",
            "elasticsearch.cluster.uuid": "",
            "error.type": "java.lang.IllegalStateException",
            "error.message": "failed to obtain node locks",
            "error.stack_trace": "java.lang.IllegalStateException: failed\n\tat org.elasticsearch.env.NodeEnvironment.<init>",
        }
    ).decode()
    (doc,) = parse(line)
    assert doc["@timestamp"] == "2023-04-14T13:16:22.148000Z"
    assert doc["log"] == {
        "level": "ERROR",
        "logger": "org.elasticsearch.bootstrap.Elasticsearch",
        "file": {"path": "/var/log/test.log"},
        "offset": 0,
    }
    assert doc["elasticsearch"] == {"node": {"name": "es01"}, "cluster": {"name": "docker-cluster"}}
    assert doc["error"]["type"] == "java.lang.IllegalStateException"
    assert doc["error"]["stack_trace"].startswith("java.lang.IllegalStateException: failed\n\tat ")
    assert doc["process"] == {"thread": {"name": "main"}}
    assert doc["event"] == {"dataset": "elasticsearch.server", "kind": "event"}
    assert "ecs" not in doc and "service" not in doc


def test_json_7x_server_layout_with_stacktrace() -> None:
    (doc,) = parse(
        '{"type": "server", "timestamp": "2019-01-18T08:55:08,159+0100", "level": "WARN", "component": "o.e.b.BootstrapChecks", '
        '"cluster.name": "distribution_run", "node.name": "node-0", "message": "node validation exception\\n[1] bootstrap checks failed", '
        '"cluster.uuid": "Kf0Tc8fUTnW1z7oaMUgzGQ", "node.id": "WFhM7OPMScyc-25-pLM3cw", "stacktrace": ["java.lang.X: y", "at a.b(C.java:1)"] }'
    )
    assert doc["@timestamp"] == "2019-01-18T07:55:08.159000Z"
    assert doc["message"] == "node validation exception\n[1] bootstrap checks failed"
    assert get_path(doc, "log.level") == "WARN" and get_path(doc, "log.logger") == "o.e.b.BootstrapChecks"
    assert doc["elasticsearch"] == {
        "cluster": {"name": "distribution_run", "uuid": "Kf0Tc8fUTnW1z7oaMUgzGQ"},
        "node": {"name": "node-0", "id": "WFhM7OPMScyc-25-pLM3cw"},
    }
    assert doc["error"] == {"stack_trace": "java.lang.X: y\nat a.b(C.java:1)"}


def test_console_capture_groups_stderr_lines_and_infers_their_time() -> None:
    docs = parse(
        "[2023-01-19T13:49:33,414][INFO ][o.e.b.BootstrapChecks    ] [fedora] bound or publishing to a non-loopback "
        "address, enforcing bootstrap checks",
        "ERROR: [2] bootstrap checks failed",
        "[1]: max file descriptors [4096] for elasticsearch process is too low, increase to at least [65535]",
        "[2]: max virtual memory areas vm.max_map_count [65530] is too low, increase to at least [262144]",
        "ERROR: Elasticsearch did not exit normally - check the logs at /var/log/elasticsearch/es.log",
        "bootstrap check failure [1] of [1]: the default discovery settings are unsuitable for production use",
        "[2023-01-19T13:49:33,420][INFO ][o.e.n.Node               ] [fedora] stopping ...",
    )
    assert [d["message"].split("\n")[0][:30] for d in docs] == [
        "bound or publishing to a non-l",
        "ERROR: [2] bootstrap checks fa",
        "ERROR: Elasticsearch did not e",
        "bootstrap check failure [1] of",
        "stopping ...",
    ]
    assert docs[1]["message"].count("\n") == 2
    assert [d.get("tags") for d in docs] == [None] + [[TAG_TIMESTAMP_INFERRED]] * 3 + [None]
    assert {d["@timestamp"] for d in docs[:4]} == {"2023-01-19T13:49:33.414000Z"}
    assert [get_path(d, "log.level") for d in docs] == ["INFO", "ERROR", "ERROR", None, "INFO"]


def test_validation_exception_in_the_log_file_keeps_its_numbered_lines() -> None:
    docs = parse(
        "[2019-08-30T10:00:00,000][ERROR][o.e.b.Bootstrap          ] [node-1] node validation exception",
        "[1] bootstrap checks failed",
        "[1]: the default discovery settings are unsuitable for production use",
        "[2019-08-30T10:00:00,100][INFO ][o.e.n.Node               ] [node-1] stopping ...",
        timezone="Europe/Berlin",
    )
    assert len(docs) == 2
    assert docs[0]["message"].splitlines() == [
        "node validation exception",
        "[1] bootstrap checks failed",
        "[1]: the default discovery settings are unsuitable for production use",
    ]
    assert docs[0]["@timestamp"] == "2019-08-30T08:00:00.000000Z"
    assert get_path(docs[0], "elasticsearch.node.name") == "node-1"


def test_compose_prefixes_of_two_containers_do_not_mix() -> None:
    docs = parse(
        "es01  | ERROR: [1] bootstrap checks failed",
        "es02  | ERROR: [1] bootstrap checks failed",
        "es01  | [1]: max virtual memory areas vm.max_map_count [65530] is too low, increase to at least [262144]",
        "es02  | [1]: max file descriptors [4096] for elasticsearch process is too low, increase to at least [65535]",
    )
    assert [(d["container"]["name"], d["message"].count("\n")) for d in docs] == [("es01", 1), ("es02", 1)]
    assert docs[0]["message"].splitlines()[1] == "[1]: max virtual memory areas vm.max_map_count [65530] is too low, increase to at least [262144]"
    assert "max file descriptors" in docs[1]["message"]


def test_stack_trace_after_a_json_line_folds_but_other_text_does_not() -> None:
    docs = parse(
        '{"@timestamp":"2023-04-14T13:16:22.148Z", "log.level":"ERROR", "message":"boom"}',
        "\tat org.elasticsearch.Foo.bar(Foo.java:1)",
        "dockerelk5_elasticsearch_1 exited with code 78",
        "{not json",
        "",
    )
    assert docs[0]["message"] == "boom\n\tat org.elasticsearch.Foo.bar(Foo.java:1)"
    assert [d["tags"] for d in docs[1:]] == [[TAG_UNPARSED, TAG_TIMESTAMP_INFERRED]] * 3
    assert [d["message"] for d in docs[1:]] == ["dockerelk5_elasticsearch_1 exited with code 78", "{not json", ""]
    assert {d["@timestamp"] for d in docs} == {"2023-04-14T13:16:22.148000Z"}


def test_json_that_is_not_an_object_or_has_odd_values() -> None:
    docs = parse('["a"]', '{"message": {"nested": 1}, "@timestamp": 12, "log.level": null}', mtime=1504104947.0)
    assert docs[0]["tags"] == [TAG_UNPARSED, TAG_TIMESTAMP_INFERRED] and docs[0]["@timestamp"] == "2017-08-30T14:55:47.000000Z"
    assert docs[1]["message"] == '{"nested":1}' and docs[1]["tags"] == [TAG_TIMESTAMP_INFERRED]
    assert "level" not in docs[1].get("log", {})


def test_records_are_held_across_chunks() -> None:
    origin = Origin("es", "elasticsearch", "/var/log/elasticsearch/es.log")
    parser = make_parser(origin, ParseContext("UTC"))
    lines = read_lines(DATA / "corpus/excerpts/elasticsearch/es5.0.0-alpha1-issue17430.log")
    docs: list[Doc] = []
    for i, line in enumerate(lines.items):
        docs += parser.parse(RawChunk(origin, "text", [line], [lines.offsets[i]]))
    assert docs == []
    (doc,) = parser.flush()
    assert doc["message"].count("\n\tat ") == 8 and doc["message"].startswith("Exception\njava.lang.RuntimeException: max file")


def test_strip_prefix() -> None:
    assert strip_prefix("elasticsearch_1  | ERROR: x") == ("elasticsearch_1", "ERROR: x")
    assert strip_prefix("sonarqube_1  | ") == ("sonarqube_1", "")
    assert strip_prefix("[elastic_3c3cdec4-8]: [1]: max") == ("elastic_3c3cdec4-8", "[1]: max")
    assert strip_prefix("[1]: max file descriptors") == (None, "[1]: max file descriptors")
    assert strip_prefix('{"message": "a | b"}') == (None, '{"message": "a | b"}')
