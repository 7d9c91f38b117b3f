"""Quitting with upscaled results that are done but not saved asks first, with real clicks on the question:
Save all writes them and then closes, Discard closes without writing, Cancel keeps the window and the results."""

from __future__ import annotations

from pathlib import Path

import pytest

from gui.main_window import MainWindow
from tests.gui_helpers import isolated_settings, write_images
from tests.upscale_helpers import TIMEOUT_MS, answer_next_question, drop, tiny_model, wait_idle


def window_with_unsaved_result(qtbot, tmp_path: Path) -> MainWindow:
    settings = isolated_settings(tmp_path)
    settings.setValue("upscale/output_dir", str(tmp_path / "out"))
    window = MainWindow(settings, runs_dir=tmp_path / "runs", speed_probe=None)
    qtbot.addWidget(window)
    window.show()
    window.upscale.model.add_model_file(tiny_model(tmp_path / "tiny.safetensors"))
    [image] = write_images(tmp_path / "in", 1, size=24)
    with qtbot.waitSignal(window.upscale.runner.entry_done, timeout=TIMEOUT_MS):
        drop(window.upscale.drop_zone, [image])
    wait_idle(qtbot, window.upscale)
    assert window.upscale.unsaved_count() == 1
    return window


def saved_files(tmp_path: Path) -> list[str]:
    return sorted(path.name for path in (tmp_path / "out").glob("*")) if (tmp_path / "out").is_dir() else []


@pytest.mark.parametrize("answer", ["Save all", "Discard", "Cancel"])
def test_quit_with_unsaved_results_asks(qtbot, tmp_path: Path, answer: str) -> None:
    window = window_with_unsaved_result(qtbot, tmp_path)
    window.tabs.setCurrentWidget(window.train)
    seen: list[str] = []
    answer_next_question(answer, seen)
    closed = window.close()
    assert seen and "1 upscaled result is done but not saved yet" in seen[0] and str(tmp_path / "out") in seen[0]
    assert window.tabs.currentWidget() is window.upscale  # the question is asked where the results are
    if answer == "Save all":
        assert not closed  # closes once the file is written
        qtbot.waitUntil(lambda: not window.isVisible(), timeout=TIMEOUT_MS)
        assert saved_files(tmp_path) == ["img0_tiny_x4.png"]
    elif answer == "Discard":
        assert closed and not window.isVisible() and saved_files(tmp_path) == []
    else:
        assert not closed and window.isVisible() and saved_files(tmp_path) == []
        assert window.upscale.unsaved_count() == 1
        seen.clear()
        answer_next_question("Discard", seen)  # asked again at the next quit
        assert window.close() and seen


def test_quit_with_every_result_saved_does_not_ask(qtbot, tmp_path: Path) -> None:
    window = window_with_unsaved_result(qtbot, tmp_path)
    window.upscale.save_all_button.click()
    qtbot.waitUntil(lambda: window.upscale.unsaved_count() == 0 and not window.upscale.is_running(),
                    timeout=TIMEOUT_MS)
    assert window.close() and saved_files(tmp_path) == ["img0_tiny_x4.png"]
