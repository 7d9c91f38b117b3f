"""Labelled vertical lines on a plot (phase change, resume, rollback) whose labels never overlap.

Labels stack in lanes from the top of the plot: a label goes into the first lane where it clears the
previous label by a few pixels, recomputed whenever the view's range or size changes, so zooming out
never piles two labels on top of each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

GAP_PX = 6  # horizontal space kept between two labels of one lane
TOP_PX = 2  # space between the top of the plot and the first lane
LABEL_ALPHA = 200  # of 255


@dataclass(frozen=True)
class Marker:
    step: float
    text: str
    color: str


def assign_lanes(spans: list[tuple[float, float]], gap: float = GAP_PX) -> list[int]:
    """For (left, right) pixel spans, a lane index each such that spans in one lane keep `gap` apart."""
    lanes = [0] * len(spans)
    lane_ends: list[float] = []
    for index in sorted(range(len(spans)), key=lambda i: spans[i][0]):
        left, right = spans[index]
        lane = next((k for k, end in enumerate(lane_ends) if left >= end + gap), len(lane_ends))
        if lane == len(lane_ends):
            lane_ends.append(right)
        lane_ends[lane] = right
        lanes[index] = lane
    return lanes


class MarkerLayer:
    """The marker lines of one plot; its owner calls `relayout` when the plot's range or size changes."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self._plot = plot
        self._lines: list[pg.InfiniteLine] = []
        self._fill = pg.mkBrush(None)  # behind label text, so a curve under a label does not garble it

    def __len__(self) -> int:
        return len(self._lines)

    def add(self, marker: Marker) -> None:
        line = pg.InfiniteLine(pos=marker.step, angle=90, movable=False,
                               pen=pg.mkPen(marker.color, width=1, style=Qt.PenStyle.DotLine), label=marker.text,
                               labelOpts={"color": marker.color, "anchors": [(0, 0), (0, 0)], "fill": self._fill})
        self._plot.addItem(line, ignoreBounds=True)
        self._lines.append(line)
        self.relayout()

    def set_label_background(self, color: str) -> None:
        """The plot's background, a little see-through, behind the labels."""
        background = QColor(color)
        background.setAlpha(LABEL_ALPHA)
        self._fill = pg.mkBrush(background)
        for line in self._lines:
            line.label.fill = self._fill
            line.label.update()

    def clear(self) -> None:
        for line in self._lines:
            self._plot.removeItem(line)
        self._lines.clear()

    def label_rects(self) -> list[tuple[float, float, float, float]]:
        """Where each label is, as (left, top, width, height) in scene pixels."""
        rects = []
        for line in self._lines:
            rect = line.label.sceneBoundingRect()
            rects.append((rect.left(), rect.top(), rect.width(), rect.height()))
        return rects

    def relayout(self) -> None:
        """Put each label beside its line (left of it near the right edge) in a lane of its own width."""
        if not self._lines:
            return
        view = self._plot.getViewBox()
        (x0, x1), width, height = view.viewRange()[0], view.width(), view.height()
        if width <= 0 or height <= 0 or x1 <= x0:
            return
        spans, sizes = [], []
        for line in self._lines:
            box = line.label.boundingRect()
            x = (line.value() - x0) / (x1 - x0) * width
            flip = x + box.width() > width  # near the right edge the label goes left of its line
            line.label.anchors = [(1, 0), (1, 0)] if flip else [(0, 0), (0, 0)]
            spans.append((x - box.width(), x) if flip else (x, x + box.width()))
            sizes.append(box.height())
        row = max(sizes) + 1
        for line, lane in zip(self._lines, assign_lanes(spans)):
            line.label.setPosition(max(0.0, 1.0 - (TOP_PX + lane * row) / height))
