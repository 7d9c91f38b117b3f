"""The training plots: a fresh view per run, the Follow toggle, legends and markers that never cover
data or each other, readable log ticks, raw + smoothed curves, persisted view settings."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from engine.events import Validation
from gui.train.value_axis import MIN_GAP_PX, log_ticks
from gui.train.loss_plots import PLOTS, LossPlots
from gui.train.panel import TrainPanel
from tests.gui_helpers import ScriptedJobs, isolated_settings, step_events, write_images


@pytest.fixture
def plots(qtbot) -> LossPlots:
    widget = LossPlots()
    qtbot.addWidget(widget)
    widget.resize(900, 500)
    widget.show()
    return widget


def x_range(plots: LossPlots, title: str = "Losses") -> list[float]:
    return plots.plot(title).getViewBox().viewRange()[0]


def feed(plots: LossPlots, first: int, last: int, total: int = 6000) -> None:
    for metrics in step_events(first, last, total):
        plots.add_metrics(metrics)
    plots.redraw_all()


def wheel_on(qtbot, plots: LossPlots, title: str) -> None:
    """A real mouse-wheel turn over a plot's data area."""
    view = plots.plot(title).getViewBox()
    scene_point = view.sceneBoundingRect().center()
    point = plots.graphics.mapFromScene(scene_point)
    target = plots.graphics.viewport()
    event = QWheelEvent(QPointF(point), QPointF(target.mapToGlobal(point)), QPoint(), QPoint(0, 120),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(target, event)


def test_each_run_starts_with_a_fresh_view(qtbot, tmp_path: Path) -> None:
    jobs = ScriptedJobs(lambda config, resume: step_events(1, 400, config.steps), hold=False)
    panel = TrainPanel(isolated_settings(tmp_path), runs_dir=tmp_path / "runs", job_factory=jobs, speed_probe=None)
    qtbot.addWidget(panel)
    panel.show()
    panel.data_dir.setText(str(write_images(tmp_path / "data", 2)[0].parent))
    panel.form.set_value("steps", 6000)
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.is_running())
    panel.plots.redraw_all()
    assert x_range(panel.plots)[1] > 400

    jobs.script = lambda config, resume: step_events(1, 5, config.steps)
    jobs.hold = False
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.is_running())
    panel.plots.redraw_all()
    for title in PLOTS:
        assert x_range(panel.plots, title)[1] < 60, title  # not squashed into the old run's 0..400


def test_zoom_turns_follow_off_and_one_click_turns_it_back_on(qtbot, plots: LossPlots) -> None:
    feed(plots, 1, 40)
    assert plots.follow.isChecked() and plots.follow.isVisible()
    wheel_on(qtbot, plots, "Losses")
    assert not plots.follow.isChecked()
    zoomed = x_range(plots)
    feed(plots, 41, 300)
    assert x_range(plots) == zoomed  # the person's zoom is kept while they look
    qtbot.mouseClick(plots.follow, Qt.MouseButton.LeftButton)
    assert plots.follow.isChecked()
    assert x_range(plots)[1] >= 300
    y_low, y_high = plots.plot("Losses").getViewBox().viewRange()[1]
    assert y_low <= 0.69 <= y_high  # the y range follows too


def test_legends_sit_outside_the_data_area(qtbot, plots: LossPlots) -> None:
    feed(plots, 1, 50)
    for width, height in ((620, 330), (1300, 560)):
        plots.resize(width, height)
        qtbot.wait(20)
        for title in PLOTS:
            legend, view = plots.legend(title).sceneBoundingRect(), plots.plot(title).getViewBox().sceneBoundingRect()
            assert not legend.intersects(view), (title, width)
            cell = plots.plot(title).sceneBoundingRect()
            assert legend.left() >= cell.left() - 1 and legend.right() <= cell.right() + 1, (title, width)


def test_marker_labels_never_overlap(qtbot, plots: LossPlots) -> None:
    feed(plots, 1, 3000)
    plots.mark(2400, "Pixel pretraining")
    plots.mark(2405, "resumed")
    plots.mark(2410, "rollback (g_loss)")
    plots.mark(2990, "GAN")  # near the right edge: drawn to the left of its line
    plots.redraw_all()
    qtbot.wait(20)  # item geometry in the scene is brought up to date when the view paints
    for title in PLOTS:
        rects = plots.marker_layer(title).label_rects()
        assert len(rects) == 4
        for (x1, y1, w1, h1), (x2, y2, w2, h2) in itertools.combinations(rects, 2):
            assert x1 + w1 <= x2 or x2 + w2 <= x1 or y1 + h1 <= y2 or y2 + h2 <= y1, title
        view = plots.plot(title).getViewBox().sceneBoundingRect()
        assert all(view.left() - 1 <= x and x + w <= view.right() + 1 for x, _, w, _ in rects), title


@pytest.mark.parametrize("low, high, size", [(0.5, 0.9, 100), (0.62, 0.75, 160), (0.2, 3.0, 150), (0.05, 5.0, 120),
                                             (1e-6, 100.0, 100), (0.0031, 0.0042, 90)])
def test_log_axis_labels_are_spaced_and_distinct(low: float, high: float, size: int) -> None:
    ticks = log_ticks(math.log10(low), math.log10(high), size)
    labels = [f"{10 ** t:.3g}" for t in ticks]
    assert len(ticks) >= 2 and len(set(labels)) == len(labels), labels
    px_per_unit = size / (math.log10(high) - math.log10(low))
    assert min(np.diff(ticks)) * px_per_unit >= MIN_GAP_PX - 1e-6, labels


def test_log_scale_plot_uses_the_readable_ticks(qtbot, plots: LossPlots) -> None:
    qtbot.mouseClick(plots.log_y, Qt.MouseButton.LeftButton)
    feed(plots, 1, 100)
    axis = plots.plot("Generator loss parts").getAxis("left")
    low, high = plots.plot("Generator loss parts").getViewBox().viewRange()[1]
    levels = axis.tickValues(low, high, axis.size().height())
    strings = [s for spacing, values in levels for s in axis.tickStrings(values, 1.0, spacing)]
    assert len(strings) >= 2 and len(set(strings)) == len(strings)


def test_raw_curve_behind_the_smoothed_one_and_the_smoothing_value(qtbot, plots: LossPlots) -> None:
    for metrics in step_events(1, 20, 100, d_loss=0.5):
        plots.add_metrics(metrics.__class__(**{**metrics.__dict__, "losses": {
            **metrics.losses, "d_loss": 0.5 + (0.2 if metrics.step % 2 else -0.2)}}))
    plots.redraw_all()
    _, raw = plots.raw_curve("d_loss").getData()
    _, smooth = plots.curve("d_loss").getData()
    assert set(np.round(raw, 6)) == {0.3, 0.7}
    assert np.ptp(smooth[5:]) < np.ptp(raw[5:])  # smoothed is calmer than raw
    assert plots.smoothing_value.text() == "0.60"
    plots.smoothing.setValue(90)
    assert plots.smoothing_value.text() == "0.90"


def test_smoothing_and_log_scale_persist(qtbot, tmp_path: Path) -> None:
    first = LossPlots(isolated_settings(tmp_path))
    qtbot.addWidget(first)
    first.show()
    first.smoothing.setValue(85)
    qtbot.mouseClick(first.log_y, Qt.MouseButton.LeftButton)
    second = LossPlots(isolated_settings(tmp_path))
    qtbot.addWidget(second)
    assert second.smoothing.value() == 85 and second.smoothing_value.text() == "0.85"
    assert second.log_y.isChecked() and second.plot("Losses").getAxis("left").logMode


def test_linear_axis_labels_keep_apart_in_a_short_plot(qtbot, plots: LossPlots) -> None:
    plots.resize(620, 300)
    for step, psnr in ((1, 31.6), (20, 31.4), (40, 31.45), (60, 31.4)):
        plots.add_validation(Validation(step=step, psnr=psnr, ssim=0.85, bicubic_psnr=29.9, bicubic_ssim=0.81,
                                        is_best=False))
    plots.redraw_all()
    qtbot.wait(20)
    axis, view = plots.plot("Validation PSNR (dB)").getAxis("left"), plots.plot("Validation PSNR (dB)").getViewBox()
    low, high = view.viewRange()[1]
    size = view.height()
    [(spacing, values)] = axis.tickValues(low, high, size)
    assert len(values) >= 2 and spacing * size / (high - low) >= MIN_GAP_PX
