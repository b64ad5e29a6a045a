"""The base of every definition model and the shared size limits (kept apart from
:mod:`splitlab.config.models` so that :mod:`splitlab.config.designs` can use them too)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

#: An experiment id: 1 to 128 letters, digits, '.', '_', ':' or '-', starting with a letter or
#: digit. The server checks ids in paths and bodies against the same rule.
EXPERIMENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"

# Size limits of a definition (docs/configuration.md, "Limits"); conditions have their own in
# splitlab.config.limits.
MAX_VARIANTS = 50
MAX_METRICS = 50  # secondary metrics, and guardrails, each
MAX_SEGMENTS = 50
MAX_RULES = 1000  # targeting.include, and targeting.exclude, each
MAX_FORCED_UNITS = 1000  # per variant
MAX_NAME = 200  # names, event names, salt, hash key, unit ids, schedule
MAX_TEXT = 10_000  # free text: the experiment's name and descriptions
MAX_RULE = 1000  # one include / exclude entry

#: A name: 1 to 200 characters.
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
#: An optional-looking short string (may be empty): at most 200 characters.
Short = Annotated[str, Field(max_length=MAX_NAME)]
Text = Annotated[str, Field(max_length=MAX_TEXT)]


class Model(BaseModel):
    """Base of every definition model: camelCase on the wire, unknown keys refused, frozen.

    Types are strict, as JSON's are: ``"0.5"`` and ``true`` are not numbers, ``1`` is not
    ``true``; an integer is accepted where a float is expected (``trafficAllocation: 1``).
    Enumerations take their string values (``Loose`` below).
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        use_enum_values=False,
        strict=True,
    )

    def to_wire(self) -> dict[str, Any]:
        """The definition as camelCase JSON-ready data (defaults included)."""
        return self.model_dump(by_alias=True, mode="json")
