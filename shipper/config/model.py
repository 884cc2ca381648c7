"""The configuration file's shape. Each component's settings live in one dataclass here."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from shipper.config.elasticsearch import ElasticsearchOutput
from shipper.config.loader import ByteSize, Duration, Where, build, load_yaml_file
from shipper.errors import ConfigError
from shipper.timeargs import zone_setting_error

TextFormat = Literal["auto", "syslog", "elasticsearch", "journal-export", "journal-json"]


_NAME_HELP = "a stable name for this input's checkpoint and metrics: letters, digits, '.', '_' or '-'"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def _check_name(name: str | None) -> None:
    if name is not None and not _NAME.match(name):
        raise ValueError(f"name {name!r} is not valid: use 1-64 letters, digits, '.', '_' or '-'")


@dataclass
class FileInput:
    type: Literal["file"]
    paths: list[str] = field(metadata={"help": "glob patterns, e.g. [/var/log/maillog*]"})
    format: TextFormat = "auto"
    name: str | None = field(default=None, metadata={"help": _NAME_HELP})
    exclude: list[str] = field(default_factory=list, metadata={"help": "glob patterns of files to skip, e.g. ['*.xz']"})
    start: Literal["head", "tail"] = field(
        default="head", metadata={"help": "where files found at the very first start are read from (new files: always head)"}
    )
    flush_after: Duration = field(
        default=Duration(1),
        metadata={"help": "a last line without newline, or a multi-line record, is shipped after the file is idle this long"},
    )
    scan_interval: Duration = field(default=Duration(1), metadata={"help": "how often the patterns are matched again"})

    def __post_init__(self) -> None:
        _check_name(self.name)
        if not self.paths:
            raise ValueError("paths: give at least one glob pattern, e.g. [/var/log/messages]")
        for pattern in self.paths:
            if not pattern.startswith(("/", "~")):
                raise ValueError(f"paths: {pattern!r} is relative; give an absolute pattern such as /var/log/messages")
        if self.flush_after <= 0 or self.scan_interval <= 0:
            raise ValueError("flush_after and scan_interval must be positive durations")


@dataclass
class JournalInput:
    type: Literal["journal"]
    path: Path | None = field(default=None, metadata={"help": "a directory of .journal files; omit for the local journal"})
    units: list[str] = field(
        default_factory=list,
        metadata={"help": "units to ship, with the records PID 1 writes about them; with identifiers: either matches"},
    )
    identifiers: list[str] = field(default_factory=list, metadata={"help": "SYSLOG_IDENTIFIERs to ship, e.g. [sendmail]"})
    priority: int | None = field(default=None, metadata={"help": "ship records of this priority or more severe (0-7; 4 = warning)"})
    start: str = field(default="head", metadata={"help": "head, tail, or a time such as 2024-01-31T12:00:00Z"})
    name: str | None = field(default=None, metadata={"help": _NAME_HELP})

    def __post_init__(self) -> None:
        _check_name(self.name)
        if self.priority is not None and not 0 <= self.priority <= 7:
            raise ValueError(f"priority {self.priority} is out of range: use 0 (emerg) to 7 (debug)")
        if self.start not in ("head", "tail"):
            try:
                datetime.fromisoformat(self.start.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(f"start {self.start!r} is not head, tail or a time such as 2024-01-31T12:00:00Z") from None


InputConfig = FileInput | JournalInput


YEARS = range(1970, 10000)  # the years parse.year and replay's --year accept


@dataclass
class ParseConfig:
    timezone: str | None = field(
        default=None, metadata={"help": "an IANA zone such as Europe/Berlin or UTC, or an offset such as +02:00"}
    )
    year: int | None = None
    max_line_bytes: ByteSize = ByteSize(64 * 1024)

    def __post_init__(self) -> None:
        problem = None if self.timezone is None else zone_setting_error(self.timezone)
        if problem is not None:
            raise ValueError(f"timezone {problem}")
        if self.year is not None and self.year not in YEARS:
            raise ValueError(f"year {self.year} is out of range: give a year from {YEARS.start} to {YEARS.stop - 1}, "
                             "such as 2017, or leave it out (each file's modification time gives it)")
        if self.max_line_bytes < 1:
            raise ValueError(f"max_line_bytes must be at least 1 byte, not {self.max_line_bytes}: "
                             "leave it out for the default, 64KiB")


DEFAULT_INCIDENT_WINDOW = Duration(600)  # recognise.incident_window when the config gives none


@dataclass
class RecogniseConfig:
    incident_window: Duration = DEFAULT_INCIDENT_WINDOW


@dataclass
class LocalOutput:
    path: Path | None = field(default=None, metadata={"help": "the SQLite file, e.g. /var/lib/shipper/events.db"})


@dataclass
class NdjsonOutput:
    path: Path | None = field(default=None, metadata={"help": "a file to write; omit for standard output"})


@dataclass
class OutputConfig:
    local: LocalOutput | None = None
    ndjson: NdjsonOutput | None = None
    elasticsearch: ElasticsearchOutput | None = None

    def configured(self) -> list[str]:
        """The names of the outputs the configuration sets."""
        return [name for name in ("local", "ndjson", "elasticsearch") if getattr(self, name) is not None]


@dataclass
class MetricsConfig:
    listen: str = field(
        default="127.0.0.1:9464", metadata={"help": "HOST:PORT of the Prometheus endpoint (127.0.0.1 keeps it local)"}
    )

    def __post_init__(self) -> None:
        host, sep, port = self.listen.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"listen {self.listen!r} is not HOST:PORT, e.g. 127.0.0.1:9464")


@dataclass
class RunConfig:
    """Settings of `shipper run`, the daemon."""

    queue_events: int = field(
        default=10_000,
        metadata={"help": "events held in memory on their way to the output; when full, reading pauses "
                          "(while the output is unreachable, batches go to the disk buffer instead)"},
    )
    spool_max_bytes: ByteSize = field(
        default=ByteSize(1 << 30), metadata={"help": "the disk buffer's cap (e.g. 1GiB); when full, reading pauses"}
    )
    # Small batches: a batch goes through recognition and encoding while its documents are still in
    # the CPU's caches from parsing (the output merges batches into its own bulk requests).
    batch_events: int = field(default=256, metadata={"help": "events per batch handed to the output"})
    batch_wait: Duration = field(
        default=Duration(0.2), metadata={"help": "how long a batch may wait to fill before it is sent anyway (e.g. 200ms)"}
    )
    stop_timeout: Duration = field(
        default=Duration(10), metadata={"help": "on SIGTERM, how long to wait for the output before exiting"}
    )
    status_interval: Duration = field(default=Duration(5), metadata={"help": "how often the status file is written"})
    metrics: MetricsConfig | None = field(
        default=None, metadata={"help": "set (e.g. metrics: {listen: 127.0.0.1:9464}) to serve Prometheus metrics"}
    )

    def __post_init__(self) -> None:
        if self.queue_events < 1 or self.batch_events < 1:
            raise ValueError("queue_events and batch_events must be at least 1")
        if self.spool_max_bytes < 1 << 20:
            raise ValueError("spool_max_bytes must be at least 1MiB")
        if self.batch_wait <= 0 or self.stop_timeout <= 0 or self.status_interval <= 0:
            raise ValueError("batch_wait, stop_timeout and status_interval must be positive durations")


@dataclass
class Config:
    state_dir: Path = Path("/var/lib/shipper")
    inputs: list[InputConfig] = field(default_factory=list)
    parse: ParseConfig = field(default_factory=ParseConfig)
    recognise: RecogniseConfig = field(default_factory=RecogniseConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    run: RunConfig = field(default_factory=RunConfig)
    # Not a key: the file the settings were read from, and the line of every key (see `error`).
    where: Where = field(default_factory=lambda: Where("", {}), init=False, repr=False, compare=False)

    def error(self, key: str, problem: str, fix: str | None = None) -> ConfigError:
        """An error found after loading (the daemon's plan) about ``key`` (dotted: ``inputs[1]``),
        naming the file and the line of the key as the loader's errors do."""
        return self.where.error(key, problem, fix)

    def local_store(self) -> Path:
        """Where the local store is: ``output.local.path``, else ``<state_dir>/events.db``."""
        local = self.output.local
        return local.path if local is not None and local.path is not None else self.state_dir / "events.db"



def load_config(path: Path | None) -> Config:
    """The configuration in ``path``, strictly validated; defaults when ``path`` is None."""
    if path is None:
        return Config()
    data, where = load_yaml_file(path)
    cfg = build(Config, data, str(path), where)
    cfg.where = where
    return cfg
