"""Live training curves. Events append to buffers; a timer redraws at most ~20 times a second, so
a fast trainer never floods the GUI thread with repaints."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

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


class LossPlots(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._series: dict[str, Series] = {}
        self._curves: dict[str, pg.PlotDataItem] = {}
        self._plots: dict[str, pg.PlotItem] = {}
        self._markers: list[tuple[float, str, str]] = []
        self._dirty = False
        self.graphics = pg.GraphicsLayoutWidget()
        for index, (title, entries) in enumerate(PLOTS.items()):
            self._add_plot(index, title, entries)
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
        row, col = divmod(index, 3)
        plot = self.graphics.addPlot(row=row, col=col, title=title)
        plot.showGrid(x=True, y=True, alpha=0.2)
        plot.setDownsampling(auto=True, mode="peak")
        plot.setClipToView(True)
        plot.addLegend(offset=(-8, 8), labelTextSize="8pt")
        plot.getAxis("bottom").setLabel("step")
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
            self._dirty = True

    def add_metrics(self, metrics: StepMetrics) -> None:
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
        for plot in self._plots.values():
            self._add_marker(plot, step, text, color)

    @staticmethod
    def _add_marker(plot: pg.PlotItem, step: float, text: str, color: str) -> None:
        line = pg.InfiniteLine(pos=step, angle=90, movable=False,
                               pen=pg.mkPen(color, width=1, style=Qt.PenStyle.DotLine), label=text,
                               labelOpts={"position": 0.92, "color": color, "anchors": [(0, 0.5), (0, 0.5)],
                                          "rotateAxis": (1, 0)})
        plot.addItem(line, ignoreBounds=True)

    def markers(self) -> list[tuple[float, str, str]]:
        return list(self._markers)

    def clear(self) -> None:
        for key in self._series:
            self._series[key] = Series(self.smoothing_factor() if key in SMOOTHED else 0.0)
        for plot in self._plots.values():
            for item in [i for i in plot.items if isinstance(i, pg.InfiniteLine)]:
                plot.removeItem(item)
        self._markers.clear()
        self._dirty = True
        self.redraw()

    # ------------------------------------------------------------------ drawing
    def redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        for key, series in self._series.items():
            self._curves[key].setData(*series.data())

    def _on_smoothing(self, value: int) -> None:
        for key in SMOOTHED:
            self._series[key].set_smoothing(value / 100)
        self._dirty = True

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
