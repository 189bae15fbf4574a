"""The console's files obey the house rules: every string in both catalogues, nothing inline, nothing
from the internet, no eval, and every key the code asks for exists in Chinese and English."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from central.order_lifecycle import Action, State
from gridwatch.config import load_town
from gridwatch.wire import EventKind

STATIC = Path(__file__).resolve().parents[2] / "central" / "console" / "static"
SAMPLE = Path(__file__).resolve().parents[2] / "configs" / "yongshan"
LANGS = ("zh-CN", "en")
HTML_FILES = sorted(STATIC.glob("*.html"))
JS_FILES = sorted((STATIC / "js").glob("*.js"))
PLACEHOLDER = re.compile(r"\{(\w+)\}")
#: Keys whose callers pass several arguments and each language uses the ones it needs
#: (grid.name: the town's own Chinese grid name, or "Grid <n>" in English).
LANGUAGE_SPECIFIC_ARGS = frozenset({"grid.name"})
CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]")


def catalogue(lang: str) -> dict[str, str]:
    return json.loads((STATIC / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))


class _Markup(HTMLParser):
    """Collects what the rules forbid or need checking in one HTML file."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.text: list[str] = []
        self.keys: set[str] = set()
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag not in ("meta", "link", "input", "br", "img"):
            self.stack.append(tag)
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"inline handler {name} on <{tag}>")
            if name == "style":
                self.problems.append(f"inline style on <{tag}>")
            if name.startswith("data-i18n") and value:
                self.keys.add(value)
            if name in ("src", "href", "action") and value and re.match(r"^(https?:)?//", value):
                self.problems.append(f"external URL {value}")
            if name in ("title", "placeholder", "aria-label", "alt") and value:
                self.problems.append(f"hard-coded {name}={value!r} on <{tag}>")
        if tag == "script" and not a.get("src"):
            self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("inline <style>")

    def handle_endtag(self, tag: str) -> None:
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(data.strip())


def _parse(path: Path) -> _Markup:
    parser = _Markup()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_catalogues_have_the_same_keys_and_placeholders() -> None:
    zh, en = catalogue("zh-CN"), catalogue("en")
    assert set(zh) == set(en), f"only in zh-CN: {set(zh) - set(en)}; only in en: {set(en) - set(zh)}"
    for key in zh:
        assert zh[key].strip() and en[key].strip(), f"empty text for {key}"
        if key in LANGUAGE_SPECIFIC_ARGS:
            continue
        assert set(PLACEHOLDER.findall(zh[key])) == set(PLACEHOLDER.findall(en[key])), key
    # Chinese is the default: its catalogue is really Chinese, the English one really is not.
    assert sum(bool(CJK.search(v)) for v in zh.values()) > 0.8 * len(zh)
    assert not [k for k, v in en.items() if CJK.search(v) and k != "lang.zh"]


@pytest.mark.parametrize("path", HTML_FILES, ids=lambda p: p.name)
def test_markup_has_no_hard_coded_text_and_nothing_inline(path: Path) -> None:
    parsed = _parse(path)
    assert parsed.problems == []
    assert parsed.text == [], f"text in markup instead of the catalogue: {parsed.text}"
    missing = {k for k in parsed.keys for lang in LANGS if k not in catalogue(lang)}
    assert not missing, f"keys used in {path.name} but missing from a catalogue: {missing}"


def _js_keys(source: str) -> set[str]:
    keys = set(re.findall(r"""\b(?:i18n|i18nTitle|i18nPlaceholder)\s*:\s*['"]([\w.]+)['"]""", source))
    keys |= set(re.findall(r"""\bt\(\s*['"]([\w.]+)['"]""", source))
    keys |= set(re.findall(r"""\bhas\(\s*['"]([\w.]+)['"]""", source))
    return keys


@pytest.mark.parametrize("path", JS_FILES, ids=lambda p: p.name)
def test_scripts_use_only_catalogue_text_and_stay_within_the_csp(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    code = re.sub(r"/\*.*?\*/", "", source, flags=re.S)
    code = re.sub(r"^\s*//.*$", "", code, flags=re.M)
    code = code.replace("'http://www.w3.org/2000/svg'", "SVG_NS")  # a namespace name, not a fetch
    assert not CJK.search(code), f"{path.name}: Chinese text belongs in the catalogue"
    for bad in ("eval(", "new Function", "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
                "setAttribute('style'", 'setAttribute("style"'):
        assert bad not in code, f"{path.name} uses {bad}"
    assert not re.search(r"""['"`]https?://""", code), f"{path.name} refers to another site"
    assert not re.search(r"""\btext:\s*['"][A-Za-z]""", code), f"{path.name}: literal UI text, use i18n"
    for imported in re.findall(r"""from\s+['"](\.[^'"]+)['"]""", code):
        assert (path.parent / imported).resolve().is_file(), f"{path.name} imports missing {imported}"
    missing = {k for k in _js_keys(code) for lang in LANGS if k not in catalogue(lang)}
    assert not missing, f"keys used in {path.name} but missing from a catalogue: {missing}"


def test_every_value_the_console_translates_has_words() -> None:
    """Keys built at run time (kind, state, action, role, status, ...) exist for every value."""
    town = load_town(SAMPLE)
    families = {
        "kind": {k.value for k in EventKind} | {r.kind for r in town.routing}
        | {s.kind for s in town.services},
        "state": {s.value for s in State},
        "action": {a.value for a in Action} | {"create", "supervise", "camera_clear"},
        "role": {"dispatcher", "maintainer", "grid_worker", "department", "admin", "edge", "system",
                 "camera"},
        "status": {"online", "degraded", "offline", "disabled", "unknown"},
        "feed": {"connecting", "open", "closed"},
        # RTCPeerConnection.connectionState values, plus the console's own "stopped"
        "live": {"new", "connecting", "connected", "disconnected", "failed", "closed", "stopped"},
        "deadline": {"acknowledge", "accept", "arrive", "feedback", "verify", "close"},
        "source": {"camera", "grid_worker", "public"},
        "sound": {"on", "off"},
        "region": {"road", "slope", "mask", "parking"},
        "board": {"count_open", "count_new", "count_p1", "count_overdue", "count_shown"},
    }
    for lang in LANGS:
        cat = catalogue(lang)
        missing = sorted(f"{fam}.{v}" for fam, values in families.items() for v in values
                         if f"{fam}.{v}" not in cat)
        assert not missing, f"{lang}: {missing}"
