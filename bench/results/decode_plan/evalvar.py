"""Scratch: score the evaluation set with three frame paths (old edge, analyze/evaluated, new edge)."""
import json, sys, time
from pathlib import Path
sys.path.insert(0, "/tmp/gwv/snap")
sys.path.insert(1, "/tmp/gwv")
import edge
assert edge.__file__.startswith("/tmp/gwv/snap"), edge.__file__
import edge.analyze as an
import edge.evaluate as ev
from edge.models import load_models
from verify_lib import make_frames_of
models = load_models()
clips = [ev.load_clip(p) for p in sorted(Path(sys.argv[1]).glob("*.json")) if p.name != "index.json"]
variants = {"old_edge": (False, False), "analyze": (False, True), "new_edge": (True, True)}
results = {k: [] for k in variants}
raw = {}
t0 = time.time()
for i, clip in enumerate(clips):
    for name, (slf, onepass) in variants.items():
        an.frames_of = make_frames_of(slf, onepass)
        r = ev.run_clip(clip, models=models)
        results[name].append(r)
        raw.setdefault(clip.name, {})[name] = [(e.kind, e.start_s, e.end_s) for e in r.raised]
    print(i, clip.name, f"{time.time() - t0:.0f}s", {k: raw[clip.name][k] for k in variants}, flush=True)
out = {name: ev.score(rs) for name, rs in results.items()}
Path("/tmp/gwv/evalvar.json").write_text(json.dumps({"scores": out, "raw": raw}, indent=1, default=str))
for name, sc in out.items():
    print(name, json.dumps(sc["families"], default=str))
