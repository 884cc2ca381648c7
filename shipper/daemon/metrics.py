"""The opt-in Prometheus endpoint (``run.metrics.listen``, 127.0.0.1:9464 by default).

Served by ``prometheus-client`` (imported only when the endpoint is enabled) from the daemon's
latest status document, so that scraping never touches the loop's data while it changes. A reload
that changes ``run.metrics`` moves the endpoint (`MetricsEndpoint.switch`), or is refused when it
cannot listen at the new address.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

from shipper.config.model import Config, MetricsConfig
from shipper.errors import ConfigError

StatusSource = Callable[[], dict[str, Any]]

_PER_INPUT = (
    ("shipper_events_read", "counter", "read",
     "Entries read (lines, journal entries), each time they are read (again after a restart or reload)"),
    ("shipper_events_shipped", "counter", "shipped", "Events the output acknowledged"),
    ("shipper_events_read_again", "counter", "read_again",
     "Events read again after a restart or reload to give the next ones their ids (not shipped again)"),
    ("shipper_bytes_read", "counter", "bytes", "Bytes of text read from files"),
    ("shipper_gaps", "counter", "gaps", "shipper.gap events: data the input may have lost"),
    ("shipper_nul_bytes_skipped", "counter", "nul_bytes_skipped",
     "NUL bytes dropped before lines (a writer not in append mode, after a copytruncate)"),
    ("shipper_files_read_by_another_input", "gauge", "files_read_by_another_input",
     "Files the input's patterns match that another input reads (since the configuration was loaded)"),
    ("shipper_lag_seconds", "gauge", "lag_seconds", "Age of the oldest event read and not yet acknowledged"),
)
_OUTPUT_COUNTERS = (
    ("shipper_events_dead_lettered", "dead_lettered", "Events the output refused for good (in the dead letter)"),
    ("shipper_events_duplicates", "duplicates",
     "Events the output acknowledged that it had already (Elasticsearch 409s, the local store): kept once"),
    ("shipper_output_retries", "request_retries", "Requests to the output that were retried"),
    ("shipper_output_item_retries", "retried_items", "Documents re-sent after an item-level failure"),
)


class _Collector:
    def __init__(self, source: StatusSource) -> None:
        self._source = source

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily

        status = self._source()
        if not status:
            return
        inputs = status.get("inputs", {})
        for name, kind, field, text in _PER_INPUT:
            family = (CounterMetricFamily if kind == "counter" else GaugeMetricFamily)(name, text, labels=["input"])
            for key, figures in inputs.items():
                family.add_metric([key], float(figures.get(field) or 0))
            yield family
        counters = status.get("output", {}).get("counters", {})
        for name, field, text in _OUTPUT_COUNTERS:
            yield CounterMetricFamily(name, text, value=float(counters.get(field, 0)))
        yield CounterMetricFamily("shipper_events_shipped_from_previous_run",
                                  "Events an earlier run or session left in the disk buffer that the output acknowledged",
                                  value=float(status.get("shipped_from_previous_run", 0)))
        yield GaugeMetricFamily("shipper_queue_events", "Events waiting in memory for the output",
                                value=float(status.get("queue_events", 0)))
        yield GaugeMetricFamily("shipper_disk_buffer_bytes", "Bytes waiting in the disk buffer",
                                value=float(status.get("spool_bytes", 0)))
        yield GaugeMetricFamily("shipper_output_connected", "1 when the output is connected",
                                value=1.0 if status.get("output", {}).get("connected") else 0.0)
        yield InfoMetricFamily("shipper_last_message", "The last message shipper logged (errors, warnings)",
                               value={"message": str(status.get("last_message") or "")})


def check_metrics(cfg: Config) -> None:
    """A `ConfigError` naming ``run.metrics`` (file and line) when it is set and prometheus-client
    cannot be imported: checked in the daemon's plan, so `shipper validate` and a reload say so too."""
    if cfg.run.metrics is None:
        return
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        raise cfg.error("run.metrics", "needs prometheus-client, which is not installed",
                        "pip install 'shipper[metrics]', or remove run.metrics") from None


def serve_metrics(cfg: MetricsConfig, source: StatusSource) -> Callable[[], None]:
    """Start the endpoint in a background thread; returns a function that stops it. (The plan has
    checked that prometheus-client can be imported: `check_metrics`.)"""
    from prometheus_client import CollectorRegistry, start_http_server

    host, _, port = cfg.listen.rpartition(":")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(source))
    try:
        server, thread = start_http_server(int(port), addr=host.strip("[]"), registry=registry)
    except OSError as exc:
        raise ConfigError(f"run.metrics.listen {cfg.listen}: cannot listen there: {exc.strerror}",
                          hint="choose a free port, e.g. 127.0.0.1:9464") from None

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(5)

    return stop


class MetricsEndpoint:
    """The endpoint as the configuration in force says: started, moved or stopped by `switch`."""

    def __init__(self, source: StatusSource) -> None:
        self._source = source
        self._listen: str | None = None
        self._stop: Callable[[], None] | None = None

    def switch(self, cfg: MetricsConfig | None) -> None:
        """Serve at ``cfg.listen`` (None: not at all). A `ConfigError` when it cannot listen
        there: the endpoint then goes on where it was."""
        listen = cfg.listen if cfg is not None else None
        if listen == self._listen:
            return
        old, self._listen = self._listen, None
        self.stop()  # first: the new address may be the old port on another host address
        try:
            self._start(listen)
        except ConfigError as exc:
            try:
                self._start(old)  # free a moment ago
            except ConfigError as again:
                raise ConfigError(f"{exc.message}; and the endpoint could not go back to {old} ({again.message}): "
                                  "it is stopped until the next reload", hint=exc.hint) from None
            raise

    def _start(self, listen: str | None) -> None:
        if listen is not None:
            self._stop = serve_metrics(MetricsConfig(listen), self._source)
            self._listen = listen

    def stop(self) -> None:
        stop, self._stop = self._stop, None
        if stop is not None:
            stop()
