"""The fake answers a path no endpoint serves as Elasticsearch 8 and 9 do (RestController's
handleBadRequest): 400 with only an ``error`` string, no ``status`` beside it; and shipper reads that
answer through the official client by its HTTP status and that string alone."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from elasticsearch import ApiError

from shipper.config.elasticsearch import ElasticsearchOutput
from shipper.sinks.es_client import connect, unavailable
from tests.fakees import FakeES
from tests.helpers.es import make_env

NO_HANDLER = "no handler found for uri [/_h7/nothing] and method [{}]"


@pytest.mark.parametrize("version", ["8.15.3", "9.1.0"])
def test_h7_an_unknown_path_is_answered_with_the_error_string_only_and_read_so(version: str) -> None:
    with FakeES(version) as es:
        request = urllib.request.Request(f"{es.url}/_h7/nothing", b"{}", {"content-type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(request, timeout=10)
        assert answer.value.code == 400
        assert json.loads(answer.value.read()) == {"error": NO_HANDLER.format("POST")}
        conn = connect(ElasticsearchOutput(hosts=[es.url]), make_env())
        try:
            with pytest.raises(ApiError) as failed:
                conn.client.perform_request("GET", "/_h7/nothing", headers={"accept": "application/json"})
        finally:
            conn.close()
    assert failed.value.body == {"error": NO_HANDLER.format("GET")}
    said = unavailable(failed.value, es.url, doing="ask").message
    assert said == f"Elasticsearch at {es.url} answered 400 when shipper tried to ask: {NO_HANDLER.format('GET')}"
