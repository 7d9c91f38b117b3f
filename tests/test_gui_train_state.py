"""What the Train tab shows between and during runs, driven through its buttons with scripted runs
(the real JobWorker and signals, a stand-in trainer): progress, speed, locked settings, the fixed action
bar, the checkpoint button."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint

from engine import events as ev
from gui.train.panel import TrainPanel
from tests.gui_helpers import ScriptedJobs, click, isolated_settings, step_events, stop_and_wait, write_images


@pytest.fixture
def make_panel(qtbot, tmp_path: Path):
    data = write_images(tmp_path / "data", 2)[0].parent

    def make(script, hold: bool = True) -> tuple[TrainPanel, ScriptedJobs]:
        jobs = ScriptedJobs(script, hold)
        panel = TrainPanel(isolated_settings(tmp_path), runs_dir=tmp_path / "runs", job_factory=jobs,
                           speed_probe=None)
        qtbot.addWidget(panel, before_close_func=lambda w: stop_and_wait(qtbot, w))
        panel.resize(1280, 800)
        panel.show()
        panel.data_dir.setText(str(data))
        return panel, jobs

    return make


def test_stop_clears_speed_and_a_new_start_shows_its_own_progress(qtbot, make_panel) -> None:
    panel, jobs = make_panel(lambda config, resume: step_events(1, 5, config.steps))
    panel.form.set_value("steps", 6000)
    click(qtbot, panel.start_button)
    qtbot.waitUntil(lambda: panel.progress.value() == 5)
    assert "steps/s" in panel.speed.text() and "ETA" in panel.speed.text()
    click(qtbot, panel.stop_button)
    qtbot.waitUntil(lambda: not panel.is_running())
    assert panel.speed.text() == ""  # a stopped run has no speed and no ETA

    jobs.script = lambda config, resume: []  # the next run has not reached its first step yet
    panel.form.set_value("steps", 300)
    click(qtbot, panel.start_button)
    assert (panel.progress.value(), panel.progress.maximum()) == (0, 300)
    assert panel.progress.text() == "0 / 300 steps"


def test_settings_are_locked_while_a_run_trains(qtbot, make_panel) -> None:
    panel, _ = make_panel(lambda config, resume: step_events(1, 2, config.steps))
    editors = [panel.data_dir, panel.form.editor("preset"), panel.form.editor("lr_g"), panel.form.editor("steps"),
               panel.form.editor("perceptual_layers")]
    assert all(editor.isEnabled() for editor in editors)
    click(qtbot, panel.start_button)
    assert not any(editor.isEnabled() for editor in editors)
    click(qtbot, panel.stop_button)
    qtbot.waitUntil(lambda: not panel.is_running())
    assert all(editor.isEnabled() for editor in editors)


def test_stop_says_stopping_at_once_and_keeps_saying_it_until_the_end(qtbot, make_panel) -> None:
    panel, _ = make_panel(lambda config, resume: step_events(1, 3, config.steps))
    click(qtbot, panel.start_button)
    qtbot.waitUntil(lambda: panel.progress.value() == 3)
    click(qtbot, panel.stop_button)
    assert panel.status.text().startswith("Stopping")  # before any event loop turn
    assert not panel.stop_button.isEnabled() and not panel.checkpoint_button.isEnabled()
    qtbot.waitUntil(lambda: not panel.is_running())
    assert panel.status.text() == "Stopped at step 3"


def test_action_bar_stays_put_when_warnings_and_errors_appear(qtbot, make_panel) -> None:
    warnings = [ev.TrainWarning(step=0, code=f"w{i}", message=f"warning number {i} " * 6) for i in range(4)]
    panel, _ = make_panel(lambda config, resume: warnings + step_events(1, 2, config.steps))
    buttons = (panel.start_button, panel.stop_button, panel.resume_button, panel.checkpoint_button)

    def where() -> list[QPoint]:
        return [button.mapTo(panel, QPoint(0, 0)) for button in buttons]

    before = where()
    click(qtbot, panel.start_button)
    qtbot.waitUntil(lambda: len(panel.warnings.texts()) == 4 and panel.warnings.isVisible())
    qtbot.wait(50)  # let the layout settle
    assert where() == before
    click(qtbot, panel.stop_button)
    qtbot.waitUntil(lambda: not panel.is_running())
    panel.form.editor("lr_g").setText("fast")
    click(qtbot, panel.start_button)
    assert panel.error.isVisible()
    qtbot.wait(50)
    assert where() == before


def test_save_checkpoint_now_asks_the_running_trainer(qtbot, make_panel) -> None:
    panel, jobs = make_panel(lambda config, resume: step_events(1, 2, config.steps))
    assert not panel.checkpoint_button.isEnabled()
    click(qtbot, panel.start_button)
    qtbot.waitUntil(lambda: panel.progress.value() == 2)
    click(qtbot, panel.checkpoint_button)
    assert jobs.jobs[0].checkpoints_requested == 1
    assert "checkpoint" in panel.status.text()


def test_a_repeated_warning_keeps_one_row_with_a_count(qtbot, make_panel) -> None:
    stuck = [ev.TrainWarning(step=step, code="d-stuck", message="D loss flat") for step in (100, 200)]
    setup = ev.TrainWarning(step=0, code="skipped-file", message="skipped a.png")
    panel, _ = make_panel(lambda config, resume: [setup, setup, *stuck])
    click(qtbot, panel.start_button)
    qtbot.waitUntil(lambda: "2 times" in " ".join(panel.warnings.texts()))
    assert panel.warnings.texts() == ["Step 0: skipped a.png", "Step 200: D loss flat (2 times)"]


def test_automatic_batch_and_patch_read_auto(qtbot, make_panel) -> None:
    panel, _ = make_panel(lambda config, resume: step_events(1, 1, config.steps))
    for name in ("batch_size", "hr_patch"):
        editor = panel.form.editor(name)
        assert editor.value() == 0 and editor.text() == "auto"
        editor.setValue(48)
        assert editor.text() == "48"
