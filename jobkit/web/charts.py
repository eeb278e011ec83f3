"""The history chart as server-rendered SVG geometry (pure: numbers in, coordinates out).

The template draws what this computes, so the chart needs no script and no chart library.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 28


@dataclass(frozen=True)
class Chart:
    """Polyline points per series, axis ticks and labels, in SVG user units."""

    width: int
    height: int
    series: list[tuple[str, str]]  # (css class, "x,y x,y ...")
    y_ticks: list[tuple[float, str]]  # (y, label)
    x_labels: list[tuple[float, str]]  # (x, label)
    points: list[tuple[float, float, str]]  # (x, y, tooltip) of the processed series


def nice_max(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten that is at least ``value`` (≥ 1)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def history_chart(days: Sequence[tuple[str, int, int]]) -> Chart:
    """A line chart of processed and failed per day; ``days`` is (date, processed, failed)."""
    top = nice_max(max([1, *(max(p, f) for _, p, f in days)]))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, len(days) - 1)

    def x(i: int) -> float:
        return round(LEFT + i * step, 1)

    def y(value: int) -> float:
        return round(TOP + plot_h * (1 - value / top), 1)

    series = []
    for css, column in (("processed", 1), ("failed", 2)):
        series.append((css, " ".join(f"{x(i)},{y(int(day[column]))}"
                                     for i, day in enumerate(days))))
    y_ticks = [(y(top * n // 4), f"{top * n // 4:,}") for n in range(5)]
    every = max(1, len(days) // 7)
    last = len(days) - 1
    # The last day is always labelled; the regular label before it goes if it would touch.
    x_labels = [(x(i), day[0][5:]) for i, day in enumerate(days)
                if i == last or (i % every == 0 and (last - i) * step >= 40)]
    points = [(x(i), y(p), f"{d}: {p:,} processed, {f:,} failed")
              for i, (d, p, f) in enumerate(days)]
    return Chart(WIDTH, HEIGHT, series, y_ticks, x_labels, points)
