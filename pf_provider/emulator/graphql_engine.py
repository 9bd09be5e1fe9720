"""GraphQL over the packaged schema: parse and validate with graphql-core, execute quickly.

Documents are parsed and validated once per distinct text (an LRU cache). Mutations, the
only operations that carry data, run through a small executor written for this schema:
graphql-core's general executor spends most of its time completing the 101 percentile
strings of every row, one by one. Queries (introspection, ``__typename``) go to
graphql-core unchanged. Errors are shaped the way the production server's error handler
shapes them: ``{message, locations, path, extensions: {exception: {code}}}``, the message
replaced by a generic one when masking is on.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLBoolean,
    GraphQLError,
    GraphQLNonNull,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    build_schema,
    execute,
    is_input_type,
    is_non_null_type,
    parse,
    validate,
)
from graphql.pyutils import Undefined, inspect
from graphql.utilities import coerce_input_value, type_from_ast, value_from_ast

from pf_provider.emulator.resolver import ResolverError

MASKED_MESSAGE = "An error occurred while processing your request."

Resolve = Callable[[Mapping[str, Any]], list[dict[str, Any]]]
Fields = dict[str, list[FieldNode]]


@lru_cache(maxsize=1)
def load_schema() -> GraphQLSchema:
    """The schema shipped in the package (``pf_provider/data/schema.graphql``)."""
    sdl = resources.files("pf_provider").joinpath("data/schema.graphql").read_text(encoding="utf-8")
    return build_schema(sdl)


def format_error(error: GraphQLError, code: str | None, mask: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"message": MASKED_MESSAGE if mask else error.message}
    if error.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        out["path"] = list(error.path)
    out["extensions"] = {"exception": {"code": code} if code else {}}
    return out


@dataclass
class _Prepared:
    document: DocumentNode | None
    errors: list[GraphQLError]
    operations: list[OperationDefinitionNode] = field(default_factory=list)
    fragments: dict[str, FragmentDefinitionNode] = field(default_factory=dict)


@dataclass
class _Context:
    variables: dict[str, Any]
    fragments: dict[str, FragmentDefinitionNode]
    errors: list[dict[str, Any]]
    mask: bool


class RequestShapeError(Exception):
    """The HTTP body is not a GraphQL request at all (HTTP 400, like the server's own checks)."""


def _coerce(value: Any, type_: Any) -> Any:
    try:
        return coerce_input_value(value, type_)
    except GraphQLError:  # graphql-core 3.2 raises where 3.3 returns Undefined
        return Undefined


class GraphQLEngine:
    """Runs one GraphQL request object (``{"query", "variables", "operationName"}``)."""

    def __init__(self, resolve: Resolve, cache_size: int = 512):
        self.schema = load_schema()
        self._resolve = resolve
        self._input_type = self.schema.mutation_type.fields["getDatasetStatistics"].args["input"].type
        self._cache: OrderedDict[str, _Prepared] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    # -- documents ---------------------------------------------------------------------------

    def prepare(self, query: str) -> _Prepared:
        with self._lock:
            prepared = self._cache.get(query)
            if prepared is not None:
                self._cache.move_to_end(query)
                return prepared
        prepared = self._prepare(query)
        with self._lock:
            self._cache[query] = prepared
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return prepared

    def _prepare(self, query: str) -> _Prepared:
        try:
            document = parse(query)
        except GraphQLError as error:
            return _Prepared(None, [error])
        errors = validate(self.schema, document)
        if errors:
            return _Prepared(document, list(errors))
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        return _Prepared(document, [], operations, fragments)

    # -- requests ----------------------------------------------------------------------------

    def run(self, params: Any, mask: bool) -> tuple[dict[str, Any], int]:
        """The result object for one request entry and the HTTP status it calls for alone."""
        try:
            query, variables, operation_name = self._unpack(params)
        except RequestShapeError as error:
            return {"errors": [self._plain_error(str(error), mask)]}, 400
        prepared = self.prepare(query)
        if prepared.errors:
            return {"errors": [format_error(e, None, mask) for e in prepared.errors]}, 400
        operation = self._select(prepared, operation_name)
        if isinstance(operation, str):
            return {"errors": [self._plain_error(operation, mask)]}, 200
        if operation.operation != OperationType.MUTATION:
            return self._run_query(prepared, variables, operation_name, mask), 200
        coerced, errors = self._coerce_variables(operation, variables)
        if errors:
            return {"errors": [format_error(e, None, mask) for e in errors]}, 200
        ctx = _Context(coerced, prepared.fragments, [], mask)
        data = self._mutation(operation, ctx)
        result: dict[str, Any] = {}
        if ctx.errors:
            result["errors"] = ctx.errors
        result["data"] = data
        return result, 200

    @staticmethod
    def _plain_error(message: str, mask: bool) -> dict[str, Any]:
        return {"message": MASKED_MESSAGE if mask else message, "extensions": {"exception": {}}}

    @staticmethod
    def _unpack(params: Any) -> tuple[str, dict[str, Any], str | None]:
        if not isinstance(params, dict):
            raise RequestShapeError("Must provide a query string.")
        query = params.get("query")
        if not isinstance(query, str) or not query.strip():
            raise RequestShapeError("Must provide a query string.")
        variables = params.get("variables")
        if isinstance(variables, str):
            try:
                variables = json.loads(variables) if variables.strip() else None
            except ValueError:
                raise RequestShapeError("Variables are invalid JSON.") from None
        if variables is not None and not isinstance(variables, dict):
            raise RequestShapeError(f"Variables must be an object, not '{type(variables).__name__}'.")
        operation_name = params.get("operationName")
        if operation_name is not None and not isinstance(operation_name, str):
            raise RequestShapeError(f"Operation name must be a string, not '{type(operation_name).__name__}'.")
        return query, variables or {}, operation_name

    @staticmethod
    def _select(prepared: _Prepared, name: str | None) -> OperationDefinitionNode | str:
        if name is None:
            if len(prepared.operations) == 1:
                return prepared.operations[0]
            if not prepared.operations:
                return "Must provide an operation."
            return "Must provide operation name if query contains multiple operations."
        for operation in prepared.operations:
            if operation.name is not None and operation.name.value == name:
                return operation
        return f'Unknown operation named "{name}".'

    def _coerce_variables(
        self, operation: OperationDefinitionNode, inputs: dict[str, Any]
    ) -> tuple[dict[str, Any], list[GraphQLError]]:
        coerced: dict[str, Any] = {}
        errors: list[GraphQLError] = []
        for definition in operation.variable_definitions or ():
            name = definition.variable.name.value
            type_ = type_from_ast(self.schema, definition.type)
            if type_ is None or not is_input_type(type_):
                continue  # validation has already refused such documents
            if name not in inputs:
                if definition.default_value is not None:
                    coerced[name] = value_from_ast(definition.default_value, type_)
                elif is_non_null_type(type_):
                    errors.append(
                        GraphQLError(f'Variable "${name}" of required type "{type_}" was not provided.', definition)
                    )
                continue
            value = _coerce(inputs[name], type_)
            if value is Undefined:
                errors.append(
                    GraphQLError(f'Variable "${name}" got invalid value {inspect(inputs[name])}.', definition)
                )
            else:
                coerced[name] = value
        return coerced, errors

    def _run_query(self, prepared: _Prepared, variables: dict[str, Any], name: str | None, mask: bool) -> dict:
        root: dict[str, Any] = {}
        root["query"] = root  # `Query.query` exposes the root again, as PostGraphile does
        outcome = execute(
            self.schema, prepared.document, root_value=root, variable_values=variables, operation_name=name
        )
        result: dict[str, Any] = {}
        if outcome.errors:
            result["errors"] = [format_error(e, None, mask) for e in outcome.errors]
        if outcome.data is not None or not outcome.errors:
            result["data"] = outcome.data
        return result

    # -- the fast mutation executor -------------------------------------------------------------

    def _mutation(self, operation: OperationDefinitionNode, ctx: _Context) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for key, nodes in self._collect("Mutation", [operation.selection_set], ctx).items():
            name = nodes[0].name.value
            if name == "__typename":
                data[key] = "Mutation"
                continue
            try:
                inp = self._input(nodes[0], ctx)
                rows = self._resolve(inp)
            except ResolverError as error:
                ctx.errors.append(format_error(GraphQLError(error.message, nodes, path=[key]), error.code, ctx.mask))
                data[key] = None
                continue
            data[key] = self._payload(nodes, inp, rows, [key], ctx)
        return data

    def _input(self, node: FieldNode, ctx: _Context) -> dict[str, Any]:
        argument = next((a for a in node.arguments or () if a.name.value == "input"), None)
        value = value_from_ast(argument.value, self._input_type, ctx.variables) if argument else Undefined
        if not isinstance(value, dict):
            raise ResolverError('Argument "input" of non-null type "GetDatasetStatisticsInput!" must not be null.', "")
        return value

    def _payload(
        self, nodes: list[FieldNode], inp: dict[str, Any], rows: list[dict[str, Any]], path: list, ctx: _Context
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        selections = [n.selection_set for n in nodes if n.selection_set]
        for key, sub in self._collect("GetDatasetStatisticsPayload", selections, ctx).items():
            name = sub[0].name.value
            if name == "datasetStatisticsResponses":
                plan = [
                    (k, f[0].name.value)
                    for k, f in self._collect(
                        "DatasetStatisticsResponse", [n.selection_set for n in sub if n.selection_set], ctx
                    ).items()
                ]
                out[key] = [
                    {k: "DatasetStatisticsResponse" if n == "__typename" else row[n] for k, n in plan} for row in rows
                ]
            elif name == "clientMutationId":
                out[key] = inp.get("clientMutationId")
            elif name == "query":
                out[key] = self._query_object(sub, [*path, key], ctx)
            else:
                out[key] = "GetDatasetStatisticsPayload"
        return out

    def _query_object(self, nodes: list[FieldNode], path: list, ctx: _Context) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, sub in self._collect("Query", [n.selection_set for n in nodes if n.selection_set], ctx).items():
            name = sub[0].name.value
            if name == "query":
                out[key] = self._query_object(sub, [*path, key], ctx)
            elif name == "__typename":
                out[key] = "Query"
            else:
                message = "The emulator answers introspection only in query operations."
                ctx.errors.append(format_error(GraphQLError(message, sub, path=[*path, key]), None, ctx.mask))
                out[key] = None
        return out

    def _collect(
        self,
        type_name: str,
        selection_sets: Iterable[SelectionSetNode],
        ctx: _Context,
        fields: Fields | None = None,
        visited: set[str] | None = None,
    ) -> Fields:
        """Response key -> field nodes, honouring fragments, type conditions, @skip and @include."""
        fields = {} if fields is None else fields
        visited = set() if visited is None else visited
        for selection_set in selection_sets:
            for selection in selection_set.selections:
                if not self._included(selection, ctx):
                    continue
                if isinstance(selection, FieldNode):
                    key = selection.alias.value if selection.alias else selection.name.value
                    fields.setdefault(key, []).append(selection)
                elif isinstance(selection, InlineFragmentNode):
                    condition = selection.type_condition
                    if condition is None or condition.name.value == type_name:
                        self._collect(type_name, [selection.selection_set], ctx, fields, visited)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = ctx.fragments.get(name)
                    if name in visited or fragment is None or fragment.type_condition.name.value != type_name:
                        continue
                    visited.add(name)
                    self._collect(type_name, [fragment.selection_set], ctx, fields, visited)
        return fields

    @staticmethod
    def _included(node: Any, ctx: _Context) -> bool:
        for directive in node.directives or ():
            name = directive.name.value
            if name not in ("skip", "include"):
                continue
            argument = next((a for a in directive.arguments or () if a.name.value == "if"), None)
            value = value_from_ast(argument.value, GraphQLNonNull(GraphQLBoolean), ctx.variables) if argument else None
            if (name == "skip" and value is True) or (name == "include" and value is not True):
                return False
        return True
