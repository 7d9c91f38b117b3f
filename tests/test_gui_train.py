"""The Train tab driven through its real buttons, with the real engine on tiny settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from engine.run_folder import CHECKPOINT
from gui.train_panel import TrainPanel
from tests.gui_helpers import configure, isolated_settings, write_images


@pytest.fixture
def panel(qtbot, tmp_path: Path, monkeypatch) -> TrainPanel:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))  # the bundled VGG, not a cached one
    widget = TrainPanel(isolated_settings(tmp_path), runs_dir=tmp_path / "runs", speed_probe=None)
    qtbot.addWidget(widget, before_close_func=lambda w: finish_run(qtbot, w))
    widget.show()
    return widget


def finish_run(qtbot, panel: TrainPanel) -> None:
    if panel.is_running():
        panel.stop()
        qtbot.waitUntil(lambda: not panel.is_running(), timeout=60_000)


def click(qtbot, button) -> None:
    assert button.isEnabled(), f"{button.text()} is disabled"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def curve_xy(panel: TrainPanel, key: str) -> tuple[np.ndarray, np.ndarray]:
    panel.plots.redraw_all()
    x, y = panel.plots.curve(key).getData()
    return (np.asarray(x), np.asarray(y)) if x is not None else (np.empty(0), np.empty(0))


def test_train_plot_stop_resume_with_real_engine(qtbot, panel: TrainPanel, tmp_path: Path) -> None:
    configure(panel, write_images(tmp_path / "data", 6)[0].parent, steps=300)
    assert not panel.resume_button.isEnabled()
    click(qtbot, panel.start_button)
    assert not panel.start_button.isEnabled() and panel.stop_button.isEnabled()
    assert not panel.resume_button.isEnabled()

    qtbot.waitUntil(lambda: len(curve_xy(panel, "d_loss")[0]) >= 3, timeout=90_000)
    for key in ("d_loss", "g_loss", "g_pixel"):
        x, y = curve_xy(panel, key)
        assert len(y) and np.isfinite(y).all(), key
    x, y = curve_xy(panel, "g_perceptual")
    assert len(y) and (y > 0).all()  # the bundled VGG: the perceptual loss is on, with no warning
    assert not any("perceptual" in text for text in panel.warning_texts())
    assert "GAN" in panel.status.text()
    assert "GAN" in [m[1] for m in panel.plots.markers()]
    qtbot.waitUntil(lambda: panel.samples.shown_step() is not None, timeout=30_000)

    click(qtbot, panel.stop_button)
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=60_000)
    assert (Path(panel.last_run) / CHECKPOINT).is_file()
    assert panel.start_button.isEnabled() and panel.resume_button.isEnabled()
    assert not panel.stop_button.isEnabled()
    stopped_at = panel.progress.value()
    points_before = len(curve_xy(panel, "d_loss")[0])

    click(qtbot, panel.resume_button)
    qtbot.waitUntil(lambda: len(curve_xy(panel, "d_loss")[0]) >= points_before + 2, timeout=90_000)
    x, _ = curve_xy(panel, "d_loss")
    assert x[points_before] > stopped_at
    assert "resumed" in [m[1] for m in panel.plots.markers()]
    assert len(np.unique(x)) == len(x)  # the history is redrawn, not drawn twice
    click(qtbot, panel.stop_button)
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=60_000)

    # a window opened after a restart resumes the same run and redraws its whole curves
    reopened = TrainPanel(isolated_settings(tmp_path), runs_dir=tmp_path / "runs")
    qtbot.addWidget(reopened, before_close_func=lambda w: finish_run(qtbot, w))
    stopped_again = panel.progress.value()
    click(qtbot, reopened.resume_button)
    qtbot.waitUntil(lambda: curve_xy(reopened, "d_loss")[0].size and
                    curve_xy(reopened, "d_loss")[0][-1] > stopped_again, timeout=90_000)
    x, y = curve_xy(reopened, "g_loss")
    assert x[0] == 1 and np.isfinite(y).all()  # from the start of the run, not just since the restart
    assert "GAN" in [m[1] for m in reopened.plots.markers()]
    click(qtbot, reopened.stop_button)
    qtbot.waitUntil(lambda: not reopened.is_running(), timeout=60_000)


def test_missing_data_folder_is_a_message_not_a_run(qtbot, panel: TrainPanel, tmp_path: Path) -> None:
    configure(panel, tmp_path / "nowhere")
    click(qtbot, panel.start_button)
    assert not panel.is_running()
    assert panel.error.isVisible() and "does not exist" in panel.error.text()


def test_unparseable_setting_names_the_field(qtbot, panel: TrainPanel, tmp_path: Path) -> None:
    configure(panel, write_images(tmp_path / "data", 2)[0].parent)
    panel.form.editor("lr_g").setText("fast")
    click(qtbot, panel.start_button)
    assert not panel.is_running()
    assert "Generator LR" in panel.error.text()


def test_out_of_range_setting_shows_config_error(qtbot, panel: TrainPanel, tmp_path: Path) -> None:
    configure(panel, write_images(tmp_path / "data", 2)[0].parent, steps=5, pretrain_steps=9)
    click(qtbot, panel.start_button)
    assert not panel.is_running()
    assert "pretrain_steps" in panel.error.text()


def test_settings_persist_between_windows(qtbot, tmp_path: Path) -> None:
    data = write_images(tmp_path / "data", 2)[0].parent
    first = TrainPanel(isolated_settings(tmp_path), runs_dir=tmp_path / "runs")
    qtbot.addWidget(first)
    configure(first, data, steps=7, pretrain_steps=3)
    first.form.editor("lr_g").setText("0.0003")
    first.save_settings()
    second = TrainPanel(isolated_settings(tmp_path), runs_dir=tmp_path / "runs")
    qtbot.addWidget(second)
    assert second.form.value("steps") == 7 and second.form.value("lr_g") == pytest.approx(3e-4)
    assert second.data_dir.text() == str(data)
