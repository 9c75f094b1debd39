"""Frozen dataclass models validated from plain data (YAML, JSON, the admin API), without pydantic.

Pydantic and its plugin loader cost the proxy ~13 MB of RSS for the rest of its life, to check a config a
few times a day; this is the small part of it the proxy needs. A `Model` subclass is a frozen, keyword-only
dataclass whose type hints are the schema:

    str, int, float, bool, None, Any, Literal[...], list[X], dict[str, X], X | Y, nested Models, and
    Annotated[X, Check(ge=, le=, min_length=, pattern=), After(function)] in any order

Constructing one (`Model(**fields)`, `model_validate`, `model_copy`) checks and converts every field the
way pydantic's lax mode does ("5" is an int, 2 is a float), forbids unknown keys, fills defaults (a `[]`
or `{}` default is copied per instance) and then runs the class's `model_check`. The first mistake is
raised as one `ValidationError` whose `loc` is the path to it (`services.0.backends.a.endpoints.0`) and
whose message is pydantic's, so the errors users see did not change.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
import types
from collections.abc import Callable
from functools import cache
from typing import (
    Annotated,
    Any,
    ClassVar,
    Literal,
    TypeVar,
    Union,
    dataclass_transform,
    get_args,
    get_origin,
    get_type_hints,
)

Validator = Callable[[Any], Any]
M = TypeVar("M", bound="Model")


class ValidationError(ValueError):
    """The first thing wrong with some data: `message` about the value at `loc` (keys and indexes)."""

    def __init__(self, message: str, loc: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.message, self.loc = message, loc

    @property
    def path(self) -> str:
        return ".".join(map(str, self.loc))

    def at(self, *outer: str | int) -> ValidationError:
        """The same mistake seen from `outer` levels up."""
        return ValidationError(self.message, (*outer, *self.loc))

    def describe(self, root: str) -> str:
        """`path: message`, with `root` as the path of a mistake in the top-level value itself."""
        return f"{self.path or root}: {self.message}"

    def __str__(self) -> str:
        return self.describe("value")


@dataclasses.dataclass(frozen=True)
class Check:
    """Constraints in an Annotated hint: bounds on a number, a least length, a regex a string contains."""

    ge: float | None = None
    le: float | None = None
    min_length: int | None = None
    pattern: str | None = None

    def __call__(self, value: Any) -> Any:
        if self.ge is not None and value < self.ge:
            raise ValidationError(f"Input should be greater than or equal to {self.ge}")
        if self.le is not None and value > self.le:
            raise ValidationError(f"Input should be less than or equal to {self.le}")
        if self.min_length is not None and len(value) < self.min_length:
            n = self.min_length
            if isinstance(value, str):
                raise ValidationError(f"String should have at least {n} character{'s' * (n != 1)}")
            kind = "Dictionary" if isinstance(value, dict) else "List"
            raise ValidationError(
                f"{kind} should have at least {n} item{'s' * (n != 1)} after validation, not {len(value)}"
            )
        if self.pattern is not None and not re.search(self.pattern, value):
            raise ValidationError(f"String should match pattern '{self.pattern}'")
        return value


@dataclasses.dataclass(frozen=True)
class After:
    """A function run on the converted value, returning it (or a replacement); ValueError refuses it."""

    function: Callable[[Any], Any]

    def __call__(self, value: Any) -> Any:
        return _refusing(self.function, value)


def _refusing(function: Callable[[Any], Any], value: Any) -> Any:
    """function(value), its ValueError turned into a ValidationError at the value."""
    try:
        return function(value)
    except ValidationError:
        raise
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


def _int(value: Any) -> int:
    if isinstance(value, int):  # bool too, as pydantic's lax mode
        return int(value)
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ValidationError("Input should be a valid integer, got a number with a fractional part")
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise ValidationError(
                "Input should be a valid integer, unable to parse string as an integer"
            ) from None
    raise ValidationError("Input should be a valid integer")


def _float(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise ValidationError(
                "Input should be a valid number, unable to parse string as a number"
            ) from None
    raise ValidationError("Input should be a valid number")


_TRUE = {"1", "on", "t", "true", "y", "yes"}
_FALSE = {"0", "off", "f", "false", "n", "no"}


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValidationError("Input should be a valid boolean, unable to interpret input")


def _str(value: Any) -> str:
    if isinstance(value, str):
        return str(value)
    raise ValidationError("Input should be a valid string")


def _none(value: Any) -> None:
    if value is not None:
        raise ValidationError("Input should be None")


_SCALARS: dict[Any, Validator] = {
    int: _int,
    float: _float,
    bool: _bool,
    str: _str,
    type(None): _none,
    Any: lambda value: value,
}


def _chain(steps: list[Validator]) -> Validator:
    def validate(value: Any) -> Any:
        for step in steps:
            value = step(value)
        return value

    return validate


def _literal(allowed: tuple[Any, ...]) -> Validator:
    names = [repr(a) for a in allowed]
    message = "Input should be " + (f"{', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else names[0])

    def validate(value: Any) -> Any:
        if any(value == a and type(value) is type(a) for a in allowed):
            return value
        raise ValidationError(message)

    return validate


def _union(members: tuple[Any, ...]) -> Validator:
    """None if allowed; a member of exactly the value's type; else the first member that converts it."""
    nullable = type(None) in members
    members = tuple(m for m in members if m is not type(None))
    validators = [compile_hint(m) for m in members]
    exact = {m: v for m, v in zip(members, validators, strict=True) if m in (int, float, str, bool)}

    def validate(value: Any) -> Any:
        if value is None and nullable:
            return None
        if type(value) in exact:
            return exact[type(value)](value)
        first: ValidationError | None = None
        for validator in validators:
            try:
                return validator(value)
            except ValidationError as exc:
                first = first or exc
        raise first or ValidationError("Input should be None")

    return validate


def _list(item: Validator) -> Validator:
    def validate(value: Any) -> list[Any]:
        if not isinstance(value, list | tuple | set | frozenset):
            raise ValidationError("Input should be a valid list")
        out = []
        for i, element in enumerate(value):
            try:
                out.append(item(element))
            except ValidationError as exc:
                raise exc.at(i) from None
        return out

    return validate


def _dict(key: Validator, item: Validator) -> Validator:
    def validate(value: Any) -> dict[Any, Any]:
        if not isinstance(value, dict):
            raise ValidationError("Input should be a valid dictionary")
        out = {}
        for k, element in value.items():
            try:
                checked = key(k)
            except ValidationError as exc:
                raise exc.at(k, "[key]") from None
            try:
                out[checked] = item(element)
            except ValidationError as exc:
                raise exc.at(k) from None
        return out

    return validate


@cache
def compile_hint(hint: Any) -> Validator:
    """A function that checks and converts a value to `hint`, raising ValidationError."""
    origin, args = get_origin(hint), get_args(hint)
    if origin is Annotated:
        extras = [extra for extra in hint.__metadata__ if isinstance(extra, Check | After)]
        return _chain([compile_hint(args[0]), *extras])
    if origin is Union or origin is types.UnionType:
        return _union(args)
    if origin is Literal:
        return _literal(args)
    if origin is list:
        return _list(compile_hint(args[0]))
    if origin is dict:
        return _dict(compile_hint(args[0]), compile_hint(args[1]))
    if isinstance(hint, type) and issubclass(hint, Model):
        return hint.model_validate
    if hint in _SCALARS:
        return _SCALARS[hint]
    raise TypeError(f"no validator for the type {hint!r}")


def validate(hint: Any, value: Any) -> Any:
    """`value` checked against any supported type, e.g. validate(dict[str, Route], data)."""
    return compile_hint(hint)(value)


@dataclass_transform(kw_only_default=True, frozen_default=True)
class Model:
    """Base of the validated models: subclasses become frozen keyword-only dataclasses (see the module)."""

    _fields: ClassVar[dict[str, tuple[Validator, bool]] | None] = None  # name -> (validator, required)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in inspect.get_annotations(cls):
            default = cls.__dict__.get(name)
            if isinstance(default, list | dict | set):
                setattr(cls, name, dataclasses.field(default_factory=default.copy))
        dataclasses.dataclass(frozen=True, kw_only=True)(cls)
        cls._fields = None  # built on first use: the hints may name classes defined further down

    @classmethod
    def _schema(cls) -> dict[str, tuple[Validator, bool]]:
        if cls._fields is None:
            hints = get_type_hints(cls, include_extras=True)
            cls._fields = {
                f.name: (
                    compile_hint(hints[f.name]),
                    f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
                )
                for f in dataclasses.fields(cls)  # type: ignore[arg-type]
            }
        return cls._fields

    def __post_init__(self) -> None:
        for name, (validator, _) in self._schema().items():
            try:
                object.__setattr__(self, name, validator(getattr(self, name)))
            except ValidationError as exc:
                raise exc.at(name) from None
        _refusing(type(self).model_check, self)

    def model_check(self) -> None:
        """Checks across fields, run once they are all valid; raise ValueError to refuse."""

    @classmethod
    def model_validate(cls: type[M], data: Any) -> M:
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict):
            raise ValidationError(f"Input should be a valid dictionary or instance of {cls.__name__}")
        schema = cls._schema()
        for name, (_, required) in schema.items():
            if required and name not in data:
                raise ValidationError("Field required", (name,))
        for key in data:
            if key not in schema:
                raise ValidationError("Extra inputs are not permitted", (key,))
        return cls(**data)

    @classmethod
    def model_validate_json(cls: type[M], text: str | bytes) -> M:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValidationError(f"Invalid JSON: {exc}") from None
        return cls.model_validate(data)

    def model_dump(self, *, mode: str = "python", exclude_none: bool = False) -> dict[str, Any]:
        """The fields as plain data; every value is JSON-native already, so `mode` changes nothing."""
        values = {name: getattr(self, name) for name in self._schema()}
        return {k: _dump(v, exclude_none) for k, v in values.items() if v is not None or not exclude_none}

    def model_dump_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), separators=(",", ":"))

    def model_copy(self: M, *, update: dict[str, Any] | None = None) -> M:
        """A validated copy with the fields in `update` replaced."""
        return dataclasses.replace(self, **(update or {}))  # type: ignore[type-var]


def _dump(value: Any, exclude_none: bool) -> Any:
    if isinstance(value, Model):
        return value.model_dump(exclude_none=exclude_none)
    if isinstance(value, list):
        return [_dump(v, exclude_none) for v in value]
    if isinstance(value, dict):
        return {k: _dump(v, exclude_none) for k, v in value.items()}
    return value
