"""A/B in the Upscale tab, with real clicks: two results of one image (two models) Ctrl+clicked in the
queue and wiped between with *Compare A/B*; two results of different images are refused in words, and a row
without a result leaves the button off."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage

from gui.upscale.panel import UpscalePanel
from gui.upscale.queue_entry import State
from tests.gui_helpers import write_images
from tests.upscale_helpers import TIMEOUT_MS, click_row, drop, make_panel, tiny_model, wait_idle

CTRL = Qt.KeyboardModifier.ControlModifier
LEFT = Qt.MouseButton.LeftButton


def upscale(qtbot, panel: UpscalePanel, paths: list[Path]) -> None:
    """Drop `paths` and wait for the last one's result."""
    with qtbot.waitSignal(panel.runner.entry_done, timeout=TIMEOUT_MS,
                          check_params_cb=lambda entry: entry.path == paths[-1]):
        drop(panel.drop_zone, paths)
    wait_idle(qtbot, panel)


def rerun_first_row_with(qtbot, panel: UpscalePanel, model: Path) -> None:
    panel.model.add_model_file(model)
    click_row(qtbot, panel, panel.queue.entries[0])
    with qtbot.waitSignal(panel.runner.entry_done, timeout=TIMEOUT_MS):
        qtbot.mouseClick(panel.rerun_button, LEFT)
    wait_idle(qtbot, panel)


def click_ab(qtbot, panel: UpscalePanel) -> None:
    with qtbot.waitSignal(panel.ab_button.toggled, timeout=TIMEOUT_MS):
        qtbot.mouseClick(panel.ab_button, LEFT)


def rgb(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, :image.width() * 3].reshape(image.height(), image.width(), 3).astype(int)


def test_ab_wipes_between_two_models_results_and_ends_with_the_selection(qtbot, tmp_path: Path) -> None:
    panel = make_panel(qtbot, tmp_path, tiny_model(tmp_path / "tiny.safetensors"))
    upscale(qtbot, panel, write_images(tmp_path / "in", 1, size=24))
    rerun_first_row_with(qtbot, panel, tiny_model(tmp_path / "other.safetensors"))
    first, second = panel.queue.entries
    click_row(qtbot, panel, first)
    assert not panel.ab_button.isEnabled()  # one row: nothing to compare it with

    click_row(qtbot, panel, second, CTRL)
    assert panel.ab_button.isEnabled()
    click_ab(qtbot, panel)
    assert panel.ab_button.isChecked() and not panel.smooth.isEnabled()
    assert panel.compare.labels() == ("A: tiny", "B: other")  # same scale: the models name the sides

    qtbot.mouseClick(panel.actual_button, LEFT)
    shot = rgb(panel.compare.grab().toImage())
    left = (panel.compare.width() - 96) // 2, (panel.compare.height() - 96) // 2
    on_screen = shot[left[1]:left[1] + 96, left[0]:left[0] + 96]
    a, b = (np.asarray(entry.result.load_full(), int) for entry in (first, second))
    assert np.abs(a - b).mean() > 5  # the two models' results differ, so the grab tells the sides apart
    rows = slice(60, 90)
    for columns, shown, other in ((slice(5, 35), a, b), (slice(61, 91), b, a)):
        drawn = on_screen[rows, columns]
        assert np.abs(drawn - shown[rows, columns]).mean() < 2 < np.abs(drawn - other[rows, columns]).mean()

    with qtbot.waitSignal(panel.ab_button.toggled, check_params_cb=lambda on: not on):
        click_row(qtbot, panel, second)  # another selection ends the A/B: before/after of that row
    assert not panel.ab_button.isChecked() and panel.smooth.isEnabled()
    assert panel.compare.labels() == ("Before", "After")
    assert panel.compare.result_size() == QSize(96, 96)
    qtbot.mouseClick(panel.actual_button, LEFT)
    right = rgb(panel.compare.grab().toImage())[left[1]:left[1] + 96, left[0]:left[0] + 96][rows, slice(61, 91)]
    assert np.abs(right - b[rows, 61:91]).mean() < 2  # the right side is that row's result again


def test_ab_of_different_images_is_refused_and_different_scales_are_labelled(qtbot, tmp_path: Path) -> None:
    panel = make_panel(qtbot, tmp_path, tiny_model(tmp_path / "tiny.safetensors"))
    upscale(qtbot, panel, write_images(tmp_path / "in", 2, size=24))
    rerun_first_row_with(qtbot, panel, tiny_model(tmp_path / "other-x2.safetensors", scale=2))
    img0, img1, img0_x2 = panel.queue.entries

    click_row(qtbot, panel, img0)
    click_row(qtbot, panel, img1, CTRL)
    click_ab(qtbot, panel)
    assert not panel.ab_button.isChecked() and panel.compare.labels() == ("Before", "After")
    assert panel.message.isVisible() and "img0.png and img1.png are different inputs" in panel.message.text()

    click_row(qtbot, panel, img0)
    click_row(qtbot, panel, img0_x2, CTRL)
    click_ab(qtbot, panel)
    assert panel.ab_button.isChecked() and not panel.message.isVisible()
    assert panel.compare.labels() == ("A: tiny ×4", "B: other-x2 ×2")
    assert panel.compare.result_size() == QSize(48, 48)  # the later row, B, is the right side


def test_ab_needs_both_rows_finished(qtbot, tmp_path: Path) -> None:
    panel = make_panel(qtbot, tmp_path, tiny_model(tmp_path / "tiny.safetensors"))
    [image] = write_images(tmp_path / "in", 1, size=24)
    upscale(qtbot, panel, [image])
    image.write_bytes(b"damaged since")  # the second run of this file fails
    click_row(qtbot, panel, panel.queue.entries[0])
    qtbot.mouseClick(panel.rerun_button, LEFT)
    done, failed = panel.queue.entries
    qtbot.waitUntil(lambda: failed.state is State.FAILED, timeout=TIMEOUT_MS)
    wait_idle(qtbot, panel)

    click_row(qtbot, panel, done)
    click_row(qtbot, panel, failed, CTRL)
    assert len(panel.queue.selected_entries()) == 2 and not panel.ab_button.isEnabled()
    qtbot.mouseClick(panel.ab_button, LEFT)  # a click on the disabled button does nothing
    assert not panel.ab_button.isChecked() and panel.compare.labels() == ("Before", "After")


def test_run_again_selects_the_new_result_with_its_source_and_keeps_ab_on(qtbot, tmp_path: Path) -> None:
    panel = make_panel(qtbot, tmp_path, tiny_model(tmp_path / "tiny.safetensors"))
    upscale(qtbot, panel, write_images(tmp_path / "in", 2, size=24))
    rerun_first_row_with(qtbot, panel, tiny_model(tmp_path / "other.safetensors"))
    img0, img1, img0_other = panel.queue.entries
    assert panel.queue.selected_entries() == [img0, img0_other]  # not added to what was selected before
    click_ab(qtbot, panel)
    assert panel.ab_button.isChecked() and panel.compare.labels() == ("A: tiny", "B: other")

    panel.model.add_model_file(tiny_model(tmp_path / "third.safetensors"))
    with qtbot.waitSignal(panel.runner.entry_done, timeout=TIMEOUT_MS):
        qtbot.mouseClick(panel.rerun_button, LEFT)  # both selected rows are one image: one new row
    wait_idle(qtbot, panel)
    assert len(panel.queue.entries) == 4
    third = panel.queue.entries[-1]
    assert panel.queue.selected_entries() == [img0, third]
    assert panel.ab_button.isChecked() and panel.compare.labels() == ("A: tiny", "B: third")
    assert not panel.smooth.isEnabled()


def test_an_ab_refusal_is_cleared_by_the_next_action(qtbot, tmp_path: Path) -> None:
    panel = make_panel(qtbot, tmp_path, tiny_model(tmp_path / "tiny.safetensors"))
    upscale(qtbot, panel, write_images(tmp_path / "in", 2, size=24))
    img0, img1 = panel.queue.entries

    def refuse() -> None:
        click_row(qtbot, panel, img0)
        click_row(qtbot, panel, img1, CTRL)
        click_ab(qtbot, panel)
        assert panel.message.isVisible() and "different inputs" in panel.message.text()

    refuse()
    click_row(qtbot, panel, img1)  # another selection
    assert not panel.message.isVisible()
    refuse()
    qtbot.mouseClick(panel.fit_button, LEFT)  # any other action
    assert not panel.message.isVisible()
    refuse()
    qtbot.mouseClick(panel.ab_button, LEFT)  # A/B again on the same rows says it again
    assert panel.message.isVisible() and not panel.ab_button.isChecked()
