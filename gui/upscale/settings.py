"""The Upscale tab's settings: model, strength (for models with a partner), engine (PyTorch or ncnn) and
device (PyTorch's, and ncnn's Vulkan GPUs by name), output size, output folder with auto-save, file format
and quality. Every choice is stored in QSettings the moment it changes and restored at the next launch."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths, Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                               QLineEdit, QPushButton, QSlider, QSpinBox, QWidget)

from engine.device import available_devices, describe_device, resolve_device
from engine.upscaling.backends import describe_auto
from engine.upscaling.ncnn_backend import vulkan_devices
from engine.errors import ModelLoadError
from engine.models.sources import strength_models, strength_partner
from gui.upscale.model_picker import ModelPicker
from gui.upscale.queue_entry import RunSpec
from engine.io.images import FORMATS, QUALITY_FORMATS

WIDTH_CHOICE = "width"
# The output size menu: label -> scale (None = the model's own), or WIDTH_CHOICE for a width in pixels.
SCALE_CHOICES: tuple[tuple[str, float | str | None], ...] = (
    ("Model's scale", None), ("×2", 2.0), ("×3", 3.0), ("×4", 4.0), ("Width in pixels", WIDTH_CHOICE))
# QSettings keys
OUTPUT_DIR, AUTO_SAVE, MODEL, MODEL_WHICH = "upscale/output_dir", "upscale/auto_save", "upscale/model", "upscale/which"
FORMAT, QUALITY, SCALE, WIDTH, DEVICE = ("upscale/format", "upscale/quality", "upscale/scale", "upscale/width",
                                         "upscale/device")
BACKEND = "upscale/backend"
# The engine menu: label, BACKEND_CHOICES value
ENGINES = (("Auto engine", "auto"), ("PyTorch", "torch"), ("ncnn", "ncnn"))
ENGINE_TIP = ("Auto: PyTorch on a CUDA or Apple GPU; otherwise ncnn on a Vulkan GPU; else, on the CPU, the engine "
              "timed faster for the model here (when the model list shows its cost), ncnn until then; PyTorch "
              "for models ncnn cannot run")
STRENGTH = "upscale/strength"
STRENGTH_STEPS = 100  # the slider's positions: strength = position / STRENGTH_STEPS
STRENGTH_TIP = "Mixes the model with its partner: faithful (left) to the model's crisp detail (right)"
NO_STRENGTH = "Only models with a partner of the same architecture have a strength: {}"


def default_output_dir() -> Path:
    pictures = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
    return Path(pictures or Path.home()) / "SRGAN Studio"


class UpscaleSettingsBox(QGroupBox):
    """The settings box. `run_spec()` is how new rows are upscaled; the rest says how results are saved."""

    problem = Signal(str)

    def __init__(self, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__("Model and output", parent)
        self._settings = settings
        self.model = ModelPicker(settings)
        self.description = QLabel(wordWrap=True)
        self.description.setProperty("role", "muted")
        self.backend = QComboBox(toolTip=ENGINE_TIP)
        for label, value in ENGINES:
            self.backend.addItem(label, value)
        self.strength = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=STRENGTH_STEPS, value=STRENGTH_STEPS)
        self.strength_value = QLabel()
        self._strength_ends = (QLabel("Faithful"), QLabel("Crisp"))
        self.device = QComboBox()
        self.device.addItem(f"Auto ({describe_auto()})", "auto")
        for name in available_devices():
            self.device.addItem(describe_device(resolve_device(name)), name)
        for gpu in vulkan_devices():  # ncnn's; the engine's auto rule skips software ones
            self.device.addItem(gpu.label, f"vulkan:{gpu.index}")
        self.engine = QLabel(wordWrap=True)  # where the last batch ran
        self.engine.setProperty("role", "muted")
        self.scale = QComboBox()
        for label, value in SCALE_CHOICES:
            self.scale.addItem(label, value)
        self.width_box = QSpinBox(minimum=16, maximum=65536, value=3840, suffix=" px", singleStep=64)
        self.output_dir = QLineEdit(readOnly=True)
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(self._choose_output_dir)
        self.auto_save = QCheckBox("Save each result there when it is done")
        self.auto_save.setToolTip("Images of a dropped folder are always saved there, keeping the folder's tree")
        self.format = QComboBox()
        self.format.addItems([fmt.upper() for fmt in FORMATS])
        self.quality = QSpinBox(minimum=1, maximum=100, value=95, prefix="quality ")
        self._build_layout()
        self._restore()
        self._connect()

    def _build_layout(self) -> None:
        size_row = QHBoxLayout()
        size_row.addWidget(self.scale, 1)
        size_row.addWidget(self.width_box, 1)
        engine_row = QHBoxLayout()
        engine_row.addWidget(self.backend, 1)
        engine_row.addWidget(QLabel("on"))
        engine_row.addWidget(self.device, 2)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.output_dir, 1)
        folder_row.addWidget(self.browse)
        format_row = QHBoxLayout()
        format_row.addWidget(self.format, 1)
        format_row.addWidget(self.quality, 1)
        strength_row = QHBoxLayout()
        for widget, stretch in ((self._strength_ends[0], 0), (self.strength, 1), (self._strength_ends[1], 0),
                                (self.strength_value, 0)):
            strength_row.addWidget(widget, stretch)
        self.strength_value.setMinimumWidth(self.strength_value.fontMetrics().horizontalAdvance("0.00") + 4)
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Model", self.model)
        form.addRow("", self.description)
        form.addRow("Strength", strength_row)
        form.addRow("Size", size_row)
        form.addRow("Engine", engine_row)
        form.addRow("", self.engine)
        form.addRow("Save to", folder_row)
        form.addRow("", self.auto_save)
        form.addRow("Format", format_row)

    # ------------------------------------------------------------------ persistence
    def _restore(self) -> None:
        settings = self._settings
        self.output_dir.setText(str(settings.value(OUTPUT_DIR, str(default_output_dir()))))
        self.auto_save.setChecked(settings.value(AUTO_SAVE, False, type=bool))
        self.format.setCurrentIndex(max(0, self.format.findText(str(settings.value(FORMAT, "png")).upper())))
        self.quality.setValue(settings.value(QUALITY, 95, type=int))
        self.scale.setCurrentIndex(max(0, self.scale.findText(str(settings.value(SCALE, SCALE_CHOICES[0][0])))))
        self.width_box.setValue(settings.value(WIDTH, 3840, type=int))
        self.device.setCurrentIndex(max(0, self.device.findData(settings.value(DEVICE, "auto"))))
        self.backend.setCurrentIndex(max(0, self.backend.findData(settings.value(BACKEND, "auto"))))
        self.strength.setValue(settings.value(STRENGTH, STRENGTH_STEPS, type=int))
        source, which = settings.value(MODEL, ""), str(settings.value(MODEL_WHICH, "ema"))
        if source and not self.model.select(str(source), which) and Path(str(source)).is_file():
            self.model.choose_file(str(source))
        self._show_format_and_size()
        self._show_description()
        self._show_strength()

    def _connect(self) -> None:
        settings = self._settings
        self.auto_save.toggled.connect(lambda on: settings.setValue(AUTO_SAVE, on))
        self.format.currentTextChanged.connect(lambda text: settings.setValue(FORMAT, text.lower()))
        self.format.currentTextChanged.connect(self._show_format_and_size)
        self.quality.valueChanged.connect(lambda value: settings.setValue(QUALITY, value))
        self.scale.currentTextChanged.connect(lambda text: settings.setValue(SCALE, text))
        self.scale.currentTextChanged.connect(self._show_format_and_size)
        self.width_box.valueChanged.connect(lambda value: settings.setValue(WIDTH, value))
        self.device.currentIndexChanged.connect(lambda _: settings.setValue(DEVICE, self.device.currentData()))
        self.backend.currentIndexChanged.connect(lambda _: settings.setValue(BACKEND, self.backend.currentData()))
        self.strength.valueChanged.connect(lambda value: settings.setValue(STRENGTH, value))
        self.strength.valueChanged.connect(self._show_strength)
        self.model.model_changed.connect(self._on_model_changed)
        self.model.checking.connect(self._show_description)
        self.model.problem.connect(self.problem)

    def _on_model_changed(self) -> None:
        current = self.model.current()
        if current is not None:
            self._settings.setValue(MODEL, current[0])
            self._settings.setValue(MODEL_WHICH, current[1])
        self._show_description()
        self._show_strength()

    def _has_strength(self) -> bool:
        current = self.model.current()
        try:
            return current is not None and strength_partner(current[0]) is not None
        except ModelLoadError:  # the file went away: it will say so when used
            return False

    def _show_strength(self) -> None:
        """The slider works only for a model with a partner; its value is shown either way."""
        enabled = self._has_strength()
        for widget in (self.strength, self.strength_value, *self._strength_ends):
            widget.setEnabled(enabled)
        self.strength_value.setText(f"{self.strength_setting():.2f}")
        self.strength.setToolTip(STRENGTH_TIP if enabled else NO_STRENGTH.format(", ".join(strength_models())))

    def strength_setting(self) -> float:
        return self.strength.value() / STRENGTH_STEPS

    def _show_description(self) -> None:
        checking = self.model.is_checking()
        self.description.setText("Checking the model file…" if checking else self.model.current_description())

    def _show_format_and_size(self) -> None:
        self.quality.setVisible(self.file_format() in QUALITY_FORMATS)
        self.width_box.setVisible(self.scale.currentData() == WIDTH_CHOICE)

    def _choose_output_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save results to", self.output_dir.text())
        if folder:
            self.output_dir.setText(folder)
            self._settings.setValue(OUTPUT_DIR, folder)

    # ------------------------------------------------------------------ reading
    def run_spec(self) -> RunSpec | None:
        """How rows added now are upscaled; None when no model is chosen."""
        current = self.model.current()
        if current is None:
            return None
        choice = self.scale.currentData()
        width = self.width_box.value() if choice == WIDTH_CHOICE else None
        scale = choice if isinstance(choice, float) else None
        label, strength = self.model.current_label(), None
        if self._has_strength():
            strength = self.strength_setting()
            label = f"{label} at {strength:.2f}" if strength < 1 else label  # at 1: the model as it is
        return RunSpec(current[0], current[1], label, scale, width, self.device.currentData(),
                       self.backend.currentData(), strength)

    def show_engine(self, description: str) -> None:
        """Say where the last batch ran, e.g. 'ncnn on the CPU (2 tile threads, Winograd, fp32)'."""
        self.engine.setText(f"Last run in {description}")

    def file_format(self) -> str:
        return self.format.currentText().lower()

    def folder(self) -> Path:
        return Path(self.output_dir.text())
