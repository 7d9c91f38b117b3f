"""Live training curves, TensorBoard-style: a faint raw curve behind the smoothed one, legends above
the data, a "Follow" view that keeps the newest step in sight until the person zooms or pans.

Events only append to buffers; a timer redraws, one plot per tick at most ~20 ticks a second.
Repainting a pyqtgraph plot (axes, text) costs tens of milliseconds in software rendering, so
refreshing all five at once would freeze the window; one at a time keeps stalls short.
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSettings, Qt, QTimer
from PySide6.QtGui import QResizeEvent
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QCheckBox, QGraphicsItem, QHBoxLayout, QLabel, QSlider, QToolButton, QVBoxLayout, QWidget

from engine.events import StepMetrics, Validation
from gui.train.value_axis import ReadableAxis
from gui.train.plot_header import PLOT_ROW, PlotHeader
from gui.train.plot_markers import Marker, MarkerLayer
from gui.train.plot_series import Series
from gui.common.theme import Colors

REDRAW_MS = 50
RAW_ALPHA = 70  # of 255: the unsmoothed curve behind the smoothed one
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
GRID_COLUMNS = 6  # three plots of two columns on the first row, two of three on the second
FIRST_X_END = 50
CELL_MARGIN_PX = 20  # a plot cell's margins and the grid's spacing
SETTING_SMOOTHING, SETTING_LOG = "plots/smoothing", "plots/log_y"


def step_axis_end(step: int, total_steps: int) -> int:
    """The step axis grows in doublings, not with every step: an x range that changed on every redraw
    would re-render every axis each time (the slow part of a repaint)."""
    end = FIRST_X_END
    while end < step:
        end *= 2
    return min(end, max(total_steps, step))


class LossPlots(QWidget):
    def __init__(self, settings: QSettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._series: dict[str, Series] = {}
        self._curves: dict[str, pg.PlotDataItem] = {}
        self._raw: dict[str, pg.PlotDataItem] = {}
        self._plots: dict[str, pg.PlotItem] = {}
        self._headers: dict[str, PlotHeader] = {}
        self._layers: dict[str, MarkerLayer] = {}
        self._markers: list[Marker] = []
        self._dirty: set[str] = set()  # plot titles with data not drawn yet
        self._next = 0  # where the round-robin redraw resumes
        self._x_end = 0
        self._shown_end: dict[str, int] = {}  # the step range each plot shows while following
        self._plot_of = {key: title for title, entries in PLOTS.items() for key, _ in entries}
        self._build_controls()
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setMinimumSize(300, 220)
        for index, (title, entries) in enumerate(PLOTS.items()):
            self._add_plot(index, title, entries)
        for column in range(GRID_COLUMNS):
            self.graphics.ci.layout.setColumnStretchFactor(column, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._controls)
        layout.addWidget(self.graphics, 1)
        self._on_log(self.log_y.isChecked())
        self._timer = QTimer(self, interval=REDRAW_MS)
        self._timer.timeout.connect(self.redraw)
        self._timer.start()

    def _build_controls(self) -> None:
        stored = self._settings.value(SETTING_SMOOTHING, 60, type=int) if self._settings else 60
        self.smoothing = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=99, value=min(99, max(0, stored)))
        self.smoothing.setFixedWidth(140)
        self.smoothing.setToolTip("Exponential moving average of the loss curves; the raw values stay faint behind")
        self.smoothing.valueChanged.connect(self._on_smoothing)
        self.smoothing_value = QLabel()
        self.smoothing_value.setMinimumWidth(self.smoothing_value.fontMetrics().horizontalAdvance("0.00 "))
        self.log_y = QCheckBox("Log scale (losses)")
        self.log_y.setChecked(bool(self._settings.value(SETTING_LOG, False, type=bool)) if self._settings else False)
        self.log_y.toggled.connect(self._on_log)
        self.follow = QToolButton(text="Follow", checkable=True, checked=True)
        self.follow.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.follow.setToolTip("Keep the newest steps in view; zooming or panning a plot turns this off")
        self.follow.toggled.connect(self._on_follow)
        self._controls = QHBoxLayout()
        for widget in (QLabel("Smoothing"), self.smoothing, self.smoothing_value):
            self._controls.addWidget(widget)
        self._controls.addSpacing(12)
        self._controls.addWidget(self.log_y)
        self._controls.addStretch(1)
        self._controls.addWidget(self.follow)
        self._show_smoothing_value()

    def _add_plot(self, index: int, title: str, entries: tuple[tuple[str, str], ...]) -> None:
        row, col, span = (0, 2 * index, 2) if index < 3 else (1, 3 * (index - 3), 3)
        cell = self.graphics.ci.addLayout(row=row, col=col, colspan=span)
        cell.setContentsMargins(2, 2, 2, 2)
        cell.setPreferredWidth(0)  # the grid's columns share the width evenly, whatever a legend's length
        header = self._headers[title] = PlotHeader(cell, title, len(entries))
        plot = cell.addPlot(row=PLOT_ROW, col=0, colspan=2, axisItems={"left": ReadableAxis("left")})
        cell.layout.setRowStretchFactor(PLOT_ROW, 100)
        plot.showGrid(x=True, y=True, alpha=0.2)
        plot.setDownsampling(auto=True, mode="peak")
        plot.setClipToView(True)
        plot.getAxis("left").enableAutoSIPrefix(False)
        plot.getAxis("left").setWidth(52)  # a fixed width: changing tick labels never re-lays out the grid
        for name in ("left", "bottom"):
            # Axis text is the slow part of a repaint; cached axes are blitted unless their range moved.
            plot.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        # Slots of this widget (not lambdas or plain objects): Qt drops them with it when a window closes.
        plot.getViewBox().sigRangeChangedManually.connect(self._on_manual_range)
        plot.getViewBox().sigXRangeChanged.connect(self._relayout_markers)
        plot.getViewBox().sigResized.connect(self._relayout_markers)
        plot.setXRange(0, FIRST_X_END, padding=0.02)
        self._plots[title], self._layers[title] = plot, MarkerLayer(plot)
        for i, (key, name) in enumerate(entries):
            if key in SMOOTHED:
                faint = QColor(PALETTE[i])
                faint.setAlpha(RAW_ALPHA)
                self._raw[key] = plot.plot([], [], pen=pg.mkPen(faint, width=1))
            style = Qt.PenStyle.DashLine if key in BASELINES else Qt.PenStyle.SolidLine
            symbol = "o" if title.startswith("Validation") and key not in BASELINES else None
            self._curves[key] = plot.plot([], [], pen=pg.mkPen(PALETTE[i], width=1.6, style=style), symbol=symbol,
                                          symbolSize=5, symbolBrush=PALETTE[i], symbolPen=None)
            header.legend.addItem(self._curves[key], name)
            self._series[key] = Series(self.smoothing_factor() if key in SMOOTHED else 0.0)

    def smoothing_factor(self) -> float:
        return self.smoothing.value() / 100

    def curve(self, key: str) -> pg.PlotDataItem:
        return self._curves[key]

    def raw_curve(self, key: str) -> pg.PlotDataItem:
        return self._raw[key]

    def plot(self, title: str) -> pg.PlotItem:
        return self._plots[title]

    def legend(self, title: str) -> pg.LegendItem:
        return self._headers[title].legend

    def marker_layer(self, title: str) -> MarkerLayer:
        return self._layers[title]

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
        self._markers.append(Marker(step, text, color))
        self._dirty.update(PLOTS)  # drawn plot by plot, like the data

    def markers(self) -> list[tuple[float, str, str]]:
        return [(marker.step, marker.text, marker.color) for marker in self._markers]

    def clear(self) -> None:
        """Empty curves, no markers and a fresh view that follows the new data."""
        for key in self._series:
            self._series[key] = Series(self.smoothing_factor() if key in SMOOTHED else 0.0)
        for layer in self._layers.values():
            layer.clear()
        self._markers.clear()
        self._x_end = 0
        self._shown_end.clear()
        self.follow.setChecked(True)
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
        for key, _ in PLOTS[title]:
            if key in self._raw:
                self._raw[key].setData(*self._series[key].data(smoothed=False))
            self._curves[key].setData(*self._series[key].data())
        self._sync_view(title)
        layer = self._layers[title]
        for marker in self._markers[len(layer):]:
            layer.add(marker)

    def _sync_view(self, title: str) -> None:
        """While following: the steps so far (growing in doublings) and the y range of what they show."""
        if not self.follow.isChecked():
            return
        end = self._x_end or FIRST_X_END
        if self._shown_end.get(title) == end:
            return
        self._shown_end[title] = end
        plot = self._plots[title]
        plot.setXRange(0, end, padding=0.02)
        plot.getViewBox().setAutoVisible(y=True)
        plot.enableAutoRange(axis="y")

    def _on_follow(self, on: bool) -> None:
        if on:
            self._shown_end.clear()
            self._dirty.update(PLOTS)
            self.redraw_all()

    def _on_smoothing(self, value: int) -> None:
        for key in SMOOTHED:
            self._series[key].set_smoothing(value / 100)
            self._dirty.add(self._plot_of[key])
        self._show_smoothing_value()
        self._remember(SETTING_SMOOTHING, value)

    def _show_smoothing_value(self) -> None:
        self.smoothing_value.setText(f"{self.smoothing_factor():.2f}")

    def _on_log(self, on: bool) -> None:
        for title in LOSS_PLOTS:
            self._plots[title].setLogMode(y=on)
        self._remember(SETTING_LOG, on)

    def _remember(self, key: str, value: object) -> None:
        if self._settings is not None:
            self._settings.setValue(key, value)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        """Legends wrap where their plot got narrow, so the grid never grows wider than its view (plots cut at
        the right); the view's grid is re-fitted once the layout has taken the legends' new sizes."""
        super().resizeEvent(event)
        if self._fit_legends(self.graphics.width()):
            QTimer.singleShot(0, self._fill_view)

    def _on_manual_range(self) -> None:
        self.follow.setChecked(False)

    def _relayout_markers(self) -> None:
        for layer in self._layers.values():
            layer.relayout()

    def _fill_view(self) -> None:
        self.graphics.setRange(QRectF(0, 0, self.graphics.width(), self.graphics.height()), padding=0)

    def _fit_legends(self, view_width: int) -> bool:
        """Whether any plot's legend moved or wrapped differently."""
        changed = False
        for index, header in enumerate(self._headers.values()):
            span = 2 if index < 3 else 3
            changed = header.fit(view_width * span / GRID_COLUMNS - CELL_MARGIN_PX) or changed
        return changed

    def apply_colors(self, colors: Colors) -> None:
        self.graphics.setBackground(colors.base)
        for title, plot in self._plots.items():
            self._headers[title].set_color(colors.text)
            self._layers[title].set_label_background(colors.base)
            for name in ("left", "bottom"):
                axis = plot.getAxis(name)
                axis.setPen(pg.mkPen(colors.border))
                axis.setTextPen(pg.mkPen(colors.muted))
