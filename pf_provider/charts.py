"""Charts of the 101 percentiles, in the style of the Probable Futures maps' "likelihood" view.

One chart shows one dataset at one grid cell: for each warming scenario, the curve of its
101 percentiles (value on the x axis, the likelihood of a year at or below that value on the
y axis), coloured from cool (0.5 °C) to warm (3.0 °C). Reading across at 50 % gives the
median year of each scenario; the horizontal spread between curves is what warming changes.

matplotlib is an optional extra (``pip install "pf-provider[charts]"``) and is imported only
when a chart is drawn, so the core never needs it. Charts are drawn on a bare
``matplotlib.figure.Figure``: no pyplot, no global backend switch, safe in worker threads.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .catalog import WARMING_SCENARIOS, find_dataset
from .errors import InvalidInputError
from .models import DatasetStatistic

PERCENTILES = 101
"""A row's ``values`` hold the percentiles 0..100: index i is the value with cumulative probability i %."""

# Cool to warm, one colour per warming scenario (0.5 °C ... 3.0 °C): blue, teal, green, amber, orange, red.
SCENARIO_COLORS: dict[str, str] = {
    "0.5": "#3b6fb6",
    "1.0": "#4aa3b5",
    "1.5": "#7dbb6a",
    "2.0": "#e8b13a",
    "2.5": "#e67a2e",
    "3.0": "#c8322f",
}

_INSTALL_HINT = 'pf_provider.charts needs matplotlib; install the charts extra: pip install "pf-provider[charts]"'


@dataclass(frozen=True)
class Curve:
    """The percentiles of one dataset under one warming scenario at one place, checked for plotting."""

    dataset_id: int
    warming_scenario: str
    name: str
    unit: str
    values: tuple[float, ...]
    latitude: float | None = None
    longitude: float | None = None
    site_id: str | None = None


def _get(row: DatasetStatistic | Mapping[str, Any], key: str) -> Any:
    if isinstance(row, Mapping):
        return row.get(key)
    return getattr(row, key, None)


def _curve(row: DatasetStatistic | Mapping[str, Any], index: int) -> Curve:
    if not isinstance(row, (DatasetStatistic, Mapping)):
        raise InvalidInputError(
            f"row {index} is a {type(row).__name__}; pass DatasetStatistic objects or the dicts that "
            "DatasetStatistic.to_dict() and the bulk engine produce"
        )
    dataset_id = _get(row, "dataset_id")
    scenario = _get(row, "warming_scenario")
    if dataset_id is None or scenario is None:
        raise InvalidInputError(f"row {index} has no dataset_id or warming_scenario; it cannot be placed on a chart")
    scenario = str(scenario)
    if scenario not in SCENARIO_COLORS:
        try:
            scenario = f"{float(scenario):.1f}"
        except ValueError:
            raise InvalidInputError(f"row {index} has the warming scenario {scenario!r}; expected e.g. '1.5'") from None
    where = f"row {index} (dataset {dataset_id}, scenario {scenario} °C)"
    raw = _get(row, "values")
    if raw is None:
        raise InvalidInputError(
            f"{where} has no 'values': a percentile chart needs the 101 percentiles of each row. Fetch them "
            "with include_values=True (bulk engine, `pf-provider extract --values`) or with the default "
            "fields of get_dataset_statistics (fields=None)"
        )
    if isinstance(raw, (str, bytes)) or not isinstance(raw, Sequence):
        raise InvalidInputError(
            f"{where}: 'values' should be a list of {PERCENTILES} numbers, got {type(raw).__name__}"
        )
    if len(raw) != PERCENTILES:
        raise InvalidInputError(f"{where}: 'values' should hold {PERCENTILES} percentiles (0..100), got {len(raw)}")
    try:
        values = tuple(math.nan if v is None else float(v) for v in raw)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{where}: 'values' should hold only numbers") from None
    if not any(math.isfinite(v) for v in values):
        raise InvalidInputError(f"{where}: 'values' holds no finite number; there is nothing to draw")
    dataset = find_dataset(int(dataset_id))
    name = _get(row, "name") or (dataset.map_name if dataset else f"dataset {dataset_id}")
    unit = _get(row, "unit") or (dataset.unit if dataset else "")
    return Curve(
        dataset_id=int(dataset_id),
        warming_scenario=scenario,
        name=str(name),
        unit=str(unit),
        values=values,
        latitude=_get(row, "latitude"),
        longitude=_get(row, "longitude"),
        site_id=_get(row, "site_id"),
    )


def percentile_curves(rows: Iterable[DatasetStatistic | Mapping[str, Any]]) -> list[Curve]:
    """The rows of one chart as :class:`Curve` objects, ordered from the coolest scenario to the warmest.

    The rows must be one dataset at one place, at most one per scenario, each with its 101
    percentiles; anything else raises :class:`~pf_provider.errors.InvalidInputError`
    saying what to fix, before matplotlib is even imported.
    """
    if isinstance(rows, (DatasetStatistic, Mapping)):
        raise InvalidInputError("pass a list of rows (one per warming scenario), not a single row")
    curves = [_curve(row, i) for i, row in enumerate(rows)]
    if not curves:
        raise InvalidInputError("there are no rows to draw; pass the rows of one dataset at one site")
    datasets = sorted({c.dataset_id for c in curves})
    if len(datasets) > 1:
        raise InvalidInputError(
            f"the rows mix datasets {datasets}; a chart shows one dataset, so filter the rows by dataset_id first"
        )
    places = {(c.site_id, c.latitude, c.longitude) for c in curves}
    if len(places) > 1:
        raise InvalidInputError(
            "the rows come from more than one site or grid cell; draw one chart per site (group rows by site_id)"
        )
    seen: set[str] = set()
    for curve in curves:
        if curve.warming_scenario in seen:
            raise InvalidInputError(
                f"warming scenario {curve.warming_scenario} appears twice; a chart takes one row per scenario"
            )
        seen.add(curve.warming_scenario)
    return sorted(curves, key=lambda c: float(c.warming_scenario))


def default_title(curves: Sequence[Curve], site: str | None = None) -> str:
    """The site and the grid cell the server snapped its point to, e.g. ``nyc-hq · grid cell 40.71°, -74.02°``."""
    first = curves[0]
    label = site or first.site_id
    cell = (
        f"grid cell {first.latitude:.2f}°, {first.longitude:.2f}°"
        if first.latitude is not None and first.longitude is not None
        else None
    )
    return " · ".join(part for part in (label, cell) if part) or first.name


def plot_percentile_curves(
    rows: Iterable[DatasetStatistic | Mapping[str, Any]],
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    dpi: int = 120,
) -> Path:
    """Draw the percentile curves of one dataset at one site into a PNG (or any format matplotlib
    infers from ``path``'s suffix) and return the path.

    ``rows`` are :class:`~pf_provider.models.DatasetStatistic` objects or their dicts (also
    the bulk engine's rows fetched with ``include_values=True``), one per warming scenario.
    ``title`` defaults to the site id and the grid cell.
    """
    curves = percentile_curves(rows)
    try:
        from matplotlib.figure import Figure
        from matplotlib.ticker import MultipleLocator, PercentFormatter
    except ImportError:
        raise ImportError(_INSTALL_HINT) from None

    first = curves[0]
    likelihood = list(range(PERCENTILES))
    figure = Figure(figsize=(8.0, 5.0), dpi=dpi, layout="constrained")
    axes = figure.add_subplot()
    for curve in curves:
        axes.plot(
            curve.values,
            likelihood,
            color=SCENARIO_COLORS.get(curve.warming_scenario, "#555555"),
            linewidth=2.2,
            label=f"{curve.warming_scenario} °C",
        )
    for level, text in ((5, "5%"), (50, "median"), (95, "95%")):
        axes.axhline(level, color="#9a9a9a", linewidth=0.8, linestyle=(0, (4, 3)), zorder=0)
        axes.annotate(
            text,
            xy=(1.0, level),
            xycoords=("axes fraction", "data"),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
            color="#6f6f6f",
        )
    axes.set_ylim(0, 100)
    axes.yaxis.set_major_locator(MultipleLocator(25))
    axes.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    axes.set_ylabel("Likelihood of a year at or below the value")
    unit = f" [{first.unit}]" if first.unit else ""
    axes.set_xlabel(f"{first.name}{unit} · Probable Futures dataset {first.dataset_id}")
    axes.grid(True, axis="x", color="#e4e4e4", linewidth=0.8)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.legend(
        title="Warming scenario",
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        ncols=len(curves),
        frameon=False,
        fontsize=9,
        title_fontsize=9,
    )
    figure.suptitle(title or default_title(curves), fontsize=12, fontweight="bold")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target, dpi=dpi, facecolor="white")
    return target


def summary_table(
    rows: Iterable[DatasetStatistic | Mapping[str, Any]],
    *,
    value: str = "mid_value",
    names: Mapping[str, str] | None = None,
) -> str:
    """A plain-text table: one line per site, one column per warming scenario, ``value`` in the cells.

    ``value`` is ``low_value`` (5th percentile), ``mid_value`` (median) or ``high_value``
    (95th percentile); rows without a ``site_id`` count as one site. ``names`` maps site
    ids to the labels to print. Needs no matplotlib.
    """
    if value not in ("low_value", "mid_value", "high_value"):
        raise InvalidInputError(f"value must be low_value, mid_value or high_value, got {value!r}")
    cells: dict[str, dict[str, float | None]] = {}
    units: set[str] = set()
    datasets: set[str] = set()
    for row in rows:
        site = str(_get(row, "site_id") or "-")
        scenario = _get(row, "warming_scenario")
        if scenario is None:
            raise InvalidInputError("every row needs a warming_scenario")
        scenario = f"{float(scenario):.1f}"
        number = _get(row, value)
        cells.setdefault(site, {})[scenario] = None if number is None else float(number)
        if _get(row, "unit"):
            units.add(str(_get(row, "unit")))
        if _get(row, "name"):
            datasets.add(str(_get(row, "name")))
    if not cells:
        raise InvalidInputError("there are no rows to tabulate")
    scenarios = [s for s in WARMING_SCENARIOS if any(s in by_site for by_site in cells.values())]
    labels = {site: (names or {}).get(site, site) for site in cells}
    width = max(4, *(len(label) for label in labels.values()))
    kind = {"low_value": "5th percentile", "mid_value": "median", "high_value": "95th percentile"}[value]
    what = f"{' / '.join(sorted(datasets)) or 'value'} [{', '.join(sorted(units)) or 'no unit'}]"
    heading = f"{what}: {kind} by warming scenario"
    lines = [heading, f"{'site':<{width}}  " + "  ".join(f"{s + ' °C':>8}" for s in scenarios)]
    lines.append("-" * len(lines[1]))
    for site, by_scenario in cells.items():
        numbers = [by_scenario.get(s) for s in scenarios]
        lines.append(
            f"{labels[site]:<{width}}  " + "  ".join(f"{n:>8.1f}" if n is not None else f"{'-':>8}" for n in numbers)
        )
    return "\n".join(lines)
