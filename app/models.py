"""The one base of every model on the wire: camelCase there, snake_case in Python.

Request and response models derive from `CamelModel`; a model reads its fields by either
name (`populate_by_name`), and answers with the camelCase aliases (routes set
`response_model_by_alias=True`, FastAPI's default).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class CamelModel(BaseModel):
    """Refuses unknown fields: a misspelt weight or option is an error, not silently dropped."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class LenientCamelModel(CamelModel):
    """Ignores unknown fields: for records read back (stored jobs) and answers passed on as is
    (a search answer given to generation as grounding)."""

    model_config = ConfigDict(extra="ignore")
