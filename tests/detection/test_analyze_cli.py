"""``gridwatch analyze`` and ``gridwatch eval`` as a user runs them: output format and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gridwatch.cli import main
from tests.detection import synth
from tests.detection.conftest import VTEST, VTEST_ROAD
from tests.support.needs import needs

CONTRACT_KEYS = {"kind", "start_s", "end_s", "score", "bbox"}


def test_analyze_prints_one_json_line_per_event_with_the_contract_keys(make_clip, capsys, tmp_path) -> None:
    video = make_clip("cli_blurred", synth.fault("blurred", at=20.0), 34)
    snaps = tmp_path / "snaps"
    code = main(["analyze", str(video), "--roi", synth.ROAD_ROI, "--snapshots", str(snaps)])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    assert len(out) == 1
    line = json.loads(out[0])
    assert set(line) == CONTRACT_KEYS
    assert line["kind"] == "camera_blurred"
    assert line["end_s"] is None and line["bbox"] is None and 0 <= line["score"] <= 1
    jpgs = list(snaps.glob("*.jpg"))
    assert len(jpgs) == 1 and jpgs[0].read_bytes()[:3] == b"\xff\xd8\xff"


def test_analyze_obstruction_line_has_a_bbox_in_unit_coordinates(make_clip, capsys) -> None:
    video = make_clip("cli_landslide", synth.landslide(at=20.0), 30)
    assert main(["analyze", str(video), "--roi", synth.ROAD_ROI, "--roi", synth.SLOPE_ROI]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.strip().splitlines()]
    assert [x["kind"] for x in lines] == ["landslide"]
    x0, y0, x1, y1 = lines[0]["bbox"]
    assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1


def test_analyze_missing_video_is_a_clear_error(capsys, tmp_path) -> None:
    assert main(["analyze", str(tmp_path / "nope.mp4")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_analyze_unreadable_video_is_a_clear_error(capsys, tmp_path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"this is not a video" * 100)
    assert main(["analyze", str(bad)]) == 1
    assert "cannot open video" in capsys.readouterr().err


def test_analyze_bad_roi_is_a_clear_error(make_clip, capsys) -> None:
    video = make_clip("cli_blurred", synth.fault("blurred", at=20.0), 34)
    assert main(["analyze", str(video), "--roi", "road=0,0 1"]) == 2
    assert "ROI" in capsys.readouterr().err


def test_analyze_unknown_camera_is_a_clear_error(make_clip, capsys) -> None:
    video = make_clip("cli_blurred", synth.fault("blurred", at=20.0), 34)
    config = Path(__file__).resolve().parents[2] / "configs" / "yongshan"
    assert main(["analyze", str(video), "--config", str(config), "--camera", "no-such-cam"]) == 2
    assert "no-such-cam" in capsys.readouterr().err


@needs(VTEST.is_file(), "the real footage data/footage/vtest.avi", "run scripts/fetch_footage.sh")
@pytest.mark.parametrize("rois", [[], [VTEST_ROAD]])
def test_raw_real_footage_raises_nothing(capsys, rois: list[str]) -> None:
    args = ["analyze", str(VTEST)]
    for r in rois:
        args += ["--roi", r]
    assert main(args) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.strip().splitlines()]
    # without a road ROI the only line is the road the pipeline proposed
    assert lines == ([] if rois else [{"road_proposal": lines[0]["road_proposal"]}])


def _label(path: Path, video: str, duration: float, events: list[dict]) -> None:
    path.write_text(json.dumps({"video": video, "duration_s": duration, "fps": 4,
                                "rois": [synth.ROAD_ROI, synth.SLOPE_ROI], "tags": ["test"],
                                "events": events}))


def test_eval_on_a_tiny_set_prints_figures_and_writes_the_report(make_clip, capsys, tmp_path) -> None:
    ds = tmp_path / "set"
    ds.mkdir()
    for name, fn, secs, events in (
        ("pos_landslide", synth.landslide(at=20.0), 30, [{"kind": "landslide", "start_s": 23.0, "end_s": None,
                                                          "bbox": None}]),
        ("pos_dark", synth.fault("dark", at=20.0), 32, [{"kind": "camera_too_dark", "start_s": 20.0,
                                                         "end_s": None, "bbox": None}]),
        ("neg_clean", synth.clean(), 30, []),
    ):
        src = make_clip(f"eval_{name}", fn, secs)
        (ds / f"{name}.mp4").write_bytes(src.read_bytes())
        _label(ds / f"{name}.json", f"{name}.mp4", secs, events)
    (ds / "broken.json").write_text("{not json")
    report, js = tmp_path / "r.html", tmp_path / "r.json"
    code = main(["eval", str(ds), "--report", str(report), "--json", str(js), "--jobs", "2"])
    cap = capsys.readouterr()
    assert code == 0
    assert "broken.json" in cap.err and "[3/3]" in cap.err  # skipped with a reason; progress shown
    assert "recall 1.000" in cap.out and "precision 1.000" in cap.out
    figures = json.loads(js.read_text())["figures"]
    assert figures["families"]["obstructions"]["recall"] == 1.0
    assert figures["families"]["faults"]["matched"] == 1
    assert figures["families"]["all"]["false_alarms"] == 0
    page = report.read_text()
    assert "pos_landslide" in page and "<svg" in page and "data:image/jpeg;base64," in page


def test_eval_empty_folder_is_a_clear_error(capsys, tmp_path) -> None:
    assert main(["eval", str(tmp_path)]) == 2
    assert "no label files" in capsys.readouterr().err


# --- what was read: errors and the summary line (issue 20, part 7) ---------------------------------


def _stderr_lines(capsys) -> tuple[list[str], list[str]]:
    cap = capsys.readouterr()
    return cap.out.strip().splitlines(), [x for x in cap.err.splitlines() if x.strip()]


def test_analyze_a_text_file_exits_non_zero_with_one_line_without_an_errno(capsys) -> None:
    readme = Path(__file__).resolve().parents[2] / "README.md"
    assert main(["analyze", str(readme)]) == 1
    out, err = _stderr_lines(capsys)
    assert out == []
    assert len(err) == 1, err
    assert "not a readable video" in err[0] and "Errno" not in err[0]


@pytest.mark.skipif(not VTEST.is_file(), reason="real footage not fetched (scripts/fetch_footage.sh)")
def test_analyze_a_truncated_video_exits_non_zero_with_one_line_saying_so(capsys, tmp_path) -> None:
    cut = tmp_path / "cut.avi"
    data = VTEST.read_bytes()
    cut.write_bytes(data[: len(data) // 3])  # a copy that stopped a third of the way through
    assert main(["analyze", str(cut)]) == 1
    _, err = _stderr_lines(capsys)
    assert len(err) == 1, err
    assert "truncated" in err[0]


def test_analyze_a_truncated_mp4_exits_non_zero_with_one_line(make_clip, capsys, tmp_path) -> None:
    video = make_clip("cli_clean", synth.clean(), 20)
    cut = tmp_path / "cut.mp4"
    data = video.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    assert main(["analyze", str(cut)]) == 1
    _, err = _stderr_lines(capsys)
    assert len(err) == 1, err
    assert str(cut) in err[0]


def test_analyze_prints_a_summary_line_of_what_it_read(make_clip, capsys) -> None:
    video = make_clip("cli_clean", synth.clean(), 20)
    assert main(["analyze", str(video), "--roi", synth.ROAD_ROI]) == 0
    out, err = _stderr_lines(capsys)
    assert out == []
    summary = [x for x in err if "frames analysed" in x]
    assert len(summary) == 1, err
    # 20 s at the default 1 frame/s: the summary says what was read, not only that nothing was found
    assert "20 frames analysed" in summary[0] or "19 frames analysed" in summary[0]
    assert "0 events raised" in summary[0]


def test_analyze_summary_counts_the_events_it_printed(make_clip, capsys) -> None:
    video = make_clip("cli_blurred", synth.fault("blurred", at=20.0), 34)
    assert main(["analyze", str(video), "--roi", synth.ROAD_ROI]) == 0
    out, err = _stderr_lines(capsys)
    assert len(out) == 1
    assert any("1 events raised" in x for x in err), err
