"""The proxy's validator (mesh/proxy/schema.py): each kind of type and constraint, paths, defaults, copies."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

import pytest

from mesh.proxy.schema import After, Check, Model, ValidationError, validate


def _even(value: int) -> int:
    if value % 2:
        raise ValueError(f"{value} is odd")
    return value


class Leaf(Model):
    name: Annotated[str, Check(min_length=1)]
    size: Annotated[int, Check(ge=1, le=10)] = 1


class Pair(Model):
    low: int = 0
    high: int = 0

    def model_check(self) -> None:
        if self.low > self.high:
            raise ValueError("low is above high")


class Tree(Model):
    leaves: list[Leaf] = []
    by_name: dict[str, Leaf] = {}
    kind: Literal["oak", "elm", "ash"] = "oak"
    note: str | None = None
    ratio: float = 0.5
    even: Annotated[int, After(_even)] = 0
    code: Annotated[str, Check(pattern=r"^[a-z]+$")] = "a"
    pair: Pair = Pair()
    flag: bool = False


class Wide(Tree):
    extra: Annotated[list[int], Check(min_length=1)] = [1]


def refused(model: type[Model], data: Any) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return caught.value


@pytest.mark.parametrize(
    ("hint", "value", "expected"),
    [
        (int, 5, 5),
        (int, "7", 7),
        (int, 3.0, 3),
        (float, 2, 2.0),
        (float, "1.5", 1.5),
        (bool, True, True),
        (bool, "yes", True),
        (bool, 0, False),
        (str, "s", "s"),
        (type(None), None, None),
        (Any, [1], [1]),
        (list[int], (1, "2"), [1, 2]),
        (dict[str, float], {"a": 1}, {"a": 1.0}),
        (int | None, None, None),
        (float | str, "2s", "2s"),
        (float | str, 3, 3.0),
        (Literal["a", "b"], "b", "b"),
    ],
)
def test_values_are_converted_like_pydantic_lax_mode(hint, value, expected):
    got = validate(hint, value)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(
    ("hint", "value", "message"),
    [
        (int, 1.5, "Input should be a valid integer, got a number with a fractional part"),
        (int, "x", "Input should be a valid integer, unable to parse string as an integer"),
        (int, None, "Input should be a valid integer"),
        (float, "x", "Input should be a valid number, unable to parse string as a number"),
        (float, [], "Input should be a valid number"),
        (bool, 2, "Input should be a valid boolean, unable to interpret input"),
        (str, 5, "Input should be a valid string"),
        (type(None), 1, "Input should be None"),
        (list[int], "ab", "Input should be a valid list"),
        (dict[str, int], [], "Input should be a valid dictionary"),
        (Literal["a", "b", "c"], "x", "Input should be 'a', 'b' or 'c'"),
        (Literal["a"], 1, "Input should be 'a'"),
        (int | None, "x", "Input should be a valid integer, unable to parse string as an integer"),
        (Annotated[int, Check(ge=1)], 0, "Input should be greater than or equal to 1"),
        (Annotated[float, Check(le=100)], 120, "Input should be less than or equal to 100"),
        (Annotated[str, Check(min_length=1)], "", "String should have at least 1 character"),
        (Annotated[list[int], Check(min_length=2)], [1], "List should have at least 2 items after"),
        (Annotated[dict[str, int], Check(min_length=1)], {}, "Dictionary should have at least 1 item after"),
        (Annotated[str, Check(pattern=r"^a+$")], "b", "String should match pattern '^a+$'"),
        (Annotated[int, After(_even)], 3, "3 is odd"),
    ],
)
def test_each_refusal_says_why(hint, value, message):
    with pytest.raises(ValidationError) as caught:
        validate(hint, value)
    assert caught.value.message.startswith(message) and caught.value.loc == ()


def test_constraints_apply_after_conversion_and_in_order():
    assert validate(Annotated[int, Check(ge=1), After(_even)], "4") == 4
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        validate(Annotated[int, Check(ge=1), After(_even)], 0)
    assert validate(Annotated[float | str, After(lambda v: float(v) * 2)], "1.5") == 3.0


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        ({"leaves": [{"name": "a"}, {"name": "b", "size": 11}]}, "leaves.1.size", "less than or equal to 10"),
        ({"leaves": [{"size": 2}]}, "leaves.0.name", "Field required"),
        ({"by_name": {"x": {"name": ""}}}, "by_name.x.name", "String should have at least 1 character"),
        ({"by_name": {1: {"name": "a"}}}, "by_name.1.[key]", "Input should be a valid string"),
        ({"by_name": {"x": {"name": "a", "colour": 1}}}, "by_name.x.colour", "Extra inputs are not"),
        ({"kind": "fir"}, "kind", "Input should be 'oak', 'elm' or 'ash'"),
        ({"pair": {"low": 2, "high": 1}}, "pair", "low is above high"),
        ({"pair": [1, 2]}, "pair", "Input should be a valid dictionary or instance of Pair"),
        ({"even": 1}, "even", "1 is odd"),
        ({"code": "A"}, "code", "String should match pattern"),
        ({"leaves": {"name": "a"}}, "leaves", "Input should be a valid list"),
    ],
)
def test_the_error_names_the_path_to_the_mistake(data, path, message):
    error = refused(Tree, data)
    assert error.path == path and message in error.message
    assert str(error) == f"{path}: {error.message}" and error.describe("tree").startswith(path)


def test_a_mistake_at_the_top_is_described_with_the_root_name():
    error = refused(Tree, [1])
    assert error.loc == () and error.describe("config").startswith("config: Input should be a valid dict")
    assert str(refused(Pair, {"low": 1, "high": 0})) == "value: low is above high"


def test_defaults_are_filled_and_mutable_ones_are_not_shared():
    one, two = Tree.model_validate({}), Tree()
    assert one == two
    assert (one.leaves, one.by_name, one.kind, one.note) == ([], {}, "oak", None)
    assert (one.ratio, one.flag, one.code) == (0.5, False, "a")
    assert one.pair == Pair(low=0, high=0)
    assert one.leaves is not two.leaves and one.by_name is not two.by_name
    assert Wide().extra == [1] and Wide().extra is not Wide().extra


def test_subclasses_inherit_fields_and_checks():
    wide = Wide.model_validate({"kind": "elm", "extra": [3, "4"]})
    assert wide.kind == "elm" and wide.extra == [3, 4] and isinstance(wide, Tree)
    assert refused(Wide, {"extra": []}).path == "extra"
    assert refused(Wide, {"kind": "fir"}).path == "kind"


def test_keyword_construction_validates_too():
    assert Leaf(name="a", size="3").size == 3
    with pytest.raises(ValidationError) as caught:
        Leaf(name="a", size=0)
    assert caught.value.path == "size"
    with pytest.raises(ValidationError, match="low is above high"):
        Pair(low=1, high=0)
    with pytest.raises(TypeError):
        Leaf("a")  # keyword-only, as pydantic


def test_models_are_frozen_and_instances_pass_through():
    leaf = Leaf(name="a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        leaf.size = 2  # type: ignore[misc]
    assert Leaf.model_validate(leaf) is leaf
    assert Tree.model_validate({"leaves": [leaf]}).leaves[0] is leaf


def test_dump_and_validate_round_trip():
    given = {"leaves": [{"name": "a", "size": 2}], "by_name": {"b": {"name": "b"}}, "pair": {"high": 1}}
    tree = Tree.model_validate({**given, "note": "n"})
    dumped = tree.model_dump()
    assert dumped["leaves"] == [{"name": "a", "size": 2}] and dumped["pair"] == {"low": 0, "high": 1}
    assert Tree.model_validate(dumped) == tree
    assert Tree.model_validate_json(tree.model_dump_json()) == tree
    assert "note" not in Tree().model_dump(mode="json", exclude_none=True)
    assert Tree().model_dump()["note"] is None


def test_invalid_json_is_a_validation_error():
    with pytest.raises(ValidationError, match="Invalid JSON"):
        Tree.model_validate_json("{")


def test_copies_replace_fields_and_are_validated():
    tree = Tree(leaves=[Leaf(name="a")])
    copy = tree.model_copy(update={"kind": "ash", "note": "x"})
    assert (copy.kind, copy.note, copy.leaves) == ("ash", "x", tree.leaves) and tree.kind == "oak"
    assert tree.model_copy() == tree
    with pytest.raises(ValidationError) as caught:
        tree.model_copy(update={"kind": "fir"})
    assert caught.value.path == "kind"


def test_an_unsupported_type_is_a_programming_error():
    class Odd(Model):
        when: complex = 0j

    with pytest.raises(TypeError, match="no validator"):
        Odd()
