"""GraphQL documents: the ones pf-provider writes, and checks of the ones callers write.

Callers' documents are parsed (and by default validated against the schema excerpt the
package ships) with graphql-core before anything is sent, so a typo fails locally with a
line and column instead of costing a request. Results are cached by document text.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

import graphql

from .errors import InvalidInputError

STATISTICS_OPERATION = "GetDatasetStatistics"


@lru_cache(maxsize=1)
def schema() -> graphql.GraphQLSchema:
    """The part of the Probable Futures schema this package uses."""
    text = resources.files("pf_provider").joinpath("data/schema.graphql").read_text(encoding="utf-8")
    return graphql.build_schema(text)


def _location(error: graphql.GraphQLError) -> str:
    if error.locations:
        loc = error.locations[0]
        return f" (line {loc.line}, column {loc.column})"
    return ""


@lru_cache(maxsize=256)
def _parse(query: str) -> graphql.DocumentNode:
    try:
        return graphql.parse(query)
    except graphql.GraphQLError as exc:
        raise InvalidInputError(f"the GraphQL document does not parse: {exc.message}{_location(exc)}") from None


@lru_cache(maxsize=256)
def _validate(query: str) -> graphql.DocumentNode:
    document = _parse(query)
    errors = graphql.validate(schema(), document)
    if errors:
        details = "; ".join(e.message + _location(e) for e in errors[:5])
        raise InvalidInputError(
            f"the GraphQL document does not match the Probable Futures schema: {details}. "
            "Pass validate=False to send it anyway"
        )
    return document


def check_document(query: Any, variables: Any = None, *, validate: bool = True) -> None:
    """Raise :class:`InvalidInputError` if the document or its variables are wrong."""
    if not isinstance(query, str) or not query.strip():
        raise InvalidInputError("a GraphQL document must be non-empty text")
    if variables is not None and not isinstance(variables, Mapping):
        raise InvalidInputError(f"GraphQL variables must be a mapping, got {type(variables).__name__}")
    if not validate:
        _parse(query)
        return
    document = _validate(query)
    operations = [d for d in document.definitions if isinstance(d, graphql.OperationDefinitionNode)]
    if len(operations) != 1:
        return  # the server picks by operationName; variable checks need the one operation
    coerced = graphql.execution.values.get_variable_values(
        schema(), operations[0].variable_definitions or (), dict(variables or {}), max_errors=5
    )
    if isinstance(coerced, list):
        details = "; ".join(e.message for e in coerced)
        raise InvalidInputError(f"the GraphQL variables are wrong: {details}")


@lru_cache(maxsize=64)
def statistics_document(fields: tuple[str, ...]) -> str:
    """The ``getDatasetStatistics`` mutation selecting these response fields.

    One text per field set, so the server (and its document cache) sees the same
    document for every location of a batch.
    """
    selection = " ".join(fields)
    return (
        f"mutation {STATISTICS_OPERATION}($input: GetDatasetStatisticsInput!) "
        f"{{ getDatasetStatistics(input: $input) {{ datasetStatisticsResponses {{ {selection} }} }} }}"
    )
