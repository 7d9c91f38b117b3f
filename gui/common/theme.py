"""Light and dark palettes for the Fusion style, and matching plot colours.

The choice is "system", "light" or "dark"; "system" follows the desktop's colour scheme.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

THEMES = ("system", "light", "dark")
INPUT_CLASSES = ("QLineEdit", "QAbstractSpinBox", "QComboBox")
FUSION_OUTLINE_DARKER = 140  # Fusion's frame colour is the palette's window colour .darker(140)


@dataclass(frozen=True)
class Colors:
    window: str
    base: str
    alt_base: str
    text: str
    muted: str
    button: str
    highlight: str
    highlight_text: str
    border: str
    warning_bg: str
    warning_text: str
    error_text: str


LIGHT = Colors(window="#f3f4f6", base="#ffffff", alt_base="#f8f9fb", text="#1f2328", muted="#656d76",
               button="#ffffff", highlight="#2f6fde", highlight_text="#ffffff", border="#d0d7de",
               warning_bg="#fff4d6", warning_text="#6b4a00", error_text="#c62828")
DARK = Colors(window="#1e2026", base="#16181d", alt_base="#22252c", text="#e6e8eb", muted="#9aa1ab",
              button="#2a2d35", highlight="#4c8dff", highlight_text="#ffffff", border="#3a3f4a",
              warning_bg="#4a3b12", warning_text="#ffe2a3", error_text="#ff8a80")


def system_is_dark() -> bool:
    hints = QGuiApplication.styleHints()
    return hints is not None and hints.colorScheme() == Qt.ColorScheme.Dark


def resolve(theme: str) -> Colors:
    if theme == "dark" or (theme == "system" and system_is_dark()):
        return DARK
    return LIGHT


def build_palette(colors: Colors) -> QPalette:
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: colors.window, QPalette.ColorRole.WindowText: colors.text,
        QPalette.ColorRole.Base: colors.base, QPalette.ColorRole.AlternateBase: colors.alt_base,
        QPalette.ColorRole.Text: colors.text, QPalette.ColorRole.Button: colors.button,
        QPalette.ColorRole.ButtonText: colors.text, QPalette.ColorRole.Highlight: colors.highlight,
        QPalette.ColorRole.HighlightedText: colors.highlight_text, QPalette.ColorRole.ToolTipBase: colors.base,
        QPalette.ColorRole.ToolTipText: colors.text, QPalette.ColorRole.PlaceholderText: colors.muted,
        QPalette.ColorRole.Link: colors.highlight, QPalette.ColorRole.Mid: colors.border,
    }
    for role, value in roles.items():
        palette.setColor(role, QColor(value))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(colors.muted))
    # Fusion fills a slider's groove with the highlight colour even when it is off: grey it like the text
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Highlight, QColor(colors.border))
    return palette


def input_palette(colors: Colors) -> QPalette:
    """Fusion draws an input's frame in its palette's window colour, darkened: on the dark theme that is
    the colour of the window itself, so fields had no visible edge. Inputs get a window colour whose
    darker shade is the theme's border colour."""
    palette = build_palette(colors)
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive, QPalette.ColorGroup.Disabled):
        palette.setColor(group, QPalette.ColorRole.Window, QColor(colors.border).lighter(FUSION_OUTLINE_DARKER))
    return palette


def stylesheet(colors: Colors) -> str:
    """Only what a palette cannot say: group-box titles, the warning banner, error text, the drop zone."""
    return f"""
    QGroupBox {{ font-weight: 600; border: 1px solid {colors.border}; border-radius: 6px;
                 margin-top: 12px; padding: 10px 8px 8px 8px; }}
    QGroupBox::title {{ subcontrol-origin: margin; left: 10px; padding: 0 4px; }}
    QLabel[role="muted"] {{ color: {colors.muted}; }}
    QLabel[role="error"] {{ color: {colors.error_text}; font-weight: 600; }}
    QLabel[role="banner"], QLabel[role="note"] {{ background: {colors.warning_bg}; color: {colors.warning_text};
                                                 border-radius: 4px; padding: 6px 8px; }}
    QFrame[role="dropzone"] {{ border: 2px dashed {colors.border}; border-radius: 8px; background: {colors.alt_base}; }}
    QFrame[role="dropzone"][hover="true"] {{ border-color: {colors.highlight}; }}
    QPushButton {{ padding: 5px 14px; }}
    QPushButton[role="primary"] {{ background: {colors.highlight}; color: {colors.highlight_text};
                                   border: none; border-radius: 4px; font-weight: 600; }}
    QPushButton[role="primary"]:disabled {{ background: {colors.border}; color: {colors.muted}; }}
    """


def apply(app: QApplication, theme: str) -> Colors:
    """Apply the palette and stylesheet; returns the colours so plots can follow."""
    colors = resolve(theme)
    app.setStyle("Fusion")
    app.setPalette(build_palette(colors))
    for widget_class in INPUT_CLASSES:
        app.setPalette(input_palette(colors), widget_class)
    app.setStyleSheet(stylesheet(colors))
    return colors
