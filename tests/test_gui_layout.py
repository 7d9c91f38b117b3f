"""The window's layout: every Train control reachable at 1024x700 and 800x600, plots inside their view,
paths that show their end, aligned form columns, the perceptual-layers table, Browse… for every path,
the degradation and its strength, visible input borders on the dark theme, window geometry that persists."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QTextDocumentFragment
from PySide6.QtWidgets import (QAbstractButton, QAbstractSpinBox, QComboBox, QFileDialog, QLabel, QLineEdit,
                               QProgressBar, QScrollArea, QSlider, QTreeWidget, QWidget)

from engine.errors import ConfigError
from engine.data.degradations import STRENGTHS
from engine.training.config import SETTINGS, setting_help, setting_label
from gui.train.loss_plots import PLOTS
from gui.main_window import MainWindow
from gui.common.path_field import PathField
from gui.train.settings_form import PANEL_FIELDS, PATHS
from gui.common.theme import DARK
from gui.train.panel import REPO_SAMPLES
from tests.gui_helpers import isolated_settings, step_events

CONTROLS = (QAbstractButton, QLineEdit, QComboBox, QAbstractSpinBox, QSlider, QProgressBar, QTreeWidget)


@pytest.fixture
def window(qtbot, tmp_path: Path) -> MainWindow:
    widget = MainWindow(isolated_settings(tmp_path), runs_dir=tmp_path / "runs", speed_probe=None)
    qtbot.addWidget(widget)
    widget.show()
    return widget


def in_scroll_area(widget: QWidget) -> bool:
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QScrollArea):
            return True
        parent = parent.parentWidget()
    return False


def cut_controls(root: QWidget) -> list[str]:
    """Visible controls that are clipped by their parents or squeezed below their minimum size (controls
    inside a scroll area are reachable by scrolling and are left out)."""
    cut = []
    for widget in root.findChildren(QWidget):
        if not isinstance(widget, CONTROLS) or not widget.isVisible() or in_scroll_area(widget):
            continue
        if widget.parentWidget() is not None and isinstance(widget.parentWidget().parentWidget(), QAbstractSpinBox):
            continue  # a spin box's own line edit
        clipped = widget.visibleRegion().boundingRect() != widget.rect()
        squeezed = widget.width() < min(widget.minimumSizeHint().width(), 40)
        if clipped or squeezed:
            cut.append(f"{type(widget).__name__} {getattr(widget, 'text', lambda: '')()!r} {widget.objectName()}")
    return cut


@pytest.mark.parametrize("size", [(1024, 700), (800, 600)])
def test_every_train_control_is_reachable_at_small_sizes(qtbot, window: MainWindow, size: tuple[int, int]) -> None:
    for metrics in step_events(1, 60, 3000):
        window.train.plots.add_metrics(metrics)
    window.resize(*size)
    qtbot.waitUntil(lambda: (window.width(), window.height()) == size)
    qtbot.wait(50)
    assert cut_controls(window.train) == []
    window.train.left_tabs.setCurrentWidget(window.train.runs)
    qtbot.wait(20)
    assert cut_controls(window.train) == []
    graphics = window.train.plots.graphics
    for title in PLOTS:  # no plot runs off the right or bottom of its view
        rect = window.train.plots.plot(title).sceneBoundingRect()
        assert rect.right() <= graphics.width() + 1 and rect.bottom() <= graphics.height() + 1, title


def test_the_training_images_field_shows_the_end_of_the_path(qtbot, window: MainWindow) -> None:
    field = window.train.data_dir
    assert field.text() == str(REPO_SAMPLES)
    window.resize(1024, 700)
    qtbot.wait(20)
    shown = field.line.displayed_text()
    assert field.line.fontMetrics().horizontalAdvance(field.text()) > field.line.width()  # it does not fit
    assert shown.startswith("…") and shown.endswith(f"{REPO_SAMPLES.parent.name}/samples")
    field.line.setFocus()
    qtbot.waitUntil(field.line.hasFocus)
    assert field.line.displayed_text() == field.text()  # while editing, the whole text


def test_form_columns_line_up(qtbot, window: MainWindow) -> None:
    form = window.train.form
    qtbot.mouseClick(form.advanced_toggle, Qt.MouseButton.LeftButton)
    assert form.advanced.isVisible()
    lefts = {name: form.editor(name).mapTo(form, QPoint(0, 0)).x() for name in
             ("data_dir", "preset", "scale", "steps", "lr_g", "adversarial_loss", "val_dir", "gen_features",
              "perceptual_layers", "spectral_norm", "vgg_weights")}
    assert len(set(lefts.values())) == 1, lefts


def test_perceptual_layers_are_a_table(qtbot, window: MainWindow) -> None:
    form = window.train.form
    qtbot.mouseClick(form.advanced_toggle, Qt.MouseButton.LeftButton)
    editor = form.editor("perceptual_layers")
    assert editor.value() == {"conv1_2": 0.1, "conv2_2": 0.1, "conv3_3": 1.0}
    qtbot.waitUntil(lambda: editor.add_button.height() > 0)  # laid out once shown
    qtbot.mouseClick(editor.add_button, Qt.MouseButton.LeftButton)
    row = editor.table.rowCount() - 1
    editor.table.cellWidget(row, 0).setCurrentText("relu4_3")
    editor.table.cellWidget(row, 1).setValue(0.5)
    assert form.config(out_dir="").perceptual_layers == {"conv1_2": 0.1, "conv2_2": 0.1, "conv3_3": 1.0, "relu4_3": 0.5}
    editor.table.selectRow(0)
    qtbot.mouseClick(editor.remove_button, Qt.MouseButton.LeftButton)
    assert form.value("perceptual_layers") == {"conv2_2": 0.1, "conv3_3": 1.0, "relu4_3": 0.5}
    assert editor.table.height() >= editor.table.rowCount() * editor.table.rowHeight(0)  # no inner scrolling


def test_every_path_setting_has_a_browse_button(qtbot, window: MainWindow, tmp_path: Path, monkeypatch) -> None:
    chosen_folder, chosen_file = tmp_path / "picked", tmp_path / "weights.safetensors"
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args: str(chosen_folder))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args: (str(chosen_file), ""))
    form = window.train.form
    qtbot.mouseClick(form.advanced_toggle, Qt.MouseButton.LeftButton)
    for name, (_, folder, _, _) in PATHS.items():
        field = form.editor(name)
        assert isinstance(field, PathField) and field.browse.text() == "Browse…"
        qtbot.mouseClick(field.browse, Qt.MouseButton.LeftButton)
        assert form.value(name) == str(chosen_folder if folder else chosen_file), name


def edge_contrast(widget: QWidget, background: QColor) -> int:
    """How far the widget's left edge (mid-height) is from `background`, summed over R, G, B."""
    image = widget.grab().toImage()
    edge = image.pixelColor(0, image.height() // 2)
    return sum(abs(a - b) for a, b in zip(edge.getRgb()[:3], background.getRgb()[:3]))


def test_dark_theme_inputs_have_a_visible_border(qtbot, window: MainWindow) -> None:
    window.theme_actions["dark"].trigger()
    qtbot.wait(20)
    for name in ("lr_g", "steps", "scale"):
        editor = window.train.form.editor(name)
        assert edge_contrast(editor, QColor(DARK.window)) >= 40, name
        assert edge_contrast(editor, QColor(DARK.base)) >= 40, name


def test_window_size_and_place_persist(qtbot, tmp_path: Path) -> None:
    first = MainWindow(isolated_settings(tmp_path), runs_dir=tmp_path / "runs", speed_probe=None)
    qtbot.addWidget(first)
    first.show()
    screen = first.screen().availableGeometry()  # a restored window is kept on its screen
    size = (min(1111, screen.width()), min(777, screen.height()) - 9)
    first.resize(*size)
    qtbot.waitUntil(lambda: (first.width(), first.height()) == size)
    first.close()
    second = MainWindow(isolated_settings(tmp_path), runs_dir=tmp_path / "runs", speed_probe=None)
    qtbot.addWidget(second)
    assert (second.width(), second.height()) == size


def test_degradation_and_its_strength_knob(qtbot, window: MainWindow, tmp_path: Path) -> None:
    form = window.train.form
    strength = form.editor("realistic")
    assert form.value("degradation") == "bicubic" and not strength.isEnabled()
    degradation = form.editor("degradation")
    degradation.setCurrentIndex(degradation.findData("realistic"))
    assert strength.isEnabled() and strength.strength.currentText() == "medium"
    strength.strength.setCurrentText("strong")
    config = form.config(out_dir="")
    assert config.degradation == "realistic" and config.realistic == STRENGTHS["strong"]
    strength.strength.setCurrentText("custom")
    assert strength.parameters.isVisible() and '"noise_prob"' in strength.parameters.text()
    strength.parameters.setText('{"noise_prob": 0.25}')
    assert form.config(out_dir="").realistic.noise_prob == 0.25
    strength.parameters.setText('{"no_such_parameter": 1}')
    with pytest.raises(ConfigError, match="Strength"):
        form.config(out_dir="")
    strength.parameters.setText('{"noise_prob": 0.25}')
    window.train.save_settings()
    again = MainWindow(isolated_settings(tmp_path), runs_dir=window.runs_dir, speed_probe=None)
    qtbot.addWidget(again)
    assert again.train.form.value("realistic").noise_prob == 0.25  # custom strengths persist too
    assert again.train.form.editor("realistic").strength.currentText() == "custom"


def test_every_setting_row_shows_the_configs_own_label_and_description(window: MainWindow) -> None:
    """One description per setting: the form's tooltips and labels are TrainConfig's field metadata."""
    form = window.train.form
    shown = {label.text() for label in form.findChildren(QLabel)}
    names = [name for name in SETTINGS if name not in PANEL_FIELDS]
    for name in names:
        assert QTextDocumentFragment.fromHtml(form.editor(name).toolTip()).toPlainText() == setting_help(name) != "", name
        assert setting_label(name) in shown, name
    assert "The generator's learning rate" in form.editor("lr_g").toolTip() and setting_label("lr_g") == "Generator LR"
