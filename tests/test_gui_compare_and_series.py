"""The before/after view's wipe, zoom, preview-or-full drawing and kept view; the plot buffers' growth and
smoothing."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QImage, QWheelEvent
from PySide6.QtWidgets import QApplication

from gui.upscale.compare_view import CompareView, ViewImage
from gui.common.images import pack_argb32, packed_qimage
from gui.train.plot_series import Series


def test_divider_drag_wheel_zoom_and_one_to_one(qtbot) -> None:
    view = CompareView()
    qtbot.addWidget(view)
    view.resize(400, 300)
    view.show()
    before, after = QImage(100, 75, QImage.Format.Format_RGB888), QImage(400, 300, QImage.Format.Format_RGB888)
    before.fill(Qt.GlobalColor.red)
    after.fill(Qt.GlobalColor.blue)
    view.set_images(ViewImage.of(before), ViewImage.of(after))
    assert view.zoom() == 1.0  # 400x300 fits 400x300 exactly

    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=QPoint(200, 150))  # on the divider
    qtbot.mouseMove(view, QPoint(100, 150))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=QPoint(100, 150))
    assert view.split() == 0.25
    shot = view.grab().toImage()
    assert shot.pixelColor(50, 150).red() > 200 and shot.pixelColor(300, 150).blue() > 200

    wheel = QWheelEvent(QPointF(300, 150), QPointF(300, 150), QPoint(), QPoint(0, 240), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view, wheel)
    assert abs(view.zoom() - 1.15 ** 2) < 1e-9
    view.actual_size()
    assert view.zoom() == 1.0


def filled(width: int, height: int, color: Qt.GlobalColor) -> QImage:
    image = QImage(width, height, QImage.Format.Format_RGB888)
    image.fill(color)
    return image


def test_preview_until_zoomed_past_it_then_the_full_image_and_the_view_is_kept(qtbot) -> None:
    view = CompareView()
    qtbot.addWidget(view)
    view.resize(400, 300)
    view.show()
    loads: list[int] = []
    full = filled(4000, 3000, Qt.GlobalColor.green)  # the preview is red, so the grab says which was drawn
    after = ViewImage(filled(400, 300, Qt.GlobalColor.red), full.size(), lambda: loads.append(1) or full)
    view.set_images(ViewImage.of(filled(10, 10, Qt.GlobalColor.black)), after)
    view.set_split(0.0)
    assert view.zoom() == 0.1 and view.grab().toImage().pixelColor(200, 150).red() > 200 and not loads
    view.actual_size()
    assert view.grab().toImage().pixelColor(200, 150).green() > 200 and loads == [1]

    view.set_images(ViewImage.of(filled(10, 10, Qt.GlobalColor.black)), ViewImage.of(filled(800, 600,
                                                                                             Qt.GlobalColor.blue)))
    assert view.zoom() == 1.0  # another pair keeps the zoom


def test_series_grows_past_capacity_and_smooths() -> None:
    series = Series(smoothing=0.5, capacity=2)
    for step, value in enumerate([0.0, 2.0, 2.0, 2.0, 2.0]):
        series.append(step, value)
    x, raw = series.data(smoothed=False)
    _, smooth = series.data()
    np.testing.assert_array_equal(x, [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(raw, [0, 2, 2, 2, 2])
    np.testing.assert_allclose(smooth, [0, 1, 1.5, 1.75, 1.875])
    series.set_smoothing(0.0)
    np.testing.assert_array_equal(series.data()[1], raw)


def test_packed_previews_match_the_pixels() -> None:
    rgba = np.array([[[200, 100, 50, 255], [200, 100, 50, 0], [200, 100, 50, 128]]], np.uint8)
    image = packed_qimage(pack_argb32(rgba), alpha=True)
    colors = [image.pixelColor(x, 0) for x in range(3)]
    assert colors[0].getRgb() == (200, 100, 50, 255) and colors[1].alpha() == 0
    assert abs(colors[2].red() - 200) <= 2 and colors[2].alpha() == 128  # un-premultiplied back
    grey = packed_qimage(pack_argb32(np.full((2, 2, 1), 77, np.uint8)), alpha=False)
    assert grey.pixelColor(1, 1).getRgb() == (77, 77, 77, 255)
