"""Deterministic, plausible synthetic statistics for every (dataset, warming scenario, grid cell).

Nothing here is real climate data. Each map gets a closed-form model: a smooth climate for
the cell (colder toward the poles, drier in the subtropics, warming amplified toward the
poles), a mean and a spread for the scenario, and the 101 percentiles
``mean + spread * z_i`` clipped to the dataset's published range. The same inputs always
give the same strings, in every process and every emulator instance.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist
from typing import Any

from pf_provider.catalog import (
    CLIMATE_ZONES_DATASET_ID,
    Dataset,
    climate_zone_name,
)

GRID_STEP = 0.22
"""Spacing of the emulated model grid, in degrees (the real RCM grid is about 0.22°)."""

_MAX_I = int(90 / GRID_STEP)  # 409: the last row inside [-90, 90]
_MAX_J = int(180 / GRID_STEP)  # 818

# Percentile i is the quantile at probability i %; the two ends are pulled in so they stay finite.
_Z: tuple[float, ...] = tuple(NormalDist().inv_cdf(min(max(i / 100, 0.0025), 0.9975)) for i in range(101))
CUMULATIVE_PROBABILITY: list[str] = [f"{i:.1f}" for i in range(101)]
"""Shared by every row: read-only."""

_MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
class Cell:
    """One grid cell: its indices and the coordinates of its centre, as the API reports them."""

    i: int
    j: int
    latitude: float
    longitude: float


def snap(latitude: float, longitude: float) -> Cell:
    """The cell nearest to a point (inputs already checked to be within range)."""
    i = max(-_MAX_I, min(_MAX_I, round(latitude / GRID_STEP)))
    j = max(-_MAX_J, min(_MAX_J, round(longitude / GRID_STEP)))
    return Cell(i, j, round(i * GRID_STEP, 2) + 0.0, round(j * GRID_STEP, 2) + 0.0)


def _mix(*keys: int) -> float:
    """A uniform number in [0, 1) from integer keys (splitmix64 steps): cheap and platform-stable."""
    x = 0x9E3779B97F4A7C15
    for key in keys:
        x = (x ^ (key & _MASK64)) * 0xBF58476D1CE4E5B9 & _MASK64
        x = (x ^ (x >> 31)) * 0x94D049BB133111EB & _MASK64
        x ^= x >> 29
    return x / 2.0**64


def _smooth(lat: float, lon: float, scale: float, salt: int) -> float:
    """Value noise in [0, 1): hashed values on a coarse lattice, bilinearly interpolated."""
    y, x = lat / scale, lon / scale
    y0, x0 = math.floor(y), math.floor(x)
    fy, fx = y - y0, x - x0
    fy, fx = fy * fy * (3 - 2 * fy), fx * fx * (3 - 2 * fx)
    a, b = _mix(salt, y0, x0), _mix(salt, y0, x0 + 1)
    c, d = _mix(salt, y0 + 1, x0), _mix(salt, y0 + 1, x0 + 1)
    return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy


@dataclass(frozen=True)
class _Site:
    """The synthetic climate of one cell at the 0.5 °C baseline."""

    mean_temp: float  # annual mean, °C
    seasonal_sd: float  # spread of daily temperatures around the annual mean, °C
    amplification: float  # local warming per degree of global warming
    dryness: float  # 0 wet .. 1 desert
    wetting: float  # -1 drying .. 1 wetting trend of precipitation
    regime: float  # picks the seasonal rainfall pattern of temperate/continental zones


@lru_cache(maxsize=8192)
def _site(i: int, j: int) -> _Site:
    lat, lon = i * GRID_STEP, j * GRID_STEP
    polar = abs(lat) / 90.0
    anomaly = 6.0 * (_smooth(lat, lon, 9.0, 1) - 0.5) + 1.0 * (_mix(2, i, j) - 0.5)
    mean_temp = 27.0 - 45.0 * polar**1.6 + anomaly
    subtropical = math.exp(-(((abs(lat) - 25.0) / 9.0) ** 2))
    dryness = min(1.0, max(0.0, 0.2 + 0.5 * subtropical + 0.7 * (_smooth(lat, lon, 12.0, 3) - 0.5)))
    wetting = min(1.0, max(-1.0, (0.45 - dryness) * 1.6 + 0.6 * (_smooth(lat, lon, 15.0, 4) - 0.5)))
    return _Site(
        mean_temp=mean_temp,
        seasonal_sd=3.0 + 9.0 * polar,
        amplification=1.0 + 1.2 * polar,
        dryness=dryness,
        wetting=wetting,
        regime=_smooth(lat, lon, 10.0, 5),
    )


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _days(fraction: float) -> tuple[float, float]:
    """Mean and year-to-year spread of a count of days that happen with this probability."""
    mean = 365.0 * fraction
    return mean, 0.6 * math.sqrt(mean * (1.0 - fraction)) + 0.2 * min(mean, 1.0)


# Each model maps (site, global warming above the 0.5 °C baseline) to (mean, spread).
_Model = Callable[[_Site, float], tuple[float, float]]


def _warm(site: _Site, d: float) -> float:
    return site.amplification * d


def _daytime(site: _Site, d: float) -> float:
    return site.mean_temp + 5.0 + _warm(site, d)


def _nighttime(site: _Site, d: float) -> float:
    return site.mean_temp - 5.0 + 1.1 * _warm(site, d)


def _wet_bulb(site: _Site, d: float) -> float:
    return 0.5 * site.mean_temp + 9.5 + 0.8 * _warm(site, d)


def _above(base: Callable[[_Site, float], float], threshold: float, sd_scale: float = 1.0) -> _Model:
    return lambda s, d: _days(1.0 - _phi((threshold - base(s, d)) / (s.seasonal_sd * sd_scale)))


def _below(base: Callable[[_Site, float], float], threshold: float) -> _Model:
    return lambda s, d: _days(_phi((threshold - base(s, d)) / s.seasonal_sd))


def _snowiness(site: _Site) -> float:
    return min(1.0, max(0.0, (5.0 - site.mean_temp) / 20.0))


_MODELS: dict[int, _Model] = {
    40101: lambda s, d: (s.mean_temp + _warm(s, d), 0.7),
    40102: lambda s, d: (_daytime(s, d), 0.8),
    40103: lambda s, d: (s.mean_temp + 1.9 * s.seasonal_sd + 3.0 + 1.2 * _warm(s, d), 1.5),
    40104: _above(_daytime, 32.0),
    40105: _above(_daytime, 35.0),
    40106: _above(_daytime, 38.0),
    40107: _above(_daytime, 45.0),
    40201: lambda s, d: (_nighttime(s, d), 0.8),
    40202: _below(_nighttime, 0.0),
    40203: _above(_nighttime, 20.0),
    40204: _above(_nighttime, 25.0),
    40205: _below(_daytime, 0.0),
    40206: lambda s, d: (s.mean_temp - 3.0 + 1.6 * s.seasonal_sd + 1.1 * _warm(s, d), 1.2),
    40207: lambda s, d: (s.mean_temp - 1.2 * s.seasonal_sd + 1.3 * _warm(s, d), 1.5),
    40301: _above(_wet_bulb, 26.0, 0.45),
    40302: _above(_wet_bulb, 28.0, 0.45),
    40303: _above(_wet_bulb, 30.0, 0.45),
    40304: _above(_wet_bulb, 32.0, 0.45),
    40305: lambda s, d: (0.35 * s.mean_temp + 19.0 + 0.8 * _warm(s, d), 0.8),
    # Changes relative to the baseline: centred near zero, spread growing with warming.
    40601: lambda s, d: (35.0 * s.wetting * d, 40.0 + 35.0 * d),
    40607: lambda s, d: (8.0 * s.dryness * d, 1.0 + 3.0 * d * (0.3 + s.dryness)),
    40612: lambda s, d: (1.0 + 0.6 * d * (1.0 + 0.5 * max(s.wetting, 0.0)), 0.15 + 0.3 * d),
    40613: lambda s, d: (6.0 * d * (1.0 + 0.5 * s.wetting), 4.0 + 6.0 * d),
    40614: lambda s, d: (-12.0 * d * _snowiness(s), 0.5 + (1.0 + 5.0 * d) * _snowiness(s)),
    40616: lambda s, d: ((15.0 * s.wetting + 5.0) * d, 15.0 + 20.0 * d),
    40701: lambda s, d: (3.0 + 5.0 * s.dryness + 6.0 * d * s.dryness, 2.0 + 2.0 * d),
    40702: lambda s, d: (12.0 + 8.0 * s.dryness + 10.0 * d * s.dryness, 4.0 + 3.0 * d),
    40703: lambda s, d: (-0.35 * d * (2.0 * s.dryness - 0.5), 0.9),
    40704: lambda s, d: (6.0 * d * (0.3 + s.dryness), 1.0 + 3.0 * d),
}


def _climate_zone(site: _Site, mean_temp: float) -> int:
    """A Köppen-like class (1-based index into the climate-zones map's bin labels)."""
    coldest = mean_temp - 1.2 * site.seasonal_sd
    hottest = mean_temp + 1.2 * site.seasonal_sd
    if hottest < 0.0:
        return 27  # Polar ice cap
    if hottest < 10.0:
        return 26  # Polar tundra
    if site.dryness > 0.72:
        return 6 if mean_temp >= 18.0 else 7  # arid desert, hot / cold
    if site.dryness > 0.58:
        return 4 if mean_temp >= 18.0 else 5  # semi-arid, hot / cold
    if coldest >= 18.0:
        return 1 if site.dryness < 0.3 else 2 if site.dryness < 0.42 else 3
    season = 0 if site.regime < 0.6 else 3 if site.regime < 0.8 else 6  # no dry season / dry summer / winter
    summer = 0 if hottest >= 22.0 else 1 if hottest >= 14.0 else 2  # hot / warm / cold summer
    return (8 if coldest > -3.0 else 17) + season + summer


def _fmt(x: float) -> str:
    return f"{x + 0.0:.1f}"  # + 0.0 turns -0.0 into 0.0


def _percentiles(dataset: Dataset, site: _Site, d: float) -> list[str]:
    if dataset.dataset_id == CLIMATE_ZONES_DATASET_ID:
        mean = site.mean_temp + _warm(site, d)
        return sorted((_fmt(float(_climate_zone(site, mean + 0.8 * z))) for z in _Z), key=float)
    lo, hi = dataset.min_value, dataset.max_value
    model = _MODELS.get(dataset.dataset_id)
    if model is None:  # a map added to the catalog after these models were written: mid-range
        mean, spread = lo + (hi - lo) * (0.5 + 0.05 * d), (hi - lo) * 0.05
    else:
        mean, spread = model(site, d)
    decimals = 0 if dataset.unit in ("days", "nights") else 1
    return [_fmt(round(min(max(mean + spread * z, lo), hi), decimals)) for z in _Z]


@lru_cache(maxsize=4096)
def statistics_row(dataset: Dataset, scenario: str, cell: Cell) -> dict[str, Any]:
    """One ``DatasetStatisticsResponse`` as the API serialises it (BigFloats as strings).

    The dict and its lists are shared by the cache: treat them as read-only.
    """
    site = _site(cell.i, cell.j)
    values = _percentiles(dataset, site, float(scenario) - 0.5)
    info: dict[str, Any] = {}
    if dataset.dataset_id == CLIMATE_ZONES_DATASET_ID:
        info = {"climateZoneName": climate_zone_name(float(values[50]))}
    return {
        "datasetId": dataset.dataset_id,
        "name": dataset.map_name,
        "unit": dataset.unit,
        "warmingScenario": scenario,
        "lowValue": values[5],
        "midValue": values[50],
        "highValue": values[95],
        "latitude": cell.latitude,
        "longitude": cell.longitude,
        "mapCategory": dataset.category,
        "info": info,
        "values": values,
        "cumulativeProbability": CUMULATIVE_PROBABILITY,
    }


__all__ = ["CUMULATIVE_PROBABILITY", "GRID_STEP", "Cell", "snap", "statistics_row"]
