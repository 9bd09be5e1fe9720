"""Operators: dataset statistics for many locations, and arbitrary GraphQL documents.

Both are thin: they turn templated arguments into sites and options, then call the core
(:func:`pf_provider.extract.iter_rows` for small pulls returned through XCom,
:func:`pf_provider.extract.extract` for large pulls written to a file). Input is checked
before the first request, and the client (which holds credentials) never leaves the task.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from pf_provider.airflow.hooks import ProbableFuturesHook
from pf_provider.errors import InvalidInputError
from pf_provider.extract import Rejection, Site, extract, iter_rows, read_sites
from pf_provider.validation import Location, coerce_location, normalize_scenarios

if TYPE_CHECKING:
    from airflow.sdk import Context, ObjectStoragePath

DEFAULT_XCOM_WARN_BYTES = 512 * 1024
"""Return values above this size get a warning: XComs live in the metadata database."""

ON_REJECT_CHOICES = ("fail", "skip")


def _maybe_json(value: Any) -> Any:
    """A rendered template is text; JSON lists and objects in it become data again."""
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in ("[", "{"):
            try:
                return json.loads(text)
            except ValueError:
                raise InvalidInputError(f"the value {text[:60]!r} looks like JSON but does not parse") from None
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def _derived_site_id(location: Location) -> str:
    if location.is_point:
        return f"{location.latitude:g},{location.longitude:g}"
    return location.describe()


def _as_site(item: Any, index: int) -> Site | Rejection | Mapping[str, Any]:
    """One entry of ``locations`` as something :func:`read_sites` accepts, with a site id."""
    if isinstance(item, (Site, Rejection)):
        return item
    try:
        if isinstance(item, Mapping):
            if any(item.get(key) not in (None, "") for key in ("site_id", "id")):
                return item
            location = coerce_location(item)
            return Site(_derived_site_id(location), location)
        if isinstance(item, str):
            location = coerce_location({"address": item})
            return Site(location.describe(), location)
        location = coerce_location(item)
        return Site(_derived_site_id(location), location)
    except InvalidInputError as exc:
        return Rejection(None, f"location {index}: {exc}", item if isinstance(item, Mapping) else {"value": repr(item)})


def normalize_locations(value: Any) -> list[Site | Rejection] | str:
    """``locations`` as sites, or the path of a local CSV of sites.

    Accepted: a list of mappings (``site_id`` optional, then ``latitude``/``longitude`` or
    ``country``/``city``/``address``), ``(latitude, longitude)`` pairs or address texts; a
    single mapping or pair; a path or ``ObjectStoragePath`` of a CSV with a ``site_id``
    column; or any of these as JSON text (what a Jinja template renders).
    """
    value = _maybe_json(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidInputError("locations is empty; pass a list of locations or the path of a CSV of sites")
    if isinstance(value, (str, os.PathLike)) or _is_object_storage(value):
        return str(value)
    single_pair = isinstance(value, Sequence) and len(value) == 2 and all(_is_number(v) for v in value)
    if isinstance(value, (Mapping, Location)) or single_pair:
        value = [value]
    if not isinstance(value, Iterable):
        raise InvalidInputError(
            f"locations must be a list of locations or a CSV path, got {type(value).__name__} {value!r:.80}"
        )
    sites = [_as_site(item, index) for index, item in enumerate(value)]
    if not sites:
        raise InvalidInputError("locations is an empty list; nothing to fetch")
    return list(read_sites(sites))


def _is_object_storage(value: Any) -> bool:
    return type(value).__name__ == "ObjectStoragePath" and hasattr(value, "protocol")


def _storage_path(value: Any) -> ObjectStoragePath:
    from airflow.sdk import ObjectStoragePath

    return value if isinstance(value, ObjectStoragePath) else ObjectStoragePath(str(value))


def _local_path(value: str) -> Path | None:
    """A local filesystem path for ``value``, or ``None`` when it lives in object storage."""
    if "://" not in value:
        return Path(value)
    path = _storage_path(value)
    if path.protocol in ("file", "local", ""):
        return Path(path.path)
    return None


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), default=str))


class ProbableFuturesDatasetStatisticsOperator(BaseOperator):
    """Fetch dataset statistics for a list of locations (or a CSV of sites).

    Without ``output_path`` the long-format rows (``site_id``, ``dataset_id``,
    ``warming_scenario``, ``low_value``, ``mid_value``, ``high_value``, ...) are returned
    through XCom: keep those pulls small (a warning says when they are not). With
    ``output_path`` (a local path or an ``ObjectStoragePath``/URI; ``.jsonl``, ``.csv`` or
    ``.parquet``) rows are streamed to the file by the resumable bulk engine, the path is
    returned, and the extraction summary is pushed under the XCom key ``summary``.

    Args:
        locations: List of points/places, or a CSV path. Templated; mappable with
            ``.partial(...).expand(locations=...)``.
        dataset_ids: One id or several (``dataset_id`` is an alias); default all. Templated.
        warming_scenarios: One or several of 0.5 ... 3.0 (``warming_scenario`` is an alias);
            default all six. Templated.
        output_path: Where to write rows instead of returning them. Templated.
        output_format: ``jsonl``, ``csv`` or ``parquet``; default from the file name.
        include_values: Add the 101 percentiles to each row.
        batch_size: GraphQL operations per HTTP request.
        concurrency: Requests in flight for a file pull.
        resume: A retried file pull continues where the last try stopped.
        on_reject: ``"fail"``: an unusable location fails the task before any request;
            ``"skip"``: it is logged and left out. Sites the server rejects fail an XCom
            pull, and go to ``<output>.rejects.jsonl`` for a file pull.
        xcom_warn_bytes: Warn when rows returned through XCom are larger than this.
        probable_futures_conn_id: The Airflow connection to use.
        client_options: Per-task overrides of the connection (see the hook).
    """

    template_fields: Sequence[str] = ("locations", "dataset_ids", "warming_scenarios", "output_path")
    template_fields_renderers: ClassVar[dict[str, str]] = {"locations": "json"}
    ui_color = "#e8f3e8"

    def __init__(
        self,
        *,
        locations: Any,
        dataset_ids: Any = None,
        warming_scenarios: Any = None,
        dataset_id: Any = None,
        warming_scenario: Any = None,
        output_path: Any = None,
        output_format: str | None = None,
        include_values: bool = False,
        batch_size: int = 25,
        concurrency: int = 2,
        resume: bool = True,
        on_reject: str = "fail",
        xcom_warn_bytes: int = DEFAULT_XCOM_WARN_BYTES,
        probable_futures_conn_id: str = ProbableFuturesHook.default_conn_name,
        client_options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if dataset_ids is not None and dataset_id is not None:
            raise InvalidInputError("pass dataset_ids or dataset_id, not both")
        if warming_scenarios is not None and warming_scenario is not None:
            raise InvalidInputError("pass warming_scenarios or warming_scenario, not both")
        if on_reject not in ON_REJECT_CHOICES:
            raise InvalidInputError(f"on_reject must be one of {ON_REJECT_CHOICES}, got {on_reject!r}")
        if output_format is not None and str(output_format).lower().lstrip(".") not in ("jsonl", "csv", "parquet"):
            raise InvalidInputError(f"output_format must be jsonl, csv or parquet, got {output_format!r}")
        if not isinstance(xcom_warn_bytes, int) or xcom_warn_bytes < 1:
            raise InvalidInputError(f"xcom_warn_bytes must be a positive integer, got {xcom_warn_bytes!r}")
        self.locations = locations
        self.dataset_ids = dataset_ids if dataset_ids is not None else dataset_id
        self.warming_scenarios = warming_scenarios if warming_scenarios is not None else warming_scenario
        self.output_path = output_path
        self.output_format = output_format
        self.include_values = include_values
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.resume = resume
        self.on_reject = on_reject
        self.xcom_warn_bytes = xcom_warn_bytes
        self.probable_futures_conn_id = probable_futures_conn_id
        self.client_options = dict(client_options or {})

    # -- input ------------------------------------------------------------------------------

    def _sites(self, staging: Path) -> list[Site]:
        given = normalize_locations(self.locations)
        if isinstance(given, str):
            local = _local_path(given)
            if local is None:  # a CSV in object storage: copy it next to the work files
                local = staging / "sites.csv"
                with _storage_path(given).open("rb") as source, local.open("wb") as target:
                    shutil.copyfileobj(source, target)
            given = list(read_sites(str(local)))
        rejected = [s for s in given if isinstance(s, Rejection)]
        unique: dict[str, Site] = {}
        for site in given:
            if isinstance(site, Site):
                if site.site_id in unique:
                    rejected.append(Rejection(site.site_id, f"site id {site.site_id!r} appears more than once"))
                unique.setdefault(site.site_id, site)
        if rejected:
            reasons = "; ".join(r.reason for r in rejected[:5]) + (" ..." if len(rejected) > 5 else "")
            if self.on_reject == "fail":
                raise InvalidInputError(
                    f"{len(rejected)} of {len(given)} locations cannot be used: {reasons} "
                    "(fix them, or pass on_reject='skip' to leave them out)"
                )
            self.log.warning("Skipping %d of %d locations: %s", len(rejected), len(given), reasons)
        if not unique:
            raise InvalidInputError("no usable location is left; nothing to fetch")
        return list(unique.values())

    def _options(self) -> dict[str, Any]:
        scenarios = normalize_scenarios(_maybe_json(self.warming_scenarios))
        return {
            "datasets": _maybe_json(self.dataset_ids),
            "scenarios": list(scenarios) if scenarios else None,
            "include_values": bool(self.include_values),
            "batch_size": self.batch_size,
        }

    # -- run ---------------------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        with tempfile.TemporaryDirectory(prefix="pf-airflow-") as work:
            sites = self._sites(Path(work))
            options = self._options()
            hook = ProbableFuturesHook(self.probable_futures_conn_id, client_options=self.client_options)
            with hook:
                client = hook.get_conn()
                if self.output_path in (None, ""):
                    return self._to_xcom(client, sites, options)
                return self._to_file(client, sites, options, Path(work), context)

    def _to_xcom(self, client: Any, sites: list[Site], options: dict[str, Any]) -> list[dict[str, Any]]:
        skipped: list[Rejection] = []
        on_reject = skipped.append if self.on_reject == "skip" else None
        rows = list(iter_rows(client, sites, on_reject=on_reject, **options))
        for rejection in skipped:
            self.log.warning("Skipped site %s: %s", rejection.site_id, rejection.reason)
        size = _size(rows)
        self.log.info("Fetched %d rows for %d sites (%.1f KiB)", len(rows), len(sites), size / 1024)
        if size > self.xcom_warn_bytes:
            self.log.warning(
                "Returning %d rows (%.0f KiB) through XCom, above xcom_warn_bytes=%d: XComs are stored in the "
                "metadata database. Pass output_path= to write them to a file and return its path instead.",
                len(rows),
                size / 1024,
                self.xcom_warn_bytes,
            )
        return rows

    def _to_file(self, client: Any, sites: list[Site], options: dict[str, Any], work: Path, context: Context) -> str:
        target = str(self.output_path)
        local = _local_path(target)
        remote = None
        if local is None:
            remote = _storage_path(target)
            local = work / remote.name
        local.parent.mkdir(parents=True, exist_ok=True)
        summary = extract(
            client,
            sites,
            local,
            concurrency=self.concurrency,
            resume=self.resume and remote is None,
            format=self.output_format,
            **options,
        )
        if remote is not None:
            self._upload(local, remote)
            rejects = Path(summary.rejects)
            if rejects.exists() and rejects.stat().st_size:
                self._upload(rejects, _storage_path(f"{target}.rejects.jsonl"))
        report = summary.to_dict()
        report["output"] = target
        if remote is not None:
            report["rejects"] = f"{target}.rejects.jsonl" if summary.rejected_sites else None
        if summary.rejected_sites:
            self.log.warning(
                "%d sites were rejected; their reasons are in %s", summary.rejected_sites, report["rejects"]
            )
        self.log.info(
            "Wrote %d rows for %d sites to %s (%d requests, %.1f s)",
            summary.rows_written,
            summary.fetched_sites,
            target,
            summary.requests,
            summary.seconds,
        )
        context["ti"].xcom_push(key="summary", value=report)
        return target

    @staticmethod
    def _upload(local: Path, remote: ObjectStoragePath) -> None:
        remote.parent.mkdir(parents=True, exist_ok=True)
        with local.open("rb") as source, remote.open("wb") as target:
            shutil.copyfileobj(source, target)


class ProbableFuturesGraphQLOperator(BaseOperator):
    """Run one GraphQL document (``query`` text or a ``.graphql`` file) and return its ``data``.

    Args:
        query: The document, or the path of a ``.graphql``/``.gql`` file next to the DAG. Templated.
        variables: A mapping, or JSON text (what a template renders). Templated.
        operation_name: Which operation of the document to run. Templated.
        validate: Check the document against the bundled schema before sending it;
            ``False`` keeps only the syntax check.
        xcom_warn_bytes: Warn when the returned data is larger than this.
        probable_futures_conn_id: The Airflow connection to use.
        client_options: Per-task overrides of the connection (see the hook).
    """

    template_fields: Sequence[str] = ("query", "variables", "operation_name")
    template_ext: Sequence[str] = (".graphql", ".gql")
    template_fields_renderers: ClassVar[dict[str, str]] = {"query": "graphql", "variables": "json"}
    ui_color = "#e8eef3"

    def __init__(
        self,
        *,
        query: str,
        variables: Mapping[str, Any] | str | None = None,
        operation_name: str | None = None,
        validate: bool = True,
        xcom_warn_bytes: int = DEFAULT_XCOM_WARN_BYTES,
        probable_futures_conn_id: str = ProbableFuturesHook.default_conn_name,
        client_options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(query, str) or not query.strip():
            raise InvalidInputError("query must be a GraphQL document (text) or the path of a .graphql file")
        self.query = query
        self.variables = variables
        self.operation_name = operation_name
        self.validate = validate
        self.xcom_warn_bytes = xcom_warn_bytes
        self.probable_futures_conn_id = probable_futures_conn_id
        self.client_options = dict(client_options or {})

    def execute(self, context: Context) -> dict[str, Any]:
        variables = _maybe_json(self.variables)
        if variables is not None and not isinstance(variables, Mapping):
            raise InvalidInputError(
                f"variables must be a mapping (or JSON object text), got {type(variables).__name__}"
            )
        hook = ProbableFuturesHook(self.probable_futures_conn_id, client_options=self.client_options)
        with hook:
            data = hook.execute(
                self.query, variables, operation_name=self.operation_name or None, validate=self.validate
            )
        size = _size(data)
        if size > self.xcom_warn_bytes:
            self.log.warning(
                "Returning %.0f KiB through XCom, above xcom_warn_bytes=%d; request fewer fields or locations",
                size / 1024,
                self.xcom_warn_bytes,
            )
        return _json_safe(data)


def _json_safe(value: Any) -> Any:
    """Data as JSON-safe values (non-finite floats become None)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value
