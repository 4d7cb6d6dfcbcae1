"""Mean opinion score with a 95% confidence interval, per system.

The interval is Student's t on the ratings of that system (mean +/- t(0.975, n-1) * s / sqrt(n)):
with the handful of ratings a small test collects, the normal approximation is too narrow.
Ratings of one listener are not independent, so with few listeners the interval is optimistic;
the table says how many listeners and ratings each figure rests on. Intervals are clipped to the
1-5 scale.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

from scipy import stats


@dataclass(frozen=True)
class MOS:
    system: str
    ratings: int
    raters: int
    mean: float
    ci95: float | None  # half-width; None with fewer than 2 ratings

    @property
    def bounds(self) -> tuple[float, float] | None:
        """The interval, clipped to the 1-5 scale (no rating lies outside it)."""
        return None if self.ci95 is None else (max(1.0, self.mean - self.ci95), min(5.0, self.mean + self.ci95))

    @property
    def interval(self) -> str:
        return "n/a" if self.bounds is None else f"{self.bounds[0]:.2f}-{self.bounds[1]:.2f}"


def mos(system: str, scores: list[int], raters: int) -> MOS:
    n = len(scores)
    if n == 0:
        raise ValueError(f"no ratings for {system}")
    mean = sum(scores) / n
    if n < 2:
        return MOS(system, n, raters, mean, None)
    sd = math.sqrt(sum((s - mean) ** 2 for s in scores) / (n - 1))
    return MOS(system, n, raters, mean, float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n))


def markdown(rows: list[MOS]) -> str:
    lines = ["| system | MOS | 95% CI | ratings | listeners |", "|---|---|---|---|---|"]
    lines += [f"| {r.system} | {r.mean:.2f} | {r.interval} | {r.ratings} | {r.raters} |" for r in rows]
    return "\n".join(lines) + "\n"


def to_csv(rows: list[MOS]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["system", "mos", "ci95_low", "ci95_high", "ratings", "listeners"])
    for r in rows:
        low, high = ("", "") if r.bounds is None else (f"{r.bounds[0]:.4f}", f"{r.bounds[1]:.4f}")
        writer.writerow([r.system, f"{r.mean:.4f}", low, high, r.ratings, r.raters])
    return out.getvalue()
