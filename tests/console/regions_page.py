"""The console's region editor as a test drives it: where a 0..1 point of the picture is on the page,
and whether a save went through."""

from __future__ import annotations

from typing import Any


def point_at(pg: Any, x: float, y: float) -> tuple[float, float]:
    """Page coordinates of the 0..1 point (x, y) of the drawing."""
    svg = pg.locator("#regions-svg")
    svg.scroll_into_view_if_needed()
    box = svg.bounding_box()
    return box["x"] + x * box["width"], box["y"] + y * box["height"]


def wait_saved(pg: Any) -> None:
    """Wait for the save's answer and check it was a success (else say what the page said)."""
    message = pg.wait_for_selector("#regions-message")
    assert message.get_attribute("data-key") == "regions.saved", message.inner_text()
