"""Intervals that stay proper at 0% and 100%: Wilson's score interval for a share and Newcombe's
hybrid score interval (method 10) for the difference of two shares."""

from __future__ import annotations

import math

Z95 = 1.959963984540054


def wilson(successes: float, n: float, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval of successes / n; None without observations."""
    if not n or n <= 0:
        return None
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(x1: float, n1: float, x2: float, n2: float, z: float = Z95) -> tuple[float, float] | None:
    """Newcombe's interval of x1/n1 - x2/n2 from the two Wilson intervals; None if a group is empty."""
    a, b = wilson(x1, n1, z), wilson(x2, n2, z)
    if a is None or b is None:
        return None
    p1, p2 = x1 / n1, x2 / n2
    d = p1 - p2
    return (
        d - math.sqrt((p1 - a[0]) ** 2 + (b[1] - p2) ** 2),
        d + math.sqrt((a[1] - p1) ** 2 + (p2 - b[0]) ** 2),
    )
