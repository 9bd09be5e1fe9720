"""Percentile charts drawn from emulator data, and the chart module's refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pf_provider import InvalidInputError
from pf_provider.charts import SCENARIO_COLORS, percentile_curves, plot_percentile_curves, summary_table
from pf_provider.extract import extract, iter_rows

pytest.importorskip("matplotlib", reason="the charts extra (matplotlib) is not installed")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PHOENIX = {"latitude": 33.4484, "longitude": -112.074}


def scenario_pixel_columns(path: Path) -> dict[str, float]:
    """Mean x position (pixels) of each scenario's colour inside the plot area (the legend sits above it)."""
    import numpy as np
    from matplotlib.image import imread

    image = imread(path)[..., :3]
    height = image.shape[0]
    plot_area = image[int(height * 0.25) : int(height * 0.85)]
    columns: dict[str, float] = {}
    for scenario, colour in SCENARIO_COLORS.items():
        rgb = np.array([int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
        hits = np.argwhere(np.abs(plot_area - rgb).max(axis=2) < 0.03)
        if len(hits) > 50:
            columns[scenario] = float(hits[:, 1].mean())
    return columns


def test_chart_from_emulator_data_draws_one_curve_per_scenario_where_the_data_says(tmp_path, client):
    rows = client.get_dataset_statistics(**PHOENIX, dataset_id=40104)
    assert len(rows) == 6 and all(len(r.values) == 101 for r in rows)

    path = plot_percentile_curves(rows, tmp_path / "charts" / "phoenix.png", title="Phoenix solar farm")

    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 20_000, "a chart with six curves, axes and labels is not a near-empty image"
    columns = scenario_pixel_columns(path)
    assert set(columns) == set(SCENARIO_COLORS), "every scenario's curve is drawn in its own colour"
    by_median = [r.warming_scenario for r in sorted(rows, key=lambda r: r.mid_value)]
    by_position = sorted(columns, key=columns.get)
    assert by_position == by_median, "curves sit left to right in the order of the scenarios' medians"


def test_chart_of_two_scenarios_draws_only_those(tmp_path, client):
    rows = client.get_dataset_statistics(**PHOENIX, dataset_id=40101, warming_scenario=["1.0", "3.0"])
    path = plot_percentile_curves(rows, tmp_path / "two.png")
    columns = scenario_pixel_columns(path)
    assert set(columns) == {"1.0", "3.0"}
    assert columns["1.0"] < columns["3.0"]


def test_bulk_engine_rows_with_values_chart_per_site(tmp_path, client):
    sites = [
        {"site_id": "nyc", "latitude": 40.71, "longitude": -74.0},
        {"site_id": "sgp", "latitude": 1.35, "longitude": 103.82},
    ]
    out = tmp_path / "percentiles.jsonl"
    extract(client, sites, out, datasets=[40104], include_values=True, resume=False)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    drawn = []
    for site_id in ("nyc", "sgp"):
        site_rows = [r for r in rows if r["site_id"] == site_id]
        drawn.append(plot_percentile_curves(site_rows, tmp_path / f"{site_id}.png"))
    assert all(p.read_bytes().startswith(PNG_SIGNATURE) for p in drawn)
    assert drawn[0].read_bytes() != drawn[1].read_bytes(), "different sites, different charts"

    table = summary_table(rows, names={"nyc": "New York", "sgp": "Singapore"}).splitlines()
    assert table[0].startswith("Days above 32°C (90°F) [days]: median")
    for label, site_id in (("New York", "nyc"), ("Singapore", "sgp")):
        (line,) = [line for line in table if line.startswith(label)]
        mids = [
            f"{r['mid_value']:.1f}"
            for r in sorted(rows, key=lambda r: float(r["warming_scenario"]))
            if r["site_id"] == site_id
        ]
        assert line.split()[-6:] == mids


def test_rows_without_values_are_refused_with_a_fix(tmp_path, client):
    rows = client.get_dataset_statistics(**PHOENIX, dataset_id=40104, fields=["name", "unit", "mid_value"])
    target = tmp_path / "nothing.png"
    with pytest.raises(InvalidInputError, match=r"no 'values'.*include_values=True"):
        plot_percentile_curves(rows, target)
    assert not target.exists()

    bulk_rows = list(iter_rows(client, [{"site_id": "a", **PHOENIX}], datasets=[40104]))
    with pytest.raises(InvalidInputError, match="101 percentiles"):
        plot_percentile_curves(bulk_rows, target)
    assert not target.exists()


def test_rows_that_do_not_make_one_chart_are_refused(client):
    rows = client.get_dataset_statistics(**PHOENIX, dataset_id=[40101, 40104], warming_scenario="1.5")
    with pytest.raises(InvalidInputError, match="mix datasets"):
        percentile_curves(rows)
    one = [r.to_dict() for r in rows if r.dataset_id == 40104]
    with pytest.raises(InvalidInputError, match="appears twice"):
        percentile_curves(one + one)
    with pytest.raises(InvalidInputError, match="more than one site"):
        percentile_curves([{**one[0], "site_id": "a"}, {**one[0], "site_id": "b", "warming_scenario": "2.0"}])
    with pytest.raises(InvalidInputError, match="101 percentiles"):
        percentile_curves([{**one[0], "values": one[0]["values"][:100]}])
    with pytest.raises(InvalidInputError, match="no rows"):
        percentile_curves([])


def test_core_and_charts_import_without_matplotlib():
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "import pf_provider.charts, pf_provider.client, pf_provider.extract\n"
        "from pf_provider.charts import plot_percentile_curves\n"
        "row = {'dataset_id': 40104, 'warming_scenario': '1.5', 'values': list(range(101))}\n"
        "try:\n"
        "    plot_percentile_curves([row], 'never.png')\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert 'pip install "pf-provider[charts]"' in done.stdout
