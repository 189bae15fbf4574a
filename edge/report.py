"""The HTML page ``gridwatch eval --report`` writes: per clip, truth against raised events, and what the
detector saw (its snapshots), so a person can judge the detector by looking rather than by reading.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edge.evaluate import ClipResult

_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.4em} h2{font-size:1.05em;margin:1.4em 0 .3em}
pre{background:#fff;border:1px solid #ddd;padding:.8em;overflow-x:auto}
.clip{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.6em 1em;margin:.8em 0}
.bad{border-left:6px solid #c33} .good{border-left:6px solid #3a3}
.tags{color:#666;font-size:.85em} .snaps img{height:150px;margin:4px;border:1px solid #ccc}
.legend span{display:inline-block;padding:0 .5em;margin-right:.6em;color:#fff;border-radius:3px}
figure{display:inline-block;margin:4px} figcaption{font-size:.75em;color:#444}
"""
_COLOURS = {"obstructions": "#d9822b", "faults": "#4a6fd1"}


def _family(kind: str) -> str:
    return "faults" if kind.startswith("camera_") else "obstructions"


def _timeline(res: ClipResult) -> str:
    dur = max(1.0, res.clip.duration_s)
    width, row = 900, 22
    x = lambda t: 110 + (width - 120) * max(0.0, min(dur, t)) / dur  # noqa: E731
    parts = [f'<svg width="{width}" height="{3 * row + 14}" xmlns="http://www.w3.org/2000/svg">',
             f'<text x="4" y="{row - 6}" font-size="12">truth</text>',
             f'<text x="4" y="{2 * row - 6}" font-size="12">raised</text>']
    for i, t in enumerate(res.clip.events):
        end = t.end_s if t.end_s is not None else dur
        col = _COLOURS[_family(t.kind)]
        parts.append(f'<rect x="{x(t.start_s):.1f}" y="4" width="{max(2, x(end) - x(t.start_s)):.1f}" '
                     f'height="{row - 8}" fill="{col}" opacity=".85"><title>{html.escape(t.kind)} '
                     f'{t.start_s:.1f}-{end:.1f} s (truth #{i})</title></rect>')
    matched = {ri for _, ri in res.matches}
    for i, e in enumerate(res.raised):
        end = e.end_s if e.end_s is not None else dur
        col = _COLOURS[_family(e.kind)] if i in matched else "#c33"
        w = max(2, x(end) - x(e.start_s))
        note = "" if i in matched else " (FALSE ALARM)"
        parts.append(f'<rect x="{x(e.start_s):.1f}" y="{row + 4}" width="{w:.1f}" height="{row - 8}" '
                     f'fill="{col}"><title>{html.escape(e.kind)} raised {e.start_s:.1f} s, '
                     f'score {e.score:.2f}{note}</title></rect>')
    for s in range(0, int(dur) + 1, 10):
        parts.append(f'<line x1="{x(s):.1f}" x2="{x(s):.1f}" y1="{2 * row}" y2="{2 * row + 5}" '
                     'stroke="#888"/>'
                     f'<text x="{x(s) - 6:.1f}" y="{2 * row + 17}" font-size="10">{s}s</text>')
    parts.append("</svg>")
    return "".join(parts)


def write_report(path: Path, results: list[ClipResult], figures: dict[str, object], summary: str) -> None:
    """Write one self-contained HTML file (snapshots embedded as data URIs)."""
    out = ["<!doctype html><html><head><meta charset='utf-8'><title>gridwatch eval</title>",
           f"<style>{_CSS}</style></head><body><h1>gridwatch detection evaluation</h1>",
           f"<pre>{html.escape(summary)}</pre>",
           "<p class='legend'><span style='background:#d9822b'>obstruction</span>"
           "<span style='background:#4a6fd1'>camera fault</span><span style='background:#c33'>false alarm"
           "</span> Top row: ground truth; bottom row: raised events (hover for details).</p>"]
    for res in results:
        missed = len(res.clip.events) - len(res.matches)
        false = len(res.raised) - len(res.matches)
        ok = res.error is None and missed == 0 and false == 0
        out.append(f"<div class='clip {'good' if ok else 'bad'}'><h2>{html.escape(res.clip.name)}</h2>")
        out.append(f"<div class='tags'>{html.escape(', '.join(res.clip.tags))} - "
                   f"{res.clip.duration_s:.0f} s, missed {missed}, false alarms {false}</div>")
        if res.error:
            out.append(f"<p>error: {html.escape(res.error)}</p></div>")
            continue
        out.append(_timeline(res))
        snaps = []
        for e in res.raised:
            if e.snapshot:
                uri = "data:image/jpeg;base64," + base64.b64encode(e.snapshot).decode()
                cap = f"{e.kind} at {e.start_s:.1f} s (score {e.score:.2f})"
                snaps.append(f"<figure><img src='{uri}' alt='{html.escape(cap)}'>"
                             f"<figcaption>{html.escape(cap)}</figcaption></figure>")
        if snaps:
            out.append("<div class='snaps'>" + "".join(snaps) + "</div>")
        out.append("</div>")
    out.append("</body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out), encoding="utf-8")
