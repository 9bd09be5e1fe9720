"""MkDocs hooks of the pf-provider site.

- ``catalog.md`` is generated at build time from :mod:`pf_provider.catalog`, so the page can
  never drift from the catalog the package ships (no copy of it lives in ``docs/``).
- Docstrings use Sphinx roles (``:class:`Name```); after mkdocstrings renders them they read
  ``:class:<code>Name</code>``. They become plain ``<code>Name</code>`` here, so the reference
  shows code names, not role markup, and no cross-reference can dangle under ``--strict``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from mkdocs.structure.files import File, Files

CATALOG_PAGE = "catalog.md"
_ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|exc|obj|py:\w+):<code>(~?)([^<]+)</code>")
_CATEGORY_TITLES = {"heat": "Heat", "water": "Water", "land": "Land", "other": "Other"}


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ").strip()


def _number(value: float) -> str:
    return f"{value:g}"


def render_catalog() -> str:
    """The catalog page in Markdown: one table per map category, every dataset the package knows."""
    import pf_provider
    from pf_provider import catalog

    datasets = catalog.all_datasets()
    by_category: dict[str, list[catalog.Dataset]] = defaultdict(list)
    for dataset in datasets:
        by_category[dataset.category].append(dataset)
    lines = [
        "# Dataset catalog",
        "",
        f"The {len(datasets)} maps that pf-provider {pf_provider.__version__} knows, generated when this site was "
        "built from `pf_provider.catalog` (the copy of the catalog the package ships). The same list is in "
        "`pf-provider datasets` (`--json` for every field) and `pf_provider.catalog.all_datasets()`.",
        "",
        "Pass the **ID** as `dataset_id` (client), `datasets` (bulk engine, `--datasets`) or `dataset_ids` "
        "(Airflow operator). Every dataset is served under the warming scenarios "
        + ", ".join(f"`{s}`" for s in catalog.WARMING_SCENARIOS)
        + " (°C above pre-industrial). A row's `low_value`, `mid_value` and `high_value` are the 5th "
        "percentile, the median (or mean) and the 95th percentile; **Low / mid / high** gives the names the "
        "maps use for them. An ID the catalog does not know is refused before any request unless the client "
        "has `allow_unknown_datasets=True` (for maps published after this release).",
        "",
        "!!! note",
        "    *Range* is the range of the catalog's `min_value` to `max_value`, not a bound the API enforces. "
        "Maps marked *change* hold changes (differences), as their names say, not absolute values.",
        "",
    ]
    for category in catalog.MAP_CATEGORIES:
        members = by_category.pop(category, [])
        if members:
            lines += _category_table(_CATEGORY_TITLES.get(category, category.title()), members)
    for category, members in sorted(by_category.items()):
        lines += _category_table(category.title(), members)

    classified = [d for d in datasets if d.is_classified]
    if classified:
        lines += ["## Classes of classified maps", ""]
        for dataset in classified:
            lines += [
                f"### {dataset.dataset_id}: {_cell(dataset.map_name)}",
                "",
                "Values are class numbers, counted from 1: "
                + "; ".join(f"{i} = {_cell(label)}" for i, label in enumerate(dataset.bin_labels or (), start=1))
                + ".",
                "",
            ]
        lines += [
            f"For climate zones ({catalog.CLIMATE_ZONES_DATASET_ID}), the server also sends the zone's name in "
            "`info.climateZoneName`; the client exposes it as `DatasetStatistic.climate_zone_name` and the bulk "
            "engine writes it in the `label` column.",
            "",
        ]
    return "\n".join(lines)


def _category_table(title: str, members: list[Any]) -> list[str]:
    lines = [
        f"## {title}",
        "",
        "| ID | Map | Unit | Range | Low / mid / high | Description |",
        "| ---: | --- | --- | --- | --- | --- |",
    ]
    for d in members:
        name = _cell(d.map_name) + (" *(change)*" if d.is_diff else "")
        if d.sub_category:
            name += f"<br><small>{_cell(d.sub_category)}</small>"
        labels = " / ".join(_cell(label) or "–" for label in d.data_labels)
        lines.append(
            f"| {d.dataset_id} | {name} | {_cell(d.unit)} | {_number(d.min_value)} to {_number(d.max_value)} "
            f"| {labels} | {_cell(d.description)} |"
        )
    lines.append("")
    return lines


def on_files(files: Files, config: Any) -> Files:
    if files.get_file_from_path(CATALOG_PAGE) is not None:
        raise ValueError(f"docs/{CATALOG_PAGE} is generated from pf_provider.catalog; delete the hand-written copy")
    files.append(File.generated(config, CATALOG_PAGE, content=render_catalog()))
    return files


def _plain_code(match: re.Match[str]) -> str:
    target = match.group(2).strip()
    if match.group(1):  # ~a.b.C shows as C, as in Sphinx
        target = target.rsplit(".", 1)[-1]
    return f"<code>{target}</code>"


def on_page_content(html: str, page: Any, config: Any, files: Files) -> str:
    return _ROLE.sub(_plain_code, html)
