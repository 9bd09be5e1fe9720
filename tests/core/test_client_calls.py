"""Typed calls, raw GraphQL and batching against the emulator."""

from __future__ import annotations

import json

import pytest

from pf_provider import BatchError, DatasetStatistic, GraphQLError, InvalidInputError, catalog

QUERY = """
mutation ($input: GetDatasetStatisticsInput!) {
  getDatasetStatistics(input: $input) { datasetStatisticsResponses { datasetId warmingScenario midValue } }
}
"""


def test_typed_records_for_one_point(client):
    rows = client.get_dataset_statistics(latitude=40.7, longitude=-73.9, warming_scenario=1.5, dataset_id=40104)
    assert len(rows) == 1
    row = rows[0]
    assert isinstance(row, DatasetStatistic)
    assert row.dataset_id == 40104 and row.warming_scenario == "1.5"
    assert row.name == catalog.get_dataset(40104).map_name and row.unit == "days"
    assert isinstance(row.mid_value, float) and row.low_value <= row.mid_value <= row.high_value
    assert len(row.values) == 101 and list(row.values) == sorted(row.values)
    assert (row.low_value, row.mid_value, row.high_value) == (row.values[5], row.values[50], row.values[95])
    assert row.latitude != 40.7 or row.longitude != -73.9, "the grid cell, not the input point"
    assert abs(row.latitude - 40.7) <= 0.11 and abs(row.longitude + 73.9) <= 0.11
    with pytest.raises(AttributeError):
        row.mid_value = 1.0  # frozen
    as_json = json.loads(json.dumps(row.to_dict()))
    assert as_json["values"] == list(row.values) and as_json["warming_scenario"] == "1.5"


def test_all_datasets_and_scenarios_when_unfiltered(client):
    rows = client.get_dataset_statistics(latitude=-33.9, longitude=151.2)
    assert len(rows) == len(catalog.all_datasets()) * len(catalog.WARMING_SCENARIOS)
    assert {r.dataset_id for r in rows} == set(catalog.dataset_ids())


def test_several_scenarios_and_datasets_in_one_request(client, emulator):
    rows = client.get_dataset_statistics(
        latitude=48.85, longitude=2.35, warming_scenario=["1.0", 2, 3.0], dataset_id=[40101, 40901]
    )
    assert {(r.dataset_id, r.warming_scenario) for r in rows} == {
        (d, s) for d in (40101, 40901) for s in ("1.0", "2.0", "3.0")
    }
    assert emulator.stats.graphql_requests == 1
    zone = next(r for r in rows if r.dataset_id == 40901)
    assert zone.climate_zone_name in catalog.get_dataset(40901).bin_labels


def test_places_resolve(client):
    rows = client.get_dataset_statistics(city="Tokyo", country="Japan", dataset_id=40101, warming_scenario=2)
    assert len(rows) == 1 and abs(rows[0].latitude - 35.7) < 0.5


def test_fields_select_what_is_requested(client):
    rows = client.get_dataset_statistics(
        latitude=1, longitude=1, dataset_id=40101, warming_scenario=1.5, fields=["mid_value", "unit"]
    )
    assert rows[0].mid_value is not None and rows[0].unit == "°C"
    assert rows[0].values is None and rows[0].name is None
    with pytest.raises(InvalidInputError, match="unknown field 'color'"):
        client.get_dataset_statistics(latitude=1, longitude=1, fields=["color"])


def test_execute_returns_data(client):
    data = client.execute(QUERY, {"input": {"latitude": 1.0, "longitude": 2.0, "datasetId": 40101}})
    rows = data["getDatasetStatistics"]["datasetStatisticsResponses"]
    assert len(rows) == 6 and isinstance(rows[0]["midValue"], str)


def test_graphql_errors_carry_message_path_and_code(client, emulator):
    with pytest.raises(GraphQLError) as caught:
        client.execute(QUERY, {"input": {"latitude": 95.0, "longitude": 2.0}})
    error = caught.value
    assert error.errors[0].path == ("getDatasetStatistics",)
    assert error.errors[0].code is not None
    assert error.errors[0].message  # masked in production, present all the same


def test_documents_are_checked_before_sending(client, emulator):
    with pytest.raises(InvalidInputError, match="does not parse"):
        client.execute("mutation { getDatasetStatistics(input: {}) {")
    with pytest.raises(InvalidInputError, match="Cannot query field 'colour'"):
        client.execute("mutation { getDatasetStatistics(input: {}) { colour } }")
    with pytest.raises(InvalidInputError, match="variables"):
        client.execute(QUERY, {"input": {"latitude": "north"}})
    assert emulator.stats.graphql_requests == 0 and emulator.stats.token_requests == 0


def test_execute_batch_sends_one_request_and_keeps_order(client, emulator):
    points = [(10.0, 10.0), (20.0, 20.0), (30.0, 30.0)]
    ops = [
        (QUERY, {"input": {"latitude": a, "longitude": b, "datasetId": 40101, "warmingScenario": "1.5"}})
        for a, b in points
    ]
    results = client.execute_batch(ops)
    assert emulator.stats.graphql_requests == 1 and emulator.stats.graphql_operations == 3
    mids = [r["getDatasetStatistics"]["datasetStatisticsResponses"][0]["midValue"] for r in results]
    singles = [
        client.execute(QUERY, op[1])["getDatasetStatistics"]["datasetStatisticsResponses"][0]["midValue"] for op in ops
    ]
    assert mids == singles


def test_execute_batch_reports_failures_by_index_and_keeps_the_rest(client):
    good = (QUERY, {"input": {"latitude": 1.0, "longitude": 1.0, "datasetId": 40101}})
    bad = (QUERY, {"input": {"latitude": 1.0, "longitude": 500.0, "datasetId": 40101}})
    with pytest.raises(BatchError) as caught:
        client.execute_batch([good, bad, good])
    assert set(caught.value.failures) == {1}
    assert caught.value.results[0] is not None and caught.value.results[1] is None
    assert "operation 1" in str(caught.value.failures[1])


def test_large_batches_are_split_by_count(emulator, make_client):
    client = make_client(emulator, max_batch_size=4)
    queries = [q for i in range(10) for q in client.statistics_queries((i, i), dataset_id=40101, warming_scenario=1.5)]
    results = client.fetch_statistics(queries)
    assert len(results) == 10 and all(r.ok for r in results)
    assert emulator.stats.graphql_requests == 3


def test_batches_are_split_by_size_too(emulator, make_client):
    ops = [(QUERY, {"input": {"latitude": float(i), "longitude": 1.0, "datasetId": 40101}}) for i in range(6)]
    op_size = len(json.dumps({"query": QUERY, "variables": ops[0][1]}, separators=(",", ":")))
    client = make_client(emulator, max_request_bytes=2 + 2 * (op_size + 1))  # room for two operations
    assert len(client.execute_batch(ops)) == 6
    assert emulator.stats.graphql_requests == 3 and emulator.stats.graphql_operations == 6
