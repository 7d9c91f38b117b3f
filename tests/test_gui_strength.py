"""The Upscale tab's strength slider and its job-named model picker, with tiny bundled models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import Qt

from engine.archs.networks import CompactGenerator
from engine.models import sources
from engine.models.export import export_generator
from engine.models.registry import load_model
from engine.upscaling.upscaler import Upscaler
from gui.upscale import model_picker
from gui.upscale.panel import UpscalePanel
from tests.gui_helpers import isolated_settings, write_images
from tests.upscale_helpers import drop, make_panel, pick_in_popup, wait_idle


@pytest.fixture
def bundled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """crisp (with its partner faithful, a nearby net) and alone (no partner), bundled."""
    folder = tmp_path / "bundled"
    folder.mkdir()
    torch.manual_seed(0)
    faithful = CompactGenerator(3, 8, 2, 4)
    crisp = CompactGenerator(3, 8, 2, 4)
    crisp.load_state_dict({k: v + 0.1 * torch.randn_like(v) for k, v in faithful.state_dict().items()})
    for name, net in (("crisp", crisp), ("faithful", faithful), ("alone", faithful)):
        export_generator(folder / f"{name}.safetensors", net.state_dict(), net.spec(), (0.0, 1.0))
    monkeypatch.setattr(sources, "BUNDLED_DIR", folder)
    monkeypatch.setattr(sources, "STRENGTH_PARTNERS", {"crisp": "faithful"})
    monkeypatch.setattr(model_picker, "JOB_MODELS", {"Faithful (no invented detail)": "faithful",
                                                     "Photos (fast)": "crisp", "Anime and drawings": "not-bundled"})
    monkeypatch.setattr(model_picker, "PHOTO_FAST_MODEL", "crisp")
    return folder


def _upscale(qtbot, panel: UpscalePanel, image: Path) -> np.ndarray:
    drop(panel.drop_zone, [image])
    wait_idle(qtbot, panel)
    return panel.queue.entries[-1].result.load_full()


def test_slider_moves_the_result_from_the_model_to_its_partner(qtbot, tmp_path: Path, bundled: Path) -> None:
    panel = make_panel(qtbot, tmp_path)
    settings = panel.settings
    assert panel.model.currentText() == "Photos (fast)"  # a dropped photo gets the fast photo model
    assert settings.strength.isEnabled() and settings.strength_value.text() == "1.00"
    image = write_images(tmp_path / "in", 1, size=20)[0]
    crisp = _upscale(qtbot, panel, image)
    assert " at " not in panel.queue.entries[-1].spec.model_label  # at full strength: the model as it is
    settings.strength.setFocus()
    qtbot.keyClick(settings.strength, Qt.Key.Key_PageDown)  # one page: 10 of 100 positions
    assert settings.strength_value.text() == "0.90"
    qtbot.keyClick(settings.strength, Qt.Key.Key_Home)
    assert settings.strength_value.text() == "0.00"
    faithful = _upscale(qtbot, panel, image)
    pixels = np.asarray(Image.open(image).convert("RGB"))
    expected = Upscaler(load_model(bundled / "faithful.safetensors"), "cpu").upscale(pixels)
    assert np.abs(crisp.astype(int) - faithful.astype(int)).mean() > 1
    assert np.abs(faithful.astype(int) - expected.astype(int)).max() <= 1
    assert panel.queue.entries[-1].spec.model_label == "crisp at 0.00"


def test_slider_is_off_for_a_model_without_partner(qtbot, tmp_path: Path, bundled: Path) -> None:
    panel = make_panel(qtbot, tmp_path)
    pick_in_popup(qtbot, panel.model, "Bundled: alone")
    assert not panel.settings.strength.isEnabled()
    assert "crisp" in panel.settings.strength.toolTip()
    assert panel.settings.run_spec().strength is None
    pick_in_popup(qtbot, panel.model, "Photos (fast)")
    assert panel.settings.strength.isEnabled() and panel.settings.run_spec().strength == 1.0


def test_picker_names_models_by_job_first_and_restores_the_choice(qtbot, tmp_path: Path, bundled: Path) -> None:
    panel = make_panel(qtbot, tmp_path)
    picker = panel.model
    texts = [picker.itemText(i) for i in range(picker.count())]
    assert texts == ["Faithful (no invented detail)", "Photos (fast)", "Bundled: alone", "Open model file…"]
    assert picker.currentText() == "Photos (fast)"
    assert picker.itemData(1, Qt.ItemDataRole.ToolTipRole).startswith("crisp: ")
    assert picker.current_label() == "crisp"  # queue rows and file names keep the model's own name
    pick_in_popup(qtbot, picker, "Faithful (no invented detail)")
    panel.settings.strength.setValue(30)
    settings = isolated_settings(tmp_path)
    settings.sync()
    again = UpscalePanel(settings)
    qtbot.addWidget(again)
    assert again.model.currentText() == "Faithful (no invented detail)" and again.model.count() == 4
    assert again.settings.strength_value.text() == "0.30" and not again.settings.strength.isEnabled()
