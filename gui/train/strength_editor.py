"""How strongly realistic degradation spoils the training inputs: a named strength (light, medium,
strong), or "custom" with its parameters as JSON (as `--set realistic=...` takes them), so the dozens of
nested parameters stay behind one knob."""

from __future__ import annotations

import dataclasses
import json

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QLineEdit, QVBoxLayout, QWidget

from engine.errors import ConfigError
from engine.data.degradations import CUSTOM, STRENGTHS, DegradationError, RealisticDegradation, realistic_from, strength_of


class StrengthEditor(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.strength = QComboBox()
        self.strength.addItems([*STRENGTHS, CUSTOM])
        self.strength.setToolTip("light: mild blur, noise and JPEG; medium: the default; strong: Real-ESRGAN's own")
        self.parameters = QLineEdit(placeholderText="JSON object of degradation parameters")
        self.parameters.setToolTip("Parameters not named here keep the medium strength's values")
        self.strength.currentTextChanged.connect(self._on_strength)
        self.parameters.textChanged.connect(self.changed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.strength)
        layout.addWidget(self.parameters)
        self.set_value(STRENGTHS["medium"])

    def _on_strength(self, name: str) -> None:
        if name == CUSTOM and not self.parameters.text():
            self.parameters.setText(json.dumps(dataclasses.asdict(STRENGTHS["medium"])))
        self.parameters.setVisible(name == CUSTOM)
        self.changed.emit()

    def set_value(self, params: RealisticDegradation) -> None:
        name = strength_of(params)
        if name == CUSTOM:
            self.parameters.setText(json.dumps(dataclasses.asdict(params)))
        self.strength.setCurrentText(name)
        self.parameters.setVisible(name == CUSTOM)

    def value(self) -> RealisticDegradation:
        """The parameters; ConfigError naming the setting when the custom JSON does not parse."""
        name = self.strength.currentText()
        try:
            return realistic_from(self.parameters.text().strip() if name == CUSTOM else name)
        except DegradationError as exc:
            raise ConfigError(f"Strength: {exc}") from None
