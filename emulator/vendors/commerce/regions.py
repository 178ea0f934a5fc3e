"""Countries whose states the emulator knows (22027): the United States and Canada.

An address in any other country is accepted with whatever state it sends.
"""

from __future__ import annotations

US_STATES = {
    "AL": "Alabama",
    "AK": "Alaska",
    "AZ": "Arizona",
    "AR": "Arkansas",
    "CA": "California",
    "CO": "Colorado",
    "CT": "Connecticut",
    "DE": "Delaware",
    "DC": "District of Columbia",
    "FL": "Florida",
    "GA": "Georgia",
    "HI": "Hawaii",
    "ID": "Idaho",
    "IL": "Illinois",
    "IN": "Indiana",
    "IA": "Iowa",
    "KS": "Kansas",
    "KY": "Kentucky",
    "LA": "Louisiana",
    "ME": "Maine",
    "MD": "Maryland",
    "MA": "Massachusetts",
    "MI": "Michigan",
    "MN": "Minnesota",
    "MS": "Mississippi",
    "MO": "Missouri",
    "MT": "Montana",
    "NE": "Nebraska",
    "NV": "Nevada",
    "NH": "New Hampshire",
    "NJ": "New Jersey",
    "NM": "New Mexico",
    "NY": "New York",
    "NC": "North Carolina",
    "ND": "North Dakota",
    "OH": "Ohio",
    "OK": "Oklahoma",
    "OR": "Oregon",
    "PA": "Pennsylvania",
    "RI": "Rhode Island",
    "SC": "South Carolina",
    "SD": "South Dakota",
    "TN": "Tennessee",
    "TX": "Texas",
    "UT": "Utah",
    "VT": "Vermont",
    "VA": "Virginia",
    "WA": "Washington",
    "WV": "West Virginia",
    "WI": "Wisconsin",
    "WY": "Wyoming",
    "AS": "American Samoa",
    "GU": "Guam",
    "MP": "Northern Mariana Islands",
    "PR": "Puerto Rico",
    "VI": "U.S. Virgin Islands",
    "AA": "Armed Forces Americas",
    "AE": "Armed Forces Europe",
    "AP": "Armed Forces Pacific",
}
CA_PROVINCES = {
    "AB": "Alberta",
    "BC": "British Columbia",
    "MB": "Manitoba",
    "NB": "New Brunswick",
    "NL": "Newfoundland and Labrador",
    "NS": "Nova Scotia",
    "NT": "Northwest Territories",
    "NU": "Nunavut",
    "ON": "Ontario",
    "PE": "Prince Edward Island",
    "QC": "Quebec",
    "SK": "Saskatchewan",
    "YT": "Yukon",
}
COUNTRIES = {
    "US": ("United States", US_STATES),
    "CA": ("Canada", CA_PROVINCES),
}
_COUNTRY_BY_NAME = {name.lower(): code for code, (name, _) in COUNTRIES.items()}


def country_code(value: str) -> str | None:
    """'US', 'us' or 'United States' -> 'US'; None for a country the table does not know."""
    text = value.strip()
    if text.upper() in COUNTRIES:
        return text.upper()
    return _COUNTRY_BY_NAME.get(text.lower())


def state_code(country: str, value: str) -> str | None:
    """'NC', 'nc', 'North Carolina' or 'US-NC' -> 'NC' within a known country; None if not its state."""
    states = COUNTRIES[country][1]
    text = value.strip()
    if text.upper().startswith(f"{country}-"):
        text = text[len(country) + 1 :]
    if text.upper() in states:
        return text.upper()
    lowered = text.lower()
    return next((code for code, name in states.items() if name.lower() == lowered), None)


def country_name(code: str) -> str:
    return COUNTRIES[code][0]


def region_name(country: str, state: str) -> str:
    return COUNTRIES[country][1][state]
