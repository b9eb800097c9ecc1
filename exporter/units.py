"""Units and their wording: joules as kWh, cost and CO2e; seconds as a duration a person reads."""

from __future__ import annotations

JOULES_PER_KWH = 3.6e6


def kwh(joules: float) -> float:
    return joules / JOULES_PER_KWH


def cost(joules: float, price_per_kwh: float) -> float:
    return kwh(joules) * price_per_kwh


def emissions_grams(joules: float, grams_per_kwh: float) -> float:
    return kwh(joules) * grams_per_kwh


def duration(seconds: float) -> str:
    """``42 s``, ``57 min``, ``3 h 05 min``, ``1 d 13 h``: one style, days from 24 h on."""
    seconds = max(seconds, 0.0)
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 90:
        return f"{minutes:.0f} min"
    hours, minutes = divmod(int(minutes + 0.5), 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"
