"""Saving from the Upscale tab: on a worker thread, into the output folder (auto-save, dropped folders
keep their tree), asking about taken names, "Saved to" with Open folder, and the result store on disk."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QMessageBox

import engine.io.images
import gui.upscale.panel
import gui.upscale.result_saving
from engine.cli.main import main
from engine.upscaling.batch import collect_inputs
from gui.upscale.queue_entry import State
from gui.upscale.result_store import FOLDER_PREFIX, ResultStore, sweep_stale_folders
from gui.upscale.panel import UpscalePanel
from tests.gui_helpers import write_images
from tests.upscale_helpers import TIMEOUT_MS, answer_next_question, drop, make_panel, tiny_model, wait_idle


@pytest.fixture
def panel(qtbot, tmp_path: Path) -> UpscalePanel:
    return make_panel(qtbot, tmp_path, tiny_model(tmp_path / "tiny.safetensors"))


def upscale(qtbot, panel: UpscalePanel, paths: list[Path]) -> None:
    drop(panel.drop_zone, paths)
    wait_idle(qtbot, panel)


def click_save_all(qtbot, panel: UpscalePanel) -> None:
    with qtbot.waitSignal(panel.busy_changed, check_params_cb=lambda busy: not busy, timeout=TIMEOUT_MS):
        qtbot.mouseClick(panel.save_all_button, Qt.MouseButton.LeftButton)


def test_save_all_runs_on_a_worker_and_says_where_with_open_folder(qtbot, panel: UpscalePanel, tmp_path: Path,
                                                                     monkeypatch) -> None:
    upscale(qtbot, panel, write_images(tmp_path / "in", 2, size=16))
    threads: list[int] = []
    real_save = gui.upscale.result_saving.save_image
    monkeypatch.setattr(gui.upscale.result_saving, "save_image", lambda *a, **k: threads.append(threading.get_ident())
                        or real_save(*a, **k))
    statuses: list[str] = []
    panel.saver.entry_changed.connect(lambda e: statuses.append(panel.queue.row_widget(e).status.text()))
    click_save_all(qtbot, panel)
    assert threads and threading.get_ident() not in threads
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["img0_tiny_x4.png", "img1_tiny_x4.png"]
    first = panel.queue.entries[0]
    np.testing.assert_array_equal(np.asarray(Image.open(out / "img0_tiny_x4.png")), first.result.load_full())
    assert statuses[0] == "Saving…" and statuses[-1].startswith("Saved to ")
    row = panel.queue.row_widget(first)
    assert row.status.text() == "Saved to out/img0_tiny_x4.png" and row.open_folder.isVisible()
    assert row.status.toolTip() == f"Saved to {out / 'img0_tiny_x4.png'}"
    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    qtbot.mouseClick(row.open_folder, Qt.MouseButton.LeftButton)
    assert opened == [str(out)]
    assert not panel.save_all_button.isEnabled()  # everything is saved


@pytest.mark.parametrize(("answer", "expected"), [("Skip", ["img0_tiny_x4.png"]),
                                                  ("Keep both", ["img0_tiny_x4.png", "img0_tiny_x4_2.png"]),
                                                  ("Replace", ["img0_tiny_x4.png"])])
def test_save_all_asks_about_taken_names(qtbot, panel: UpscalePanel, tmp_path: Path, answer: str,
                                         expected: list[str]) -> None:
    upscale(qtbot, panel, write_images(tmp_path / "in", 1, size=16))
    out = tmp_path / "out"
    out.mkdir()
    (out / "img0_tiny_x4.png").write_bytes(b"keep me")
    asked: list[str] = []
    answer_next_question(answer, asked)
    qtbot.mouseClick(panel.save_all_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=TIMEOUT_MS)
    assert len(asked) == 1 and "img0_tiny_x4.png already exists" in asked[0]
    assert sorted(p.name for p in out.iterdir()) == expected
    replaced = (out / "img0_tiny_x4.png").read_bytes() != b"keep me"
    assert replaced == (answer == "Replace")


def test_auto_save_writes_each_result_into_the_output_folder(qtbot, panel: UpscalePanel, tmp_path: Path) -> None:
    qtbot.mouseClick(panel.settings.auto_save, Qt.MouseButton.LeftButton)
    panel.settings.format.setCurrentText("JPG")
    upscale(qtbot, panel, write_images(tmp_path / "in", 1, size=16))
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=TIMEOUT_MS)
    saved = tmp_path / "out" / "img0_tiny_x4.jpg"
    assert Image.open(saved).format == "JPEG" and panel.queue.entries[0].saved_to == saved


def test_dropped_folder_results_keep_its_tree_in_the_output_folder(qtbot, panel: UpscalePanel,
                                                                    tmp_path: Path) -> None:
    holiday = tmp_path / "holiday"
    write_images(holiday, 1, size=16)
    write_images(holiday / "day2", 1, size=16, seed=1)
    upscale(qtbot, panel, [holiday])
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=TIMEOUT_MS)
    out = tmp_path / "out"
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*.png"))
    assert written == ["holiday/day2/img0_tiny_x4.png", "holiday/img0_tiny_x4.png"]
    assert all(e.state is State.DONE for e in panel.queue.entries)
    (tmp_path / "empty").mkdir()
    drop(panel.drop_zone, [tmp_path / "empty"])
    qtbot.waitUntil(lambda: panel.message.text() == f"No images in the folder {tmp_path / 'empty'}.",
                    timeout=TIMEOUT_MS)


def test_window_and_command_line_name_a_result_the_same(qtbot, panel: UpscalePanel, tmp_path: Path) -> None:
    photo = write_images(tmp_path / "in", 1, size=16)[0]
    upscale(qtbot, panel, [photo])
    click_save_all(qtbot, panel)
    assert main(["upscale", str(photo), "--model", str(tmp_path / "tiny.safetensors"),
                 "--out", str(tmp_path / "cli")]) == 0
    window_names = [p.name for p in (tmp_path / "out").iterdir()]
    assert window_names == [p.name for p in (tmp_path / "cli").iterdir()] == ["img0_tiny_x4.png"]


def test_window_decodes_each_file_once(qtbot, panel: UpscalePanel, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """From the drop to the saved file: the engine's read is the only decode, and the save reads none."""
    decoded: list[str] = []
    real_open = engine.io.images._open
    monkeypatch.setattr(engine.io.images, "_open", lambda path, limit: decoded.append(str(path)) or
                        real_open(path, limit))
    photos = write_images(tmp_path / "in", 2, size=16)
    upscale(qtbot, panel, photos)
    click_save_all(qtbot, panel)
    assert sorted(decoded) == sorted(map(str, photos))
    assert len(list((tmp_path / "out").iterdir())) == 2


def test_dropped_folder_is_searched_off_the_gui_thread(qtbot, panel: UpscalePanel, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    searched_on: list[threading.Thread] = []

    def recording(*args, **kwargs):
        searched_on.append(threading.current_thread())
        return collect_inputs(*args, **kwargs)

    monkeypatch.setattr(gui.upscale.panel, "collect_inputs", recording)
    write_images(tmp_path / "holiday", 2, size=16)
    upscale(qtbot, panel, [tmp_path / "holiday"])
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=TIMEOUT_MS)
    assert len(searched_on) == 1 and searched_on[0] is not threading.main_thread()
    assert [entry.state for entry in panel.queue.entries] == [State.DONE, State.DONE]


@pytest.mark.parametrize("answer", ["No", "Yes"])
def test_save_as_asks_before_replacing(qtbot, panel: UpscalePanel, tmp_path: Path, monkeypatch, answer: str) -> None:
    upscale(qtbot, panel, write_images(tmp_path / "in", 1, size=16))
    target = tmp_path / "chosen.png"
    target.write_bytes(b"old")
    asked: list[str] = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: asked.append(a[2]) or getattr(QMessageBox.StandardButton, answer))
    qtbot.mouseClick(panel.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=TIMEOUT_MS)
    assert asked and "chosen.png" in asked[0]
    if answer == "No":
        assert target.read_bytes() == b"old"
    else:
        assert Image.open(target).size == (64, 64)


def test_results_live_on_disk_and_go_with_the_store(qtbot, panel: UpscalePanel, tmp_path: Path) -> None:
    upscale(qtbot, panel, write_images(tmp_path / "in", 2, size=16))
    entry = panel.queue.entries[0]
    assert entry.result.full.is_file() and isinstance(entry.result.load_full(), np.memmap)
    qtbot.mouseClick(panel.clear_button, Qt.MouseButton.LeftButton)
    assert not panel.queue.entries and not entry.result.full.exists()  # cleared rows free their disk space
    folder = panel.store.folder
    panel.store.close()
    assert not folder.exists()


def test_stale_store_folders_of_dead_sessions_are_swept(tmp_path: Path) -> None:
    dead = tmp_path / f"{FOLDER_PREFIX}999999999-abc"
    alive = tmp_path / f"{FOLDER_PREFIX}{os.getpid()}-abc"
    for folder in (dead, alive):
        folder.mkdir()
    sweep_stale_folders(tmp_path)
    assert not dead.exists() and alive.exists()
    store = ResultStore(tmp_path)
    assert store.folder.parent == tmp_path and store.folder.name.startswith(f"{FOLDER_PREFIX}{os.getpid()}-")


def test_a_16_bit_input_is_saved_at_16_bits_and_grey_alpha_stays_grey_alpha(qtbot, panel: UpscalePanel,
                                                                            tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    ramp = np.linspace(0, 65535, 16 * 16).astype(np.uint16).reshape(16, 16)
    Image.fromarray(ramp).save(source / "deep.png")
    Image.fromarray(np.full((16, 16), 90, np.uint8)).convert("LA").save(source / "grey_alpha.png")
    upscale(qtbot, panel, [source / "deep.png", source / "grey_alpha.png"])
    click_save_all(qtbot, panel)
    with Image.open(tmp_path / "out" / "deep_tiny_x4.png") as deep:
        assert deep.mode in ("I;16", "I") and deep.size == (64, 64)
        assert len(np.unique(np.asarray(deep))) > 256  # more levels than 8 bits hold
    with Image.open(tmp_path / "out" / "grey_alpha_tiny_x4.png") as grey_alpha:
        assert grey_alpha.mode == "LA"


def test_an_animation_says_first_frame_only_in_its_row(qtbot, panel: UpscalePanel, tmp_path: Path) -> None:
    frames = [Image.fromarray(np.full((16, 16, 3), 40 * i, np.uint8)) for i in range(3)]
    frames[0].save(tmp_path / "moving.gif", save_all=True, append_images=frames[1:])
    upscale(qtbot, panel, [tmp_path / "moving.gif"])
    entry = panel.queue.entries[0]
    assert entry.state is State.DONE
    assert "first frame only" in panel.queue.row_widget(entry).status.toolTip() + \
        panel.queue.row_widget(entry).status.text()
