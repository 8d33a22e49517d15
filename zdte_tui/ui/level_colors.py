"""One colour per key level (spot, flip, call wall, put wall, magnet, expected move) for every chart
that draws them: the price chart's lines and legend, the GEX profile's marks.

The colours are given as RGB, not as ANSI names: Textual re-maps ANSI colours through its ANSI theme
before they reach the terminal, and the default dark theme maps red and magenta to the same colour
(#F4005F), which made the put wall and the magnet indistinguishable. Each RGB is an exact xterm-256
entry, so a 256-colour terminal shows the same colours as a truecolour one. The light variants are
darker so they keep their contrast on a light background.
"""

from __future__ import annotations

RGB = tuple[int, int, int]

# name -> (dark theme, light theme); xterm-256 index in the comment
LEVEL_RGB: dict[str, tuple[RGB, RGB]] = {
    "spot": ((238, 238, 238), (28, 28, 28)),  # 255 / 234
    "flip": ((255, 215, 0), (175, 135, 0)),  # 220 / 136
    "CW": ((0, 215, 0), (0, 135, 0)),  # 40 / 28
    "PW": ((255, 95, 95), (215, 0, 0)),  # 203 / 160
    "MAG": ((215, 95, 255), (135, 0, 175)),  # 171 / 91
    "EM": ((0, 215, 255), (0, 135, 175)),  # 45 / 31
}


def level_rgb(name: str, *, dark: bool = True) -> RGB:
    """The RGB of a level's line (``EM low`` shares ``EM``'s)."""
    dark_rgb, light_rgb = LEVEL_RGB[name.split()[0]]
    return dark_rgb if dark else light_rgb


def level_style(name: str, *, dark: bool = True) -> str:
    """A Rich/Textual style string, ``bold #rrggbb``, for the level's name in a legend."""
    r, g, b = level_rgb(name, dark=dark)
    return f"bold #{r:02x}{g:02x}{b:02x}"
