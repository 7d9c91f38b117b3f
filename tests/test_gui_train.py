"""The Train tab driven through its real buttons, with the real engine on tiny settings: curves from
the first step, Stop within a second, Resume, Save checkpoint now, warnings once per run."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from engine.training.checkpoint import load_checkpoint
from engine.training.run_folder import CHECKPOINT
from gui.train.panel import TrainPanel
from tests.gui_helpers import click, configure, isolated_settings, stop_and_wait, write_images


@pytest.fixture
def panel(qtbot, tmp_path: Path, monkeypatch) -> TrainPanel:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))  # the bundled VGG, not a cached one
    widget = TrainPanel(isolated_settings(tmp_path), runs_dir=tmp_path / "runs", speed_probe=None)
    qtbot.addWidget(widget, before_close_func=lambda w: stop_and_wait(qtbot, w))
    widget.show()
    return widget


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
    assert not any("perceptual" in text for text in panel.warnings.texts())
    assert "GAN" in panel.status.text()
    assert "GAN" in [m[1] for m in panel.plots.markers()]
    qtbot.waitUntil(lambda: panel.previews.shown_step() is not None, timeout=30_000)

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
    markers = panel.plots.markers()
    assert "resumed" in [m[1] for m in markers]
    assert [m[0] for m in markers if m[1] == "GAN"] == [2]  # where the phase changed, not at the resume step
    assert len(np.unique(x)) == len(x)  # the history is redrawn, not drawn twice
    click(qtbot, panel.stop_button)
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=60_000)

    # a window opened after a restart resumes the same run and redraws its whole curves
    reopened = TrainPanel(isolated_settings(tmp_path), runs_dir=tmp_path / "runs")
    qtbot.addWidget(reopened, before_close_func=lambda w: stop_and_wait(qtbot, w))
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


def test_a_starting_weights_file_spandrel_does_not_know_is_a_message(qtbot, panel: TrainPanel,
                                                                     tmp_path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    save_file({"foo.weight": torch.zeros(2, 2)}, str(tmp_path / "mystery.safetensors"))
    configure(panel, write_images(tmp_path / "data", 2)[0].parent,
              init_generator=str(tmp_path / "mystery.safetensors"))
    click(qtbot, panel.start_button)  # read on the worker that builds the run, not on the GUI thread
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=30_000)
    assert "mystery.safetensors is not a super-resolution model spandrel recognises" in panel.error.text()
    assert panel.status.text() == "Could not start"


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


def test_default_preset_shows_d_and_g_from_step_one_and_stops_within_a_second(qtbot, panel: TrainPanel,
                                                                             tmp_path: Path) -> None:
    configure(panel, write_images(tmp_path / "data", 6)[0].parent, steps=10_000, pretrain_steps=0)
    assert panel.form.value("preset") == "default"
    click(qtbot, panel.start_button)
    qtbot.waitUntil(lambda: len(curve_xy(panel, "d_fake")[0]) >= 3, timeout=90_000)
    for key in ("d_loss", "g_loss", "g_adversarial", "d_real", "d_fake"):
        x, y = curve_xy(panel, key)
        assert x[0] == 1 and np.isfinite(y).all(), key
    with qtbot.waitSignal(panel.busy_changed, timeout=10_000) as stopped:
        started = time.perf_counter()
        click(qtbot, panel.stop_button)
        assert panel.status.text().startswith("Stopping")
    seconds = time.perf_counter() - started
    assert stopped.args == [False] and seconds < 1.0, f"Stop took {seconds:.2f} s"
    assert panel.status.text().startswith("Stopped") and panel.speed.text() == ""


def test_save_checkpoint_now_writes_one_while_the_run_goes_on(qtbot, panel: TrainPanel, tmp_path: Path) -> None:
    configure(panel, write_images(tmp_path / "data", 6)[0].parent, steps=10_000, pretrain_steps=0, val_every=10_000)
    click(qtbot, panel.start_button)
    qtbot.waitUntil(lambda: panel.progress.value() >= 2, timeout=90_000)
    click(qtbot, panel.checkpoint_button)
    qtbot.waitUntil(lambda: panel.status.text().startswith("Checkpoint saved at step"), timeout=30_000)
    saved_at = int(panel.status.text().rsplit(" ", 1)[1])
    assert load_checkpoint(Path(panel.last_run) / CHECKPOINT)["progress"]["step"] == saved_at
    assert panel.is_running()
    qtbot.waitUntil(lambda: panel.progress.value() > saved_at, timeout=30_000)


def test_a_set_up_warning_shows_once_per_run_across_resumes(qtbot, panel: TrainPanel, tmp_path: Path) -> None:
    data = write_images(tmp_path / "data", 6)[0].parent
    (data / "broken.png").write_bytes(b"not an image")
    configure(panel, data, steps=300)
    for attempt in range(2):
        click(qtbot, panel.resume_button if attempt else panel.start_button)
        qtbot.waitUntil(lambda target=3 + 3 * attempt: panel.progress.value() >= target, timeout=90_000)
        click(qtbot, panel.stop_button)
        qtbot.waitUntil(lambda: not panel.is_running(), timeout=60_000)
    skipped = [text for text in panel.warnings.texts() if "broken.png" in text]
    assert len(skipped) == 1 and "times" not in skipped[0]
