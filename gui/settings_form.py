"""The training settings as a form, built from TrainConfig's fields so the two never drift apart.

Each field gets one editor chosen by its annotated type (choices -> combo box, bool -> check box,
int -> spin box, float/str/dict -> line edit parsed like the command line's `--set name=value`).
"""

from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QLineEdit, QSpinBox, QToolButton,
                               QVBoxLayout, QWidget)

from engine import config as cfg
from engine.config import ConfigError, TrainConfig
from engine.device import DEVICE_CHOICES

# Settings people change most; everything else (except what the panel sets itself) is "advanced".
MAIN_FIELDS = ("scale", "batch_size", "hr_patch", "steps", "pretrain_steps", "lr_g", "lr_d", "pixel_weight",
               "perceptual_weight", "adversarial_weight", "adversarial_loss")
PANEL_FIELDS = ("preset", "data_dir", "out_dir")  # chosen by the panel's own widgets
CHOICES: dict[str, tuple[Any, ...]] = {
    "scale": cfg.SCALES, "channels": (3, 1), "generator": cfg.GENERATORS, "discriminator": cfg.DISCRIMINATORS,
    "adversarial_loss": cfg.ADVERSARIAL_LOSSES, "precision": cfg.PRECISIONS, "lr_schedule": cfg.LR_SCHEDULES,
    "pixel_loss": cfg.PIXEL_LOSSES, "perceptual_criterion": cfg.PIXEL_LOSSES, "perceptual_net": cfg.PERCEPTUAL_NETS,
    "vgg_convention": cfg.VGG_CONVENTIONS, "device": DEVICE_CHOICES,
}
LABELS = {
    "hr_patch": "HR patch size", "batch_size": "Batch size", "steps": "Total steps", "pretrain_steps": "Pretrain steps",
    "lr_g": "Generator LR", "lr_d": "Discriminator LR", "pixel_weight": "Pixel loss weight",
    "perceptual_weight": "Perceptual weight", "adversarial_weight": "Adversarial weight",
    "adversarial_loss": "Adversarial loss", "gen_features": "Generator features", "gen_blocks": "Generator blocks",
    "disc_features": "Discriminator features", "ema_decay": "EMA decay", "grad_clip": "Gradient clip",
    "vgg_weights": "VGG weights file", "val_dir": "Validation folder", "val_count": "Validation images",
    "val_every": "Validate every", "checkpoint_every": "Checkpoint every", "minibatch_stddev": "Minibatch stddev",
    "spectral_norm": "Spectral norm", "lr_schedule": "LR schedule", "gp_weight": "Gradient penalty weight",
    "vgg_convention": "VGG convention", "perceptual_net": "Perceptual network",
    "perceptual_layers": "Perceptual layers",
}
HINTS = typing.get_type_hints(TrainConfig)


def label_for(name: str) -> str:
    return LABELS.get(name, name.replace("_", " ").capitalize())


def _text_of(value: Any) -> str:
    if isinstance(value, dict):
        return json.dumps(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


class SettingsForm(QWidget):
    """Main settings in a form; the advanced ones in a section folded away under a toggle."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._editors: dict[str, QWidget] = {}
        names = [f.name for f in dataclasses.fields(TrainConfig) if f.name not in PANEL_FIELDS]
        main_form = QFormLayout()
        advanced_form = QFormLayout()
        for form in (main_form, advanced_form):
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for name in MAIN_FIELDS:
            main_form.addRow(label_for(name), self._make_editor(name))
        for name in names:
            if name not in MAIN_FIELDS:
                advanced_form.addRow(label_for(name), self._make_editor(name))
        self.advanced_toggle = QToolButton(text="Advanced settings", checkable=True)
        self.advanced_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_toggle.setAutoRaise(True)
        self.advanced = QWidget()
        self.advanced.setLayout(advanced_form)
        self.advanced.setVisible(False)
        self.advanced_toggle.toggled.connect(self._set_advanced_visible)
        self._set_advanced_visible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(main_form)
        layout.addWidget(self.advanced_toggle)
        layout.addWidget(self.advanced)
        self.set_config(TrainConfig())

    def _set_advanced_visible(self, visible: bool) -> None:
        self.advanced.setVisible(visible)
        self.advanced_toggle.setArrowType(Qt.ArrowType.DownArrow if visible else Qt.ArrowType.RightArrow)

    def _make_editor(self, name: str) -> QWidget:
        hint = HINTS[name]
        editor: QWidget
        if name in CHOICES:
            editor = QComboBox()
            for choice in CHOICES[name]:
                editor.addItem(str(choice), choice)
        elif hint is bool:
            editor = QCheckBox()
        elif hint is int:
            editor = QSpinBox()
            editor.setRange(-1, 10_000_000)
        else:
            editor = QLineEdit()
        editor.setObjectName(name)
        self._editors[name] = editor
        return editor

    def editor(self, name: str) -> QWidget:
        return self._editors[name]

    def set_value(self, name: str, value: Any) -> None:
        editor = self._editors[name]
        if isinstance(editor, QComboBox):
            editor.setCurrentIndex(max(0, editor.findData(value)))
        elif isinstance(editor, QCheckBox):
            editor.setChecked(bool(value))
        elif isinstance(editor, QSpinBox):
            editor.setValue(int(value))
        elif isinstance(editor, QLineEdit):
            editor.setText(_text_of(value))

    def value(self, name: str) -> Any:
        editor = self._editors[name]
        if isinstance(editor, QComboBox):
            return editor.currentData()
        if isinstance(editor, QCheckBox):
            return editor.isChecked()
        if isinstance(editor, QSpinBox):
            return editor.value()
        assert isinstance(editor, QLineEdit)
        return cfg.parse_value(HINTS[name], editor.text().strip(), label_for(name))

    def set_config(self, config: TrainConfig) -> None:
        for name in self._editors:
            self.set_value(name, getattr(config, name))

    def values(self) -> dict[str, Any]:
        """The form's values, parsed; raises ConfigError naming a field whose text does not parse."""
        return {name: self.value(name) for name in self._editors}

    def config(self, **panel_values: Any) -> TrainConfig:
        """A validated config from the form plus the panel's own fields; raises ConfigError."""
        try:
            return TrainConfig.from_dict({**self.values(), **panel_values})
        except TypeError as exc:
            raise ConfigError(str(exc)) from None
