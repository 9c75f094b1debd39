"""Common base for the API models: camelCase on the wire, snake_case in Python, unknown fields rejected."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

API_GROUP = "sluice.dev"
API_VERSION = "sluice.dev/v1beta1"


class Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        validate_assignment=False,
    )

    def wire(self) -> dict:
        """The object as it appears in YAML/JSON: camelCase keys, only what was set (plus apiVersion and
        kind), so it loads back to an equal object: defaults are not written out as explicit values
        (an explicit `stepWeight: 0` is an error, an absent one is not)."""
        data = self.model_dump(by_alias=True, exclude_unset=True, exclude_none=True, mode="json")
        fields = type(self).model_fields
        head = {alias: getattr(self, name) for name, alias in _HEAD if name in fields}
        return {**head, **data}


_HEAD = (("api_version", "apiVersion"), ("kind", "kind"))
