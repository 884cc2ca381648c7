"""An Elasticsearch-protocol server for tests (stdlib only): the documented request checks and
response shapes of ``/``, ``_bulk``, templates, ILM, ingest pipelines and ``_has_privileges``, for
8.x and 9.x, with scripted faults. Production code never imports it."""

from tests.fakees.bulk import Faults
from tests.fakees.cluster import Grant
from tests.fakees.server import FakeES

__all__ = ["FakeES", "Faults", "Grant"]
