"""The training settings as a form, built from TrainConfig's fields so the two never drift apart.

Each field gets one editor chosen by its type: choices -> combo box, bool -> check box, int -> spin
box, paths -> a field with Browse…, the perceptual layers -> a small table, other floats and strings ->
a line edit parsed like the command line's `--set name=value`. The main settings come first; the
advanced ones are folded away, in columns aligned with the main ones.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QLabel, QLineEdit, QSpinBox, QToolButton,
                               QVBoxLayout, QWidget)

from engine.archs.table import ARCHITECTURES
from engine.training import config as cfg
from engine.training.config import PRESETS, TrainConfig, preset
from engine.errors import ConfigError
from engine.models.registry import weights_file_filter
from gui.train.layers_editor import LayersEditor
from gui.common.path_field import PathField
from gui.train.strength_editor import StrengthEditor

# Settings people change most; everything else (except the run folder, which each Start makes) is advanced.
MAIN_FIELDS = ("data_dir", "lr_dir", "preset", "scale", "degradation", "realistic", "batch_size", "hr_patch", "steps",
               "pretrain_steps", "lr_g", "lr_d", "pixel_weight", "perceptual_weight", "adversarial_weight",
               "adversarial_loss")
PANEL_FIELDS = ("out_dir",)  # chosen by the panel: a fresh folder per Start
# A preset is a recipe: switching to another keeps these settings of the person's own machine and data.
KEPT_ACROSS_PRESETS = ("data_dir", "lr_dir", "val_dir", "vgg_weights", "device", "workers")
CHOICES: dict[str, tuple[Any, ...]] = {"preset": tuple(PRESETS), **cfg.CHOICES}
# The one-line description each item of these lists shows as its tooltip.
ITEM_DESCRIPTIONS: dict[str, dict[Any, str]] = {
    "preset": {name: item.description for name, item in PRESETS.items()},
    "generator": {name: arch.description for name, arch in ARCHITECTURES.items()},
}
# name -> (dialog title, folder?, file filter, placeholder)
PATHS: dict[str, tuple[str, bool, str, str]] = {
    "data_dir": ("Training images", True, "", "Folder of training images (or of hr/ and lr/)"),
    "lr_dir": ("Low-resolution partners", True, "", "Optional: their LR partners, same names"),
    "val_dir": ("Validation images", True, "", "Empty: hold out images of the training folder"),
    "vgg_weights": ("VGG weights file", False, weights_file_filter("Weights"),
                    "Empty: torchvision's cache, else the bundled VGG16"),
    "init_generator": ("Generator to start from", False, weights_file_filter("Models and checkpoints"),
                       "Empty: random weights"),
}
LABELS = {
    "data_dir": "Training images", "lr_dir": "LR partners", "hr_patch": "HR patch size", "batch_size": "Batch size", "steps": "Total steps",
    "pretrain_steps": "Pretrain steps", "lr_g": "Generator LR", "lr_d": "Discriminator LR",
    "pixel_weight": "Pixel loss weight", "perceptual_weight": "Perceptual weight",
    "adversarial_weight": "Adversarial weight", "adversarial_loss": "Adversarial loss",
    "gen_features": "G features", "gen_blocks": "G blocks", "disc_features": "D features",
    "ema_decay": "EMA decay", "grad_clip": "Gradient clip", "vgg_weights": "VGG weights file",
    "val_dir": "Validation folder", "val_count": "Validation images", "val_every": "Validate every", "val_seconds": "Also after (s)",
    "checkpoint_every": "Checkpoint every", "minibatch_stddev": "Minibatch stddev", "spectral_norm": "Spectral norm",
    "lr_schedule": "LR schedule", "gp_weight": "GP weight", "vgg_convention": "VGG convention",
    "perceptual_net": "Perceptual network", "perceptual_layers": "Perceptual layers",
    "init_generator": "Start G from", "perceptual_criterion": "Perceptual loss", "realistic": "Strength",
}
TOOLTIPS = {
    "lr_dir": "Real low-resolution versions of the training images, named as they are, each exactly Scale "
              "times smaller; empty = made from them by the degradation (a folder holding hr/ and lr/ "
              "needs none)",
    "batch_size": "0 = chosen for the device", "hr_patch": "0 = chosen for the device",
    "init_generator": 'The generator\'s starting weights: "bundled" = the bundled pixel model of this scale; or a '
                      'model file or checkpoint; empty = random',
    "gen_features": "Generator features", "gen_blocks": "Generator blocks", "disc_features": "Discriminator features",
    "val_seconds": "Also validate when this many seconds have passed since the last validation, the wait doubling "
                   "each time, so a slow run's curves and previews move early; 0 = every N steps only",
    "gp_weight": "Gradient penalty weight (wgan-gp)", "perceptual_criterion": "How feature maps are compared",
    "degradation": "How low-res inputs are made: bicubic = clean downscaling (benchmarks, PSNR); realistic = blur, "
                   "resize, noise and JPEG as real photos have them",
}
HINTS = typing.get_type_hints(TrainConfig)
AUTO_FIELDS = ("batch_size", "hr_patch")  # 0 means "chosen for the device"


def label_for(name: str) -> str:
    return LABELS.get(name, name.replace("_", " ").capitalize())


def _text_of(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


class SettingsForm(QWidget):
    """Main settings in a form; the advanced ones in a section folded away under a toggle."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._editors: dict[str, QWidget] = {}
        self._labels: list[QLabel] = []
        names = [f.name for f in dataclasses.fields(TrainConfig) if f.name not in PANEL_FIELDS]
        main_form, advanced_form = QFormLayout(), QFormLayout()
        for form in (main_form, advanced_form):
            form.setContentsMargins(0, 0, 0, 0)
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        for name in MAIN_FIELDS:
            self._add_row(main_form, name)
            if name == "lr_dir":
                self.data_summary = QLabel(wordWrap=True, objectName="data_summary")
                self.set_data_summary("", True)
                main_form.addRow("", self.data_summary)
            if name == "preset":
                self.preset_description = QLabel(wordWrap=True)
                self.preset_description.setProperty("role", "muted")
                self.preset_note = QLabel(wordWrap=True, visible=False)
                self.preset_note.setProperty("role", "note")
                main_form.addRow("", self.preset_description)
                main_form.addRow("", self.preset_note)
        for name in names:
            if name not in MAIN_FIELDS:
                self._add_row(advanced_form, name)
        width = max(label.sizeHint().width() for label in self._labels)
        for label in self._labels:  # one label column for both forms, so their fields line up
            label.setFixedWidth(width)
        self.advanced_toggle = QToolButton(text="Advanced settings", checkable=True)
        self.advanced_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_toggle.setAutoRaise(True)
        self.advanced = QWidget()
        self.advanced.setLayout(advanced_form)
        self.advanced_toggle.toggled.connect(self._set_advanced_visible)
        self._set_advanced_visible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(main_form)
        layout.addWidget(self.advanced_toggle)
        layout.addWidget(self.advanced)
        layout.addStretch(1)
        preset_box = self._editors["preset"]
        assert isinstance(preset_box, QComboBox)
        preset_box.activated.connect(lambda _: self.apply_preset(preset_box.currentData()))
        preset_box.currentIndexChanged.connect(lambda _: self._describe_preset())
        self._locked = False
        self._editors["degradation"].currentIndexChanged.connect(lambda _: self._enable_strength())
        self.set_config(TrainConfig())

    def _add_row(self, form: QFormLayout, name: str) -> None:
        label = QLabel(label_for(name))
        self._labels.append(label)
        form.addRow(label, self._make_editor(name))

    def _set_advanced_visible(self, visible: bool) -> None:
        self.advanced.setVisible(visible)
        self.advanced_toggle.setArrowType(Qt.ArrowType.DownArrow if visible else Qt.ArrowType.RightArrow)

    def _make_editor(self, name: str) -> QWidget:
        hint = HINTS[name]
        editor: QWidget
        if name in PATHS:
            editor = PathField(*PATHS[name])
            editor.textChanged.connect(self.changed)
        elif name == "perceptual_layers":
            editor = LayersEditor()
            editor.changed.connect(self.changed)
        elif name == "realistic":
            editor = StrengthEditor()
            editor.changed.connect(self.changed)
        elif name in CHOICES:
            editor = QComboBox()
            for choice in CHOICES[name]:
                editor.addItem(str(choice), choice)
                if choice in ITEM_DESCRIPTIONS.get(name, {}):
                    editor.setItemData(editor.count() - 1, ITEM_DESCRIPTIONS[name][choice], Qt.ItemDataRole.ToolTipRole)
            editor.currentIndexChanged.connect(self.changed)
        elif hint is bool:
            editor = QCheckBox()
            editor.toggled.connect(self.changed)
        elif hint is int:
            editor = QSpinBox()
            editor.setRange(-1, 10_000_000)
            if name in AUTO_FIELDS:  # 0 = chosen for the device (TrainConfig.for_device)
                editor.setMinimum(0)
                editor.setSpecialValueText("auto")
            editor.valueChanged.connect(self.changed)
        else:
            editor = QLineEdit()
            editor.textChanged.connect(self.changed)
        editor.setObjectName(name)
        editor.setToolTip(TOOLTIPS.get(name, ""))
        self._editors[name] = editor
        return editor

    def editor(self, name: str) -> QWidget:
        return self._editors[name]

    @property
    def data_dir(self) -> PathField:
        field = self._editors["data_dir"]
        assert isinstance(field, PathField)
        return field

    def apply_preset(self, name: str) -> None:
        """Load a preset's recipe, keeping the settings that describe this machine and its data."""
        kept = {key: self.value(key) for key in KEPT_ACROSS_PRESETS}
        self.set_config(preset(name, **kept))

    def _describe_preset(self) -> None:
        name = self.value("preset")
        self.preset_description.setText(PRESETS[name].description if name in PRESETS else "")

    def set_data_summary(self, text: str, usable: bool) -> None:
        """What the data fields hold, or (as an error) why training would refuse it."""
        self.data_summary.setText(text)
        self.data_summary.setProperty("role", "muted" if usable else "error")
        self.data_summary.style().unpolish(self.data_summary)
        self.data_summary.style().polish(self.data_summary)

    def set_note(self, text: str) -> None:
        """A warning line under the preset (e.g. what the classic recipe costs on this device)."""
        self.preset_note.setText(text)
        self.preset_note.setVisible(bool(text))

    def set_value(self, name: str, value: Any) -> None:
        editor = self._editors[name]
        if isinstance(editor, QComboBox):
            editor.setCurrentIndex(max(0, editor.findData(value)))
        elif isinstance(editor, QCheckBox):
            editor.setChecked(bool(value))
        elif isinstance(editor, QSpinBox):
            editor.setValue(int(value))
        elif isinstance(editor, LayersEditor):
            editor.set_value(dict(value))
        elif isinstance(editor, StrengthEditor):
            editor.set_value(value)
        elif isinstance(editor, (QLineEdit, PathField)):
            editor.setText(_text_of(value))

    def value(self, name: str) -> Any:
        editor = self._editors[name]
        if isinstance(editor, QComboBox):
            return editor.currentData()
        if isinstance(editor, QCheckBox):
            return editor.isChecked()
        if isinstance(editor, QSpinBox):
            return editor.value()
        if isinstance(editor, (LayersEditor, StrengthEditor)):
            return editor.value()
        if isinstance(editor, PathField):
            return editor.text().strip()
        assert isinstance(editor, QLineEdit)
        return cfg.parse_value(HINTS[name], editor.text().strip(), label_for(name))

    def set_config(self, config: TrainConfig) -> None:
        for name in self._editors:
            self.set_value(name, getattr(config, name))
        self._describe_preset()
        self._enable_strength()

    def values(self) -> dict[str, Any]:
        """The form's values, parsed; raises ConfigError naming a field whose text does not parse."""
        return {name: self.value(name) for name in self._editors}

    def config(self, **panel_values: Any) -> TrainConfig:
        """A validated config from the form plus the panel's own fields; raises ConfigError."""
        try:
            return TrainConfig.from_dict({**self.values(), **panel_values})
        except TypeError as exc:
            raise ConfigError(str(exc)) from None

    def set_locked(self, locked: bool) -> None:
        """Read-only while a run trains with these settings (edits then could not reach it)."""
        self._locked = locked
        for editor in self._editors.values():
            editor.setEnabled(not locked)
        self._enable_strength()

    def _enable_strength(self) -> None:
        """The strength applies to realistic degradation only."""
        self._editors["realistic"].setEnabled(not self._locked and self.value("degradation") == "realistic")
