"""An Elasticsearch-protocol server for tests (stdlib only): the documented request checks and
response shapes of ``/``, ``_bulk`` (``create``, and ``index`` to a backing index at the
``if_seq_no``/``if_primary_term`` read), templates, ILM, ingest pipelines, ``_has_privileges``,
points in time, ``_search`` and ``GET <index>/_doc/<id>``, for 8.x and 9.x, with scripted faults.
Production code never imports it."""

from tests.fakees.bulk import Faults
from tests.fakees.cluster import Grant
from tests.fakees.server import FakeES

__all__ = ["FakeES", "Faults", "Grant"]
