"""A small offline stand-in for the Mapbox geocoder the real server calls for place inputs.

It knows a few dozen countries (by name, common alias or ISO-3166 alpha-2 code) and about a
hundred major cities, enough for examples and tests to use ``country``/``city``/``address``
without network access. Matching is case- and accent-insensitive.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Place:
    name: str
    country_code: str
    latitude: float
    longitude: float


# name, ISO-2 code, latitude, longitude (capital), aliases separated by "|"
_COUNTRIES = """\
United States|US|38.90|-77.04|usa|united states of america|america
Canada|CA|45.42|-75.70|
Mexico|MX|19.43|-99.13|
Brazil|BR|-15.79|-47.88|brasil
Argentina|AR|-34.60|-58.38|
Chile|CL|-33.45|-70.67|
Peru|PE|-12.05|-77.04|
Colombia|CO|4.71|-74.07|
Venezuela|VE|10.49|-66.88|
United Kingdom|GB|51.51|-0.13|uk|great britain|britain|england
Ireland|IE|53.35|-6.26|
France|FR|48.86|2.35|
Germany|DE|52.52|13.40|deutschland
Spain|ES|40.42|-3.70|espana
Portugal|PT|38.72|-9.14|
Italy|IT|41.90|12.50|italia
Netherlands|NL|52.37|4.90|the netherlands|holland
Belgium|BE|50.85|4.35|
Switzerland|CH|46.95|7.45|
Austria|AT|48.21|16.37|
Poland|PL|52.23|21.01|
Sweden|SE|59.33|18.07|
Norway|NO|59.91|10.75|
Finland|FI|60.17|24.94|
Denmark|DK|55.68|12.57|
Iceland|IS|64.15|-21.94|
Greece|GR|37.98|23.73|
Turkey|TR|39.93|32.86|turkiye
Russia|RU|55.76|37.62|russian federation
Ukraine|UA|50.45|30.52|
Egypt|EG|30.04|31.24|
Morocco|MA|34.02|-6.83|
Nigeria|NG|9.08|7.40|
Kenya|KE|-1.29|36.82|
Ethiopia|ET|9.03|38.74|
South Africa|ZA|-25.75|28.19|
Saudi Arabia|SA|24.71|46.68|
United Arab Emirates|AE|24.45|54.38|uae
Iran|IR|35.69|51.39|
India|IN|28.61|77.21|
Pakistan|PK|33.68|73.05|
Bangladesh|BD|23.81|90.41|
China|CN|39.90|116.41|
Japan|JP|35.68|139.69|
South Korea|KR|37.57|126.98|korea|republic of korea
Indonesia|ID|-6.21|106.85|
Philippines|PH|14.60|120.98|
Vietnam|VN|21.03|105.85|viet nam
Thailand|TH|13.76|100.50|
Malaysia|MY|3.14|101.69|
Singapore|SG|1.35|103.82|
Australia|AU|-35.28|149.13|
New Zealand|NZ|-41.29|174.78|
Greenland|GL|64.18|-51.72|
"""

# name, ISO-2 code of its country, latitude, longitude, aliases separated by "|"
_CITIES = """\
New York|US|40.71|-74.01|new york city|nyc
Los Angeles|US|34.05|-118.24|
Chicago|US|41.88|-87.63|
Houston|US|29.76|-95.37|
Phoenix|US|33.45|-112.07|
Miami|US|25.76|-80.19|
Seattle|US|47.61|-122.33|
San Francisco|US|37.77|-122.42|
Washington|US|38.91|-77.04|washington dc|washington d c
Boston|US|42.36|-71.06|
Denver|US|39.74|-104.99|
Atlanta|US|33.75|-84.39|
New Orleans|US|29.95|-90.07|
Anchorage|US|61.22|-149.90|
Honolulu|US|21.31|-157.86|
Toronto|CA|43.65|-79.38|
Montreal|CA|45.50|-73.57|
Vancouver|CA|49.28|-123.12|
Mexico City|MX|19.43|-99.13|ciudad de mexico
Guadalajara|MX|20.66|-103.35|
Sao Paulo|BR|-23.55|-46.63|
Rio de Janeiro|BR|-22.91|-43.17|
Manaus|BR|-3.12|-60.02|
Buenos Aires|AR|-34.60|-58.38|
Santiago|CL|-33.45|-70.67|
Lima|PE|-12.05|-77.04|
Bogota|CO|4.71|-74.07|
Caracas|VE|10.49|-66.88|
London|GB|51.51|-0.13|
Manchester|GB|53.48|-2.24|
Edinburgh|GB|55.95|-3.19|
Dublin|IE|53.35|-6.26|
Paris|FR|48.86|2.35|
Marseille|FR|43.30|5.37|
Lyon|FR|45.76|4.84|
Berlin|DE|52.52|13.40|
Munich|DE|48.14|11.58|munchen
Hamburg|DE|53.55|9.99|
Madrid|ES|40.42|-3.70|
Barcelona|ES|41.39|2.17|
Lisbon|PT|38.72|-9.14|lisboa
Rome|IT|41.90|12.50|roma
Milan|IT|45.46|9.19|milano
Amsterdam|NL|52.37|4.90|
Brussels|BE|50.85|4.35|bruxelles
Zurich|CH|47.38|8.54|
Geneva|CH|46.20|6.14|geneve
Vienna|AT|48.21|16.37|wien
Warsaw|PL|52.23|21.01|warszawa
Stockholm|SE|59.33|18.07|
Oslo|NO|59.91|10.75|
Helsinki|FI|60.17|24.94|
Copenhagen|DK|55.68|12.57|kobenhavn
Reykjavik|IS|64.15|-21.94|
Athens|GR|37.98|23.73|
Istanbul|TR|41.01|28.98|
Moscow|RU|55.76|37.62|
Saint Petersburg|RU|59.93|30.34|st petersburg
Kyiv|UA|50.45|30.52|kiev
Cairo|EG|30.04|31.24|
Casablanca|MA|33.57|-7.59|
Lagos|NG|6.52|3.38|
Nairobi|KE|-1.29|36.82|
Addis Ababa|ET|9.03|38.74|
Johannesburg|ZA|-26.20|28.05|
Cape Town|ZA|-33.92|18.42|
Riyadh|SA|24.71|46.68|
Dubai|AE|25.20|55.27|
Tehran|IR|35.69|51.39|
Delhi|IN|28.70|77.10|new delhi
Mumbai|IN|19.08|72.88|bombay
Kolkata|IN|22.57|88.36|calcutta
Chennai|IN|13.08|80.27|
Bangalore|IN|12.97|77.59|bengaluru
Karachi|PK|24.86|67.01|
Lahore|PK|31.55|74.34|
Dhaka|BD|23.81|90.41|
Beijing|CN|39.90|116.41|
Shanghai|CN|31.23|121.47|
Guangzhou|CN|23.13|113.26|
Hong Kong|CN|22.32|114.17|
Chengdu|CN|30.57|104.07|
Tokyo|JP|35.68|139.69|
Osaka|JP|34.69|135.50|
Sapporo|JP|43.06|141.35|
Seoul|KR|37.57|126.98|
Jakarta|ID|-6.21|106.85|
Manila|PH|14.60|120.98|
Hanoi|VN|21.03|105.85|
Ho Chi Minh City|VN|10.82|106.63|saigon
Bangkok|TH|13.76|100.50|
Kuala Lumpur|MY|3.14|101.69|
Singapore|SG|1.35|103.82|
Sydney|AU|-33.87|151.21|
Melbourne|AU|-37.81|144.96|
Perth|AU|-31.95|115.86|
Darwin|AU|-12.46|130.84|
Auckland|NZ|-36.85|174.76|
Nuuk|GL|64.18|-51.72|
"""


def fold(text: str) -> str:
    """Lower case, accents stripped, punctuation turned into single spaces: 'São-Paulo' -> 'sao paulo'."""
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^0-9a-z]+", " ", ascii_only.lower()).split())


def _parse(table: str) -> list[tuple[Place, tuple[str, ...]]]:
    rows = []
    for line in table.splitlines():
        name, code, lat, lon, *aliases = line.split("|")
        keys = tuple(dict.fromkeys(fold(k) for k in (name, *aliases) if k))
        rows.append((Place(name, code, float(lat), float(lon)), keys))
    return rows


@lru_cache(maxsize=1)
def _index() -> tuple[dict[str, Place], dict[str, Place], list[tuple[str, Place]], list[tuple[str, Place]]]:
    countries_by_key: dict[str, Place] = {}
    country_names: list[tuple[str, Place]] = []
    for place, keys in _parse(_COUNTRIES):
        countries_by_key[place.country_code.lower()] = place
        for key in keys:
            countries_by_key[key] = place
            country_names.append((key, place))
    cities_by_key: dict[str, Place] = {}
    city_names: list[tuple[str, Place]] = []
    for place, keys in _parse(_CITIES):
        for key in keys:
            cities_by_key.setdefault(key, place)
            city_names.append((key, place))
    # Longest names first, so "new york city" wins over "york" and "south africa" over "africa".
    city_names.sort(key=lambda kv: -len(kv[0]))
    country_names.sort(key=lambda kv: -len(kv[0]))
    return countries_by_key, cities_by_key, city_names, country_names


def find_country(text: str) -> Place | None:
    """The country named by ``text`` as a whole: a name, an alias or an ISO-2 code."""
    return _index()[0].get(fold(text))


def _mentioned(text: str, names: list[tuple[str, Place]], country_code: str | None) -> Place | None:
    padded = f" {fold(text)} "
    for key, place in names:
        if f" {key} " in padded and (country_code is None or place.country_code == country_code):
            return place
    return None


def geocode(country: str | None, city: str | None, address: str | None) -> Place | None:
    """The point a place input resolves to, or None when nothing is recognised.

    Mirrors how the server builds one free-text query from address, city and country: a
    known city wins (within the given country when one is named), then a country.
    """
    countries_by_key, cities_by_key, city_names, country_names = _index()
    named_country = find_country(country) if country else None
    code = named_country.country_code if named_country else None
    if city:
        found = cities_by_key.get(fold(city))
        if found is not None and (code is None or found.country_code == code):
            return found
    if address:
        found = _mentioned(address, city_names, code)
        if found is not None:
            return found
        if named_country is None:
            whole = countries_by_key.get(fold(address))
            return whole or _mentioned(address, country_names, None)
    return named_country


def known_places() -> tuple[list[Place], list[Place]]:
    """(countries, cities) the gazetteer knows, for documentation and tests."""
    countries = [place for place, _ in _parse(_COUNTRIES)]
    cities = [place for place, _ in _parse(_CITIES)]
    return countries, cities
