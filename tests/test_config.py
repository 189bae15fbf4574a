"""The town config: the sample validates, and broken configs fail with file, key and reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from gridwatch.config import ConfigError, load_town, parse_roi
from gridwatch.wire import EventKind

SAMPLE = Path(__file__).resolve().parent.parent / "configs" / "yongshan"


@pytest.fixture()
def town_dir(tmp_path: Path) -> Path:
    out = tmp_path / "town"
    shutil.copytree(SAMPLE, out)
    return out


def _edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_sample_town_has_the_towns_numbers() -> None:
    town = load_town(SAMPLE)
    assert len(town.cameras) == 280
    assert len(town.villages) == 99
    assert len(town.grids) == 57
    assert {d.kind for d in town.departments} >= {"desk", "bureau", "squad", "lead"}
    assert len([d for d in town.departments if d.kind == "desk"]) == 4
    assert len([d for d in town.departments if d.kind == "squad"]) == 3
    per_node = {n.id: len(town.cameras_of(n.id)) for n in town.nodes}
    assert all(15 <= n <= 25 for n in per_node.values()), per_node
    for kind in EventKind:
        assert town.route(kind.value).department
    assert town.route("landslide").department == "natural-resources"
    assert {"车溪村", "石潭村", "张家店村", "涌山村", "稍田村"} <= {v.name for v in town.villages}


def test_sample_generator_is_deterministic(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen", SAMPLE.parent / "generate_yongshan.py")
    gen = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(gen)
    gen.write(gen.build(), tmp_path)
    for file in SAMPLE.glob("*.yaml"):
        assert (tmp_path / file.name).read_text(encoding="utf-8") == file.read_text(encoding="utf-8"), file


def test_single_file_town(tmp_path: Path) -> None:
    merged = {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in SAMPLE.glob("*.yaml")}
    file = tmp_path / "town.yaml"
    file.write_text(yaml.safe_dump(merged, allow_unicode=True), encoding="utf-8")
    assert len(load_town(file).cameras) == 280


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_town(tmp_path / "nowhere")
    assert "nowhere" in str(err.value) and "no such file" in str(err.value)


def test_missing_section_file(town_dir: Path) -> None:
    (town_dir / "grids.yaml").unlink()
    with pytest.raises(ConfigError, match=r"grids\.yaml: missing section file"):
        load_town(town_dir)


def test_bad_yaml_names_file_and_line(town_dir: Path) -> None:
    (town_dir / "grids.yaml").write_text("- id: g-01\n  name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_town(town_dir)
    assert err.value.file.endswith("grids.yaml")
    assert "invalid YAML" in err.value.reason and "line" in err.value.reason


def test_unknown_grid(town_dir: Path) -> None:
    _edit(town_dir / "cameras.yaml", lambda cams: cams[5].update(grid="g-99"))
    with pytest.raises(ConfigError) as err:
        load_town(town_dir)
    assert err.value.file.endswith("cameras.yaml")
    assert err.value.key == "cameras[5](cam-006).grid"
    assert "unknown grid 'g-99'" in err.value.reason


def test_duplicate_camera_id(town_dir: Path) -> None:
    _edit(town_dir / "cameras.yaml", lambda cams: cams[7].update(id="cam-001"))
    with pytest.raises(ConfigError) as err:
        load_town(town_dir)
    assert err.value.key == "cameras[0].id"
    assert "duplicate id 'cam-001'" in err.value.reason


def test_bad_polygon(town_dir: Path) -> None:
    _edit(town_dir / "cameras.yaml",
          lambda cams: cams[2]["rois"][0].update(polygon=[[0, 0], [1.5, 0], [1, 1]]))
    with pytest.raises(ConfigError) as err:
        load_town(town_dir)
    assert err.value.key == "cameras[2](cam-003).rois[0].polygon"
    assert "outside the 0..1 frame" in err.value.reason


def test_self_crossing_polygon(town_dir: Path) -> None:
    _edit(town_dir / "cameras.yaml",
          lambda cams: cams[2]["rois"][0].update(polygon=[[0, 0], [1, 1], [1, 0], [0, 1]]))
    with pytest.raises(ConfigError, match="cross"):
        load_town(town_dir)


def test_unknown_key_refused(town_dir: Path) -> None:
    _edit(town_dir / "cameras.yaml", lambda cams: cams[0].update(zoom=3))
    with pytest.raises(ConfigError) as err:
        load_town(town_dir)
    assert err.value.key == "cameras[0](cam-001).zoom" and err.value.reason == "unknown key"


def test_kind_without_route(town_dir: Path) -> None:
    _edit(town_dir / "routing.yaml", lambda routes: routes.pop(0))
    with pytest.raises(ConfigError, match="'landslide' has no route"):
        load_town(town_dir)


def test_camera_village_outside_its_grid(town_dir: Path) -> None:
    _edit(town_dir / "cameras.yaml", lambda cams: cams[0].update(village="v-chexi"))
    with pytest.raises(ConfigError, match="is not in grid"):
        load_town(town_dir)


def test_every_schema_mistake_reported_at_once(town_dir: Path) -> None:
    def break_three(cams: list) -> None:
        cams[0].update(zoom=3)
        cams[4]["rois"][0].update(polygon=[[0, 0], [1.5, 0], [1, 1]])
        del cams[9]["node"]

    _edit(town_dir / "cameras.yaml", break_three)
    with pytest.raises(ConfigError) as err:
        load_town(town_dir)
    got = {(p.key, p.reason) for p in err.value.problems}
    assert ("cameras[0](cam-001).zoom", "unknown key") in got
    assert ("cameras[9](cam-010).node", "required key is missing") in got
    assert any(k == "cameras[4](cam-005).rois[0].polygon" and "outside the 0..1 frame" in r for k, r in got)
    assert len(err.value.problems) == 3
    assert all(p.file.endswith("cameras.yaml") for p in err.value.problems)
    text = str(err.value)
    assert text.startswith("3 problems") and "more)" not in text
    assert all(p.key in text for p in err.value.problems)


def test_every_broken_reference_reported_at_once(town_dir: Path) -> None:
    def break_refs(cams: list) -> None:
        cams[1].update(grid="g-99")
        cams[6].update(node="edge-99")
        cams[7].update(village="v-nowhere")

    _edit(town_dir / "cameras.yaml", break_refs)
    _edit(town_dir / "routing.yaml", lambda routes: routes.pop(0))
    with pytest.raises(ConfigError) as err:
        load_town(town_dir)
    got = {(p.file.rsplit("/", 1)[-1], p.key, p.reason) for p in err.value.problems}
    assert got == {
        ("cameras.yaml", "cameras[1](cam-002).grid", "unknown grid 'g-99'"),
        ("cameras.yaml", "cameras[6](cam-007).node", "unknown edge node 'edge-99'"),
        ("cameras.yaml", "cameras[7](cam-008).village", "unknown village 'v-nowhere'"),
        ("routing.yaml", "routing", "kind 'landslide' has no route"),
    }


def test_cli_prints_every_problem(town_dir: Path, capsys) -> None:
    from gridwatch.cli import main

    _edit(town_dir / "cameras.yaml", lambda cams: (cams[0].update(zoom=3), cams[1].update(tilt=2)))
    assert main(["token", "create", "--role", "edge", "--node", "edge-01", "--config", str(town_dir),
                 "--db", "sqlite://"]) == 2
    err = capsys.readouterr().err
    assert "cameras[0](cam-001).zoom: unknown key" in err and "cameras[1](cam-002).tilt: unknown key" in err
    assert "Traceback" not in err and "more)" not in err


def test_cli_reports_config_error_without_traceback(town_dir: Path, capsys) -> None:
    from gridwatch.cli import main

    (town_dir / "nodes.yaml").write_text("- {id: edge-01, colour: red}\n", encoding="utf-8")
    assert main(["token", "create", "--role", "edge", "--node", "edge-01", "--config", str(town_dir),
                 "--db", "sqlite://"]) == 2
    err = capsys.readouterr().err
    assert "config error" in err and "nodes.yaml" in err and "colour" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("text", ["road", "road=0,0 1,0", "road=0,0 1,x 1,1", "=0,0 1,0 1,1"])
def test_parse_roi_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_roi(text)


def test_parse_roi() -> None:
    roi = parse_roi("road=0,0.4 1,0.4 1,1 0,1")
    assert roi.name == "road" and roi.polygon[1] == (1.0, 0.4)
