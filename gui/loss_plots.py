"""Live training curves. Events only append to buffers; a timer redraws, one plot per tick at most
~20 ticks a second. Repainting a pyqtgraph plot (axes, text) costs tens of milliseconds in software
rendering, so refreshing all five at once would freeze the window; one at a time keeps stalls short."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QCheckBox, QGraphicsItem, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from engine.events import StepMetrics, Validation
from gui.plot_series import Series
from gui.theme import Colors

REDRAW_MS = 50
PALETTE = ("#4c8dff", "#f0883e", "#3fb950", "#d2a8ff", "#ff7b72", "#79c0ff")
# plot title -> (series key, legend name); keys are StepMetrics.losses names, d_real/d_fake, or validation.
PLOTS: dict[str, tuple[tuple[str, str], ...]] = {
    "Losses": (("d_loss", "D loss"), ("g_loss", "G loss")),
    "Generator loss parts": (("g_adversarial", "adversarial"), ("g_perceptual", "perceptual"), ("g_pixel", "pixel")),
    "Discriminator outputs": (("d_real", "D(real)"), ("d_fake", "D(fake)")),
    "Validation PSNR (dB)": (("psnr", "model"), ("bicubic_psnr", "bicubic")),
    "Validation SSIM": (("ssim", "model"), ("bicubic_ssim", "bicubic")),
}
LOSS_PLOTS = ("Losses", "Generator loss parts")  # the ones the log-axis toggle applies to
SMOOTHED = {key for title in LOSS_PLOTS + ("Discriminator outputs",) for key, _ in PLOTS[title]}
BASELINES = {"bicubic_psnr", "bicubic_ssim"}


def step_axis_end(step: int, total_steps: int) -> int:
    """The step axis grows in doublings, not with every step: an x range that changed on every redraw
    would re-render every axis each time (the slow part of a repaint)."""
    end = 50
    while end < step:
        end *= 2
    return min(end, max(total_steps, step))


class LossPlots(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._series: dict[str, Series] = {}
        self._curves: dict[str, pg.PlotDataItem] = {}
        self._plots: dict[str, pg.PlotItem] = {}
        self._markers: list[tuple[float, str, str]] = []
        self._dirty: set[str] = set()  # plot titles with data not drawn yet
        self._next = 0  # where the round-robin redraw resumes
        self._x_end = 0
        self._marker_lines: dict[str, list[pg.InfiniteLine]] = {title: [] for title in PLOTS}
        self._plot_of: dict[str, str] = {key: title for title, entries in PLOTS.items() for key, _ in entries}
        self.graphics = pg.GraphicsLayoutWidget()
        for index, (title, entries) in enumerate(PLOTS.items()):
            self._add_plot(index, title, entries)
        for column in range(6):
            self.graphics.ci.layout.setColumnStretchFactor(column, 1)
        self.smoothing = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=99, value=60)
        self.smoothing.setFixedWidth(160)
        self.smoothing.valueChanged.connect(self._on_smoothing)
        self.log_y = QCheckBox("Log scale (losses)")
        self.log_y.toggled.connect(self._on_log)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Smoothing"))
        controls.addWidget(self.smoothing)
        controls.addSpacing(16)
        controls.addWidget(self.log_y)
        controls.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.graphics, 1)
        self._timer = QTimer(self, interval=REDRAW_MS)
        self._timer.timeout.connect(self.redraw)
        self._timer.start()

    def _add_plot(self, index: int, title: str, entries: tuple[tuple[str, str], ...]) -> None:
        # Six grid columns: three plots of two columns on the first row, two of three on the second.
        row, col, span = (0, 2 * index, 2) if index < 3 else (1, 3 * (index - 3), 3)
        plot = self.graphics.addPlot(row=row, col=col, colspan=span, title=title)
        plot.showGrid(x=True, y=True, alpha=0.2)
        plot.setDownsampling(auto=True, mode="peak")
        plot.setClipToView(True)
        plot.addLegend(offset=(-8, 8), labelTextSize="8pt")
        plot.getAxis("bottom").setLabel("step")
        plot.getAxis("left").enableAutoSIPrefix(False)
        plot.getAxis("left").setWidth(52)  # a fixed width: changing tick labels never re-lays out the grid
        for name in ("left", "bottom"):
            # Axis text is the slow part of a repaint; cached axes are blitted unless their range moved.
            plot.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self._plots[title] = plot
        for i, (key, name) in enumerate(entries):
            style = Qt.PenStyle.DashLine if key in BASELINES else Qt.PenStyle.SolidLine
            pen = pg.mkPen(PALETTE[i], width=1.6, style=style)
            symbol = "o" if title.startswith("Validation") and key not in BASELINES else None
            self._curves[key] = plot.plot([], [], pen=pen, name=name, symbol=symbol, symbolSize=5,
                                          symbolBrush=PALETTE[i], symbolPen=None)
            smoothing = self.smoothing_factor() if key in SMOOTHED else 0.0
            self._series[key] = Series(smoothing)

    def smoothing_factor(self) -> float:
        slider = getattr(self, "smoothing", None)
        return slider.value() / 100 if slider is not None else 0.6

    def curve(self, key: str) -> pg.PlotDataItem:
        return self._curves[key]

    # ------------------------------------------------------------------ data in
    def _append(self, key: str, step: float, value: float | None) -> None:
        if key in self._series and value is not None and math.isfinite(value):
            self._series[key].append(step, value)
            self._dirty.add(self._plot_of[key])

    def add_metrics(self, metrics: StepMetrics) -> None:
        if metrics.step > self._x_end:
            self._x_end = step_axis_end(metrics.step, metrics.total_steps)
            self._dirty.update(PLOTS)
        for key, value in metrics.losses.items():
            self._append(key, metrics.step, value)
        self._append("d_real", metrics.step, metrics.d_real)
        self._append("d_fake", metrics.step, metrics.d_fake)

    def add_validation(self, validation: Validation) -> None:
        for key in ("psnr", "ssim", "bicubic_psnr", "bicubic_ssim"):
            self._append(key, validation.step, getattr(validation, key))

    def mark(self, step: float, text: str, color: str = "#9aa1ab") -> None:
        """A labelled vertical line on every plot (phase change, resume, rollback)."""
        self._markers.append((step, text, color))
        self._dirty.update(PLOTS)  # drawn plot by plot, like the data

    def _sync_plot(self, title: str) -> None:
        """Bring one plot's step range and marker lines up to date."""
        plot = self._plots[title]
        if self._x_end and plot.getViewBox().viewRange()[0][1] < self._x_end:
            plot.setXRange(0, self._x_end, padding=0.02)
        lines = self._marker_lines[title]
        for step, text, color in self._markers[len(lines):]:
            line = pg.InfiniteLine(pos=step, angle=90, movable=False,
                                   pen=pg.mkPen(color, width=1, style=Qt.PenStyle.DotLine), label=text,
                                   labelOpts={"position": 0.97, "color": color, "anchors": [(0, 0), (0, 0)]})
            plot.addItem(line, ignoreBounds=True)
            lines.append(line)

    def markers(self) -> list[tuple[float, str, str]]:
        return list(self._markers)

    def clear(self) -> None:
        for key in self._series:
            self._series[key] = Series(self.smoothing_factor() if key in SMOOTHED else 0.0)
        for title, lines in self._marker_lines.items():
            for line in lines:
                self._plots[title].removeItem(line)
            lines.clear()
        self._markers.clear()
        self._x_end = 0
        self._dirty.update(PLOTS)
        self.redraw_all()

    # ------------------------------------------------------------------ drawing
    def redraw(self) -> None:
        """Draw the next plot with new data, taking turns so every plot gets its refresh."""
        titles = list(PLOTS)
        for offset in range(len(titles)):
            title = titles[(self._next + offset) % len(titles)]
            if title in self._dirty:
                self._draw(title)
                self._next = (titles.index(title) + 1) % len(titles)
                return

    def redraw_all(self) -> None:
        for title in list(self._dirty):
            self._draw(title)

    def _draw(self, title: str) -> None:
        self._dirty.discard(title)
        self._sync_plot(title)
        for key, _ in PLOTS[title]:
            self._curves[key].setData(*self._series[key].data())

    def _on_smoothing(self, value: int) -> None:
        for key in SMOOTHED:
            self._series[key].set_smoothing(value / 100)
            self._dirty.add(self._plot_of[key])

    def _on_log(self, on: bool) -> None:
        for title in LOSS_PLOTS:
            self._plots[title].setLogMode(y=on)

    def apply_colors(self, colors: Colors) -> None:
        self.graphics.setBackground(colors.base)
        for plot in self._plots.values():
            plot.setTitle(plot.titleLabel.text, color=colors.text, size="10pt")
            for name in ("left", "bottom"):
                axis = plot.getAxis(name)
                axis.setPen(pg.mkPen(colors.border))
                axis.setTextPen(pg.mkPen(colors.muted))
            if plot.legend is not None:
                plot.legend.setLabelTextColor(colors.text)
                plot.legend.setBrush(pg.mkBrush(pg.mkColor(colors.base).darker(102)))
                plot.legend.setPen(pg.mkPen(colors.border))
