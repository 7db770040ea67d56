"""The strict YAML -> typed config machinery, on a toy component kind defined here."""

from __future__ import annotations

from typing import Literal

import pytest

from cigars._config import Component, Config, ConfigError, bounded, from_dict, load_yaml, to_dict


class ShapeConfig(Component, kind="toy_shape"):
    pass


class CircleConfig(ShapeConfig, name="circle"):
    radius: float = bounded(1.0, gt=0)

    def build(self):
        return ("circle", self.radius)


class BoxConfig(ShapeConfig, name="box"):
    sides: tuple[float, ...] = (1.0, 2.0)
    fill: Literal["solid", "hatched"] = "solid"

    def build(self):
        return ("box", self.sides)


class SceneConfig(Config):
    name: str = "scene"
    count: int = bounded(3, ge=1, le=10)
    shape: ShapeConfig = CircleConfig()
    label: str | None = None
    weights: dict[str, float] | None = None


def test_defaults_and_type_registry():
    scene = from_dict(SceneConfig, {"shape": {"type": "box", "sides": [3, 4]}})
    assert scene.count == 3
    assert isinstance(scene.shape, BoxConfig)
    assert scene.shape.sides == (3.0, 4.0)
    assert scene.shape.build() == ("box", (3.0, 4.0))
    assert from_dict(SceneConfig, {}).shape.build() == ("circle", 1.0)


def test_configs_are_frozen():
    scene = from_dict(SceneConfig, {})
    with pytest.raises(AttributeError):
        scene.count = 4


def test_round_trip_through_dict():
    scene = from_dict(SceneConfig, {"count": 5, "shape": {"type": "box"}, "weights": {"a": 1}})
    again = from_dict(SceneConfig, to_dict(scene))
    assert again == scene
    assert to_dict(scene)["shape"]["type"] == "box"


@pytest.mark.parametrize(
    ("data", "key", "fragment"),
    [
        ({"cuont": 2}, "cuont", "unknown key 'cuont'"),
        ({"count": "two"}, "count", "expected an integer"),
        ({"count": 2.5}, "count", "expected an integer"),
        ({"count": 0}, "count", "expected a value >= 1"),
        ({"count": 11}, "count", "expected a value <= 10"),
        ({"shape": {"type": "hexagon"}}, "shape.type", "unknown toy_shape type 'hexagon'"),
        ({"shape": {"type": "circle", "radius": -1}}, "shape.radius", "> 0"),
        ({"shape": {"type": "circle", "sides": [1]}}, "shape.sides", "unknown key"),
        ({"shape": {"type": "box", "fill": "dotted"}}, "shape.fill", "one of 'solid'"),
        ({"shape": {"type": "box", "sides": "wide"}}, "shape.sides", "a list of a number"),
        ({"name": 3}, "name", "expected a string"),
        ({"count": True}, "count", "expected an integer"),
    ],
)
def test_errors_name_file_key_and_expectation(data, key, fragment):
    with pytest.raises(ConfigError) as info:
        from_dict(SceneConfig, data, file="exp.yaml")
    assert info.value.file == "exp.yaml"
    assert info.value.key == key
    assert fragment in str(info.value)
    assert str(info.value).startswith("exp.yaml: " + key)


def test_load_yaml_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_yaml(bad)
    with pytest.raises(ConfigError, match="file not found"):
        load_yaml(tmp_path / "missing.yaml")
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping at the top level"):
        load_yaml(listy)


def test_extends_applies_the_file_over_its_base(tmp_path):
    """`extends` is relative to the extending file, chains, merges mappings key by key, starts
    a component afresh when its `type` changes, replaces lists, and null removes a key."""
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "root.yaml").write_text(
        "name: root\ncount: 2\nshape: {type: box, sides: [1, 2], fill: hatched}\n"
        "weights: {a: 1.0, b: 2.0}\nlabel: hello\n"
    )
    (tmp_path / "base" / "middle.yaml").write_text(
        "extends: root.yaml\ncount: 5\nshape: {sides: [7, 8, 9]}\nweights: {b: 3.0}\n"
    )
    (tmp_path / "leaf.yaml").write_text(
        "extends: base/middle.yaml\nname: leaf\nlabel: null\nweights: {a: null}\n"
    )
    scene = from_dict(SceneConfig, load_yaml(tmp_path / "leaf.yaml"))
    assert scene == SceneConfig(
        name="leaf",
        count=5,
        shape=BoxConfig(sides=(7.0, 8.0, 9.0), fill="hatched"),
        weights={"b": 3.0},  # null drops an entry of a free mapping
        label=None,
    )
    (tmp_path / "circle.yaml").write_text("extends: base/middle.yaml\nshape: {type: circle}\n")
    # The box's settings do not leak into the circle (which would reject `sides`).
    assert from_dict(SceneConfig, load_yaml(tmp_path / "circle.yaml")).shape == CircleConfig()


def test_extends_errors_name_the_extending_file(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("extends: b.yaml\ncount: 1\n")
    b.write_text("extends: a.yaml\n")
    cycle = r"b\.yaml: extends: the files extend each other: .*a\.yaml -> .*b\.yaml -> .*a\.yaml"
    with pytest.raises(ConfigError, match=cycle):
        load_yaml(a)
    a.write_text("extends: nowhere.yaml\n")
    with pytest.raises(ConfigError, match=r"a\.yaml: extends: base config .*nowhere\.yaml not"):
        load_yaml(a)
    a.write_text("extends: [b.yaml]\n")
    with pytest.raises(ConfigError, match=r"a\.yaml: extends: expected the path"):
        load_yaml(a)
    b.write_text("count: [1\n")
    a.write_text("extends: b.yaml\n")
    with pytest.raises(ConfigError, match=r"b\.yaml: invalid YAML"):
        load_yaml(a)
