"""The Upscale tab with the real upscaler and tiny exported models: drops, bad files, the queue rows,
re-running with another model, pasting paths, choosing a broken model, output sizes, model descriptions
and the settings that persist."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QGuiApplication, QImage, QWheelEvent
from PySide6.QtWidgets import QApplication, QFileDialog

from engine.models import sources
from engine.upscaling.ncnn_backend import vulkan_devices
from gui.upscale import model_picker
from gui.upscale.queue_entry import State
from gui.upscale.panel import UpscalePanel
from tests.gui_helpers import isolated_settings, write_images
from tests.upscale_helpers import TIMEOUT_MS, click_row, drop, make_panel, pick_in_popup, tiny_model, wait_idle


@pytest.fixture
def panel(qtbot, tmp_path: Path) -> UpscalePanel:
    return make_panel(qtbot, tmp_path, tiny_model(tmp_path / "tiny.safetensors"))


def test_drop_upscales_into_the_store_and_bad_file_fails_in_plain_words(qtbot, panel: UpscalePanel,
                                                                          tmp_path: Path) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"this is not a png")
    good = write_images(tmp_path / "in", 1, size=24)[0]
    progress: list[float] = []
    panel.runner.entry_changed.connect(lambda e: progress.append(e.progress) if e.state is State.RUNNING else None)
    drop(panel.drop_zone, [bad, good])
    wait_idle(qtbot, panel)
    bad_entry, good_entry = panel.queue.entry_for(bad), panel.queue.entry_for(good)
    assert bad_entry.state is State.FAILED and "Pillow" not in bad_entry.message
    assert bad_entry.message in panel.queue.row_widget(bad_entry).status.text()
    assert good_entry.state is State.DONE and panel.queue.current_entry() is good_entry  # the new result is shown
    assert panel.compare.result_size().width() == 96
    assert good_entry.result.full.parent == panel.store.folder and good_entry.result.load_full().shape == (96, 96, 3)
    row = panel.queue.row_widget(good_entry)
    assert "24×24 → 96×96 · tiny · ×4" == row.details.text()
    assert row.thumb.pixmap() is not None and not row.thumb.pixmap().isNull()
    assert row.time.text().endswith(" s") and not row.progress.isVisible()
    assert progress and max(progress) > 0  # the row's bar moved while it ran


def test_images_dropped_during_a_batch_run_in_the_next(qtbot, panel: UpscalePanel, tmp_path: Path) -> None:
    first, second = write_images(tmp_path / "in", 2, size=40)
    drop(panel.drop_zone, [first])
    assert panel.is_running()
    drop(panel.drop_zone, [second])
    assert panel.queue.entry_for(second).state is State.QUEUED
    wait_idle(qtbot, panel)
    assert [e.state for e in panel.queue.entries] == [State.DONE, State.DONE]


def test_cancel_stops_the_batch(qtbot, panel: UpscalePanel, tmp_path: Path) -> None:
    drop(panel.drop_zone, write_images(tmp_path / "in", 3, size=48))
    qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, panel)
    states = [entry.state for entry in panel.queue.entries]
    assert states[-1] is State.CANCELLED and set(states) <= {State.DONE, State.CANCELLED}
    assert panel.queue.row_widget(panel.queue.entries[-1]).status.text() == "Cancelled"


def test_each_new_result_is_shown_unless_a_row_was_picked_meanwhile(qtbot, panel: UpscalePanel,
                                                                    tmp_path: Path) -> None:
    first, second, third, fourth = write_images(tmp_path / "in", 4, size=16)
    for image in (first, second):
        drop(panel.drop_zone, [image])
        wait_idle(qtbot, panel)
        assert panel.queue.current_entry() is panel.queue.entry_for(image)
    drop(panel.drop_zone, [third, fourth])
    click_row(qtbot, panel, panel.queue.entry_for(first))  # the person looks at an earlier result
    wait_idle(qtbot, panel)
    assert panel.queue.current_entry() is panel.queue.entry_for(first)


def test_selecting_another_row_keeps_the_zoom(qtbot, panel: UpscalePanel, tmp_path: Path) -> None:
    first, second = write_images(tmp_path / "in", 2, size=40)
    drop(panel.drop_zone, [first, second])
    wait_idle(qtbot, panel)
    view = panel.compare
    wheel = QWheelEvent(QPointF(100, 100), QPointF(100, 100), QPoint(), QPoint(0, 360), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view, wheel)
    zoom = view.zoom()
    click_row(qtbot, panel, panel.queue.entry_for(first))
    assert panel.queue.current_entry() is panel.queue.entry_for(first)
    assert view.zoom() == zoom


def test_rerun_selected_rows_with_another_model_and_tell_results_apart(qtbot, panel: UpscalePanel,
                                                                        tmp_path: Path) -> None:
    image = write_images(tmp_path / "in", 1, size=20)[0]
    drop(panel.drop_zone, [image])
    wait_idle(qtbot, panel)
    panel.model.add_model_file(tiny_model(tmp_path / "other-x2.safetensors", scale=2))
    click_row(qtbot, panel, panel.queue.entries[0])
    qtbot.mouseClick(panel.rerun_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, panel)
    first, second = panel.queue.entries
    assert (first.path, first.out_size, second.out_size) == (second.path, (80, 80), (40, 40))
    details = [panel.queue.row_widget(e).details.text() for e in (first, second)]
    assert details == ["20×20 → 80×80 · tiny · ×4", "20×20 → 40×40 · other-x2 · ×2"]


def test_pasted_plain_text_path_is_queued(qtbot, panel: UpscalePanel, tmp_path: Path) -> None:
    image = write_images(tmp_path / "in", 1, size=16)[0]
    QGuiApplication.clipboard().setText(f"'{image}'\n")
    qtbot.keyClick(panel.queue, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    wait_idle(qtbot, panel)
    assert [(e.path, e.state) for e in panel.queue.entries] == [(image, State.DONE)]


def test_paste_image_data(qtbot, panel: UpscalePanel) -> None:
    image = QImage(20, 12, QImage.Format.Format_RGB888)
    image.fill(Qt.GlobalColor.blue)
    QGuiApplication.clipboard().setImage(image)
    qtbot.keyClick(panel.queue, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    wait_idle(qtbot, panel)
    (entry,) = panel.queue.entries
    assert entry.state is State.DONE and entry.out_size == (80, 48)


def test_broken_model_file_is_refused_when_chosen(qtbot, panel: UpscalePanel, tmp_path: Path, monkeypatch) -> None:
    fake = tmp_path / "fake.safetensors"
    fake.write_bytes(b"not a model at all")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(fake), ""))
    with qtbot.waitSignal(panel.model.checking, check_params_cb=lambda busy: not busy, timeout=TIMEOUT_MS):
        pick_in_popup(qtbot, panel.model, "Open model file…")
    assert panel.model.currentText() == "File: tiny.safetensors"  # the previous model stays
    assert panel.model.findText("File: fake.safetensors") < 0
    assert panel.message.isVisible() and "fake.safetensors" in panel.message.text()

    good = tiny_model(tmp_path / "good-x2.safetensors", scale=2)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(good), ""))
    with qtbot.waitSignal(panel.model.checking, check_params_cb=lambda busy: not busy, timeout=TIMEOUT_MS):
        pick_in_popup(qtbot, panel.model, "Open model file…")
    assert panel.model.currentText() == "File: good-x2.safetensors"
    assert "×2" in panel.settings.description.text()


def test_model_failing_at_use_is_a_message_on_its_rows(qtbot, panel: UpscalePanel, tmp_path: Path) -> None:
    broken = tmp_path / "was-fine.safetensors"
    tiny_model(broken)
    panel.model.add_model_file(broken)
    broken.write_bytes(b"damaged since")
    drop(panel.drop_zone, write_images(tmp_path / "in", 1, size=16))
    wait_idle(qtbot, panel)
    assert panel.message.isVisible() and "was-fine.safetensors" in panel.message.text()
    assert panel.queue.entries[0].state is State.FAILED


@pytest.mark.parametrize(("choice", "width", "expected"), [("×2", None, (48, 32)), ("Width in pixels", 60, (60, 40))])
def test_output_size_choice(qtbot, panel: UpscalePanel, tmp_path: Path, choice: str, width: int | None,
                            expected: tuple[int, int]) -> None:
    image = tmp_path / "wide.png"
    Image.new("RGB", (24, 16), "orange").save(image)
    pick_in_popup(qtbot, panel.settings.scale, choice)
    assert panel.settings.width_box.isVisible() == (width is not None)
    if width is not None:
        panel.settings.width_box.setValue(width)
    drop(panel.drop_zone, [image])
    wait_idle(qtbot, panel)
    assert panel.queue.entries[0].out_size == expected
    assert panel.queue.entries[0].result.load_full().shape[:2] == expected[::-1]


def test_quality_shows_only_for_lossy_formats(qtbot, panel: UpscalePanel) -> None:
    shown = {}
    for fmt in ("PNG", "JPG", "WEBP"):
        pick_in_popup(qtbot, panel.settings.format, fmt)
        shown[fmt] = panel.settings.quality.isVisible()
    assert shown == {"PNG": False, "JPG": True, "WEBP": True}


def test_model_descriptions_and_the_photo_model(qtbot, tmp_path: Path, monkeypatch) -> None:
    bundled = tmp_path / "bundled"
    bundled.mkdir()
    tiny_model(bundled / "default-x4.safetensors", extra={"phase": "gan"})
    tiny_model(bundled / "faithful-x2.safetensors", scale=2, extra={"phase": "pretrain"})
    tiny_model(bundled / "photo-x4.safetensors", extra={"phase": "gan", "config": {"degradation": "realistic"}})
    monkeypatch.setattr(sources, "BUNDLED_DIR", bundled)
    panel = make_panel(qtbot, tmp_path)
    picker = panel.model
    descriptions = {picker.itemText(i).removeprefix("Bundled: "): picker.itemData(i, Qt.ItemDataRole.ToolTipRole)
                    for i in range(3)}
    assert descriptions["photo-x4"].startswith("For photos") and "×4" in descriptions["photo-x4"]
    assert descriptions["default-x4"].startswith("Sharp") and descriptions["faithful-x2"].startswith("Faithful")
    assert all(text.endswith(" MB") for text in descriptions.values())
    pick_in_popup(qtbot, picker, "Bundled: photo-x4")
    assert panel.settings.description.text() == descriptions["photo-x4"]


@pytest.mark.real_cost
def test_picker_says_what_each_model_costs_here_measured_once(qtbot, tmp_path: Path, monkeypatch) -> None:
    bundled = tmp_path / "bundled"
    bundled.mkdir()
    tiny_model(bundled / "default-x4.safetensors", extra={"phase": "gan"})
    tiny_model(bundled / "faithful-x2.safetensors", scale=2, extra={"phase": "pretrain"})
    monkeypatch.setattr(sources, "BUNDLED_DIR", bundled)
    panel = make_panel(qtbot, tmp_path)
    picker = panel.model
    assert "per output megapixel" not in panel.settings.description.text()  # nothing measured before the list opens
    pick_in_popup(qtbot, picker, "Bundled: default-x4")
    qtbot.waitUntil(lambda: "s per output megapixel here" in panel.settings.description.text(), timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: all("s per output megapixel here" in picker.itemData(i, Qt.ItemDataRole.ToolTipRole)
                                for i in range(2)), timeout=TIMEOUT_MS)
    assert panel.settings.description.text().startswith("Sharp")

    measured: list[str] = []
    monkeypatch.setattr(model_picker, "seconds_per_megapixel", lambda source: measured.append(source) or 1.0)
    again = UpscalePanel(isolated_settings(tmp_path))  # the next launch: the figures come from the settings
    qtbot.addWidget(again)
    qtbot.waitUntil(lambda: not again.model.is_checking(), timeout=TIMEOUT_MS)
    assert "s per output megapixel here" in again.settings.description.text()
    again.model.showPopup()
    again.model.hidePopup()
    assert measured == []


def test_settings_persist(qtbot, tmp_path: Path, monkeypatch) -> None:
    model = tiny_model(tmp_path / "tiny.safetensors")
    first = make_panel(qtbot, tmp_path, model)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(tmp_path / "chosen"))
    qtbot.mouseClick(first.settings.browse, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(first.settings.auto_save, Qt.MouseButton.LeftButton)
    pick_in_popup(qtbot, first.settings.format, "JPG")
    first.settings.quality.setValue(80)
    pick_in_popup(qtbot, first.settings.scale, "×3")
    settings = isolated_settings(tmp_path)
    settings.sync()
    second = UpscalePanel(settings)
    qtbot.addWidget(second)
    qtbot.waitUntil(lambda: not second.model.is_checking(), timeout=TIMEOUT_MS)
    restored = second.settings
    assert restored.folder() == tmp_path / "chosen" and restored.auto_save.isChecked()
    assert (restored.file_format(), restored.quality.value(), restored.scale.currentText()) == ("jpg", 80, "×3")
    assert second.model.current() == (str(model), "ema")
    assert restored.run_spec().scale == 3.0


def test_the_current_runs_best_before_it_has_one_says_so(qtbot, tmp_path: Path) -> None:
    run = tmp_path / "runs" / "r1"
    run.mkdir(parents=True)
    (run / "checkpoint.pt").write_bytes(b"")  # a run that has not validated after step 1 yet
    panel = make_panel(qtbot, tmp_path)
    panel.set_run_dir(str(run))
    pick_in_popup(qtbot, panel.model, "Current run: best")
    [image] = write_images(tmp_path / "in", 1, size=24)
    drop(panel.drop_zone, [image])
    wait_idle(qtbot, panel)
    assert panel.queue.entries[0].state is State.FAILED
    assert "the current run has no best weights yet" in panel.message.text()


def test_cancel_says_cancelling_and_ends_within_two_seconds_on_a_slow_model(qtbot, tmp_path: Path) -> None:
    """A model and picture whose tiles take seconds each: Cancel still answers at once (the tile in flight
    is abandoned), showing "Cancelling…" on the button and the row until the engine has let go."""
    panel = make_panel(qtbot, tmp_path, tiny_model(tmp_path / "wide.safetensors", features=64, convs=16))
    image = write_images(tmp_path / "in", 1, size=640)[0]
    drop(panel.drop_zone, [image])
    entry = panel.queue.entry_for(image)
    qtbot.waitUntil(lambda: entry.state is State.RUNNING, timeout=TIMEOUT_MS)
    qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    assert entry.state is State.CANCELLING and panel.queue.row_widget(entry).status.text() == "Cancelling…"
    assert panel.cancel_button.text() == "Cancelling…" and not panel.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: entry.state is State.CANCELLED, timeout=2000)
    wait_idle(qtbot, panel)
    assert panel.cancel_button.text() == "Cancel"


def test_engine_choice_persists_and_the_last_engine_is_named(qtbot, tmp_path: Path) -> None:
    first = make_panel(qtbot, tmp_path, tiny_model(tmp_path / "tiny.safetensors"))
    devices = [first.settings.device.itemData(i) for i in range(first.settings.device.count())]
    assert devices[0] == "auto" and "cpu" in devices
    assert all(f"vulkan:{gpu.index}" in devices for gpu in vulkan_devices())  # each Vulkan GPU, by name
    pick_in_popup(qtbot, first.settings.backend, "PyTorch")
    drop(first.drop_zone, write_images(tmp_path / "in", 1, size=24))
    wait_idle(qtbot, first)
    assert first.settings.engine.text().startswith("Last run in PyTorch on CPU")
    second = UpscalePanel(isolated_settings(tmp_path))
    qtbot.addWidget(second)
    assert second.settings.run_spec().backend == "torch"
