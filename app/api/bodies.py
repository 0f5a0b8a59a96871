"""Request bodies that come as JSON or multipart: one parser for each route that needs it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import partial
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from PIL import Image
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from app.config import Settings
from app.errors import InvalidInputError, PayloadTooLargeError, UnsupportedMediaError
from app.imaging import decode_data_url, decode_image

M = TypeVar("M", bound=BaseModel)


def install_body_schemas(app: FastAPI, models: Sequence[type[BaseModel]]) -> None:
    """Put the JSON bodies of routes that read their own body (JSON or multipart, see
    `parse_body`) in the OpenAPI schema as `#/components/schemas/<Model>`.

    FastAPI only collects the models of parameters it parses itself; without this, those
    routes' `$ref`s dangle: /docs cannot render the body and schema-driven clients and
    fuzzers cannot build one.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()  # FastAPI's schema, cached on the app: completed in place
        _, defs = models_json_schema(
            [(m, "validation") for m in models], by_alias=True, ref_template="#/components/schemas/{model}"
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, definition in defs.get("$defs", {}).items():
            components.setdefault(name, definition)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend it


def invalid_input(e: ValidationError) -> InvalidInputError:
    problems = [{"field": ".".join(str(p) for p in err["loc"]), "message": err["msg"]} for err in e.errors()]
    first = problems[0]
    return InvalidInputError(f"`{first['field']}`: {first['message']}", problems=problems)


async def read_upload(upload: UploadFile, max_bytes: int, name: str) -> bytes:
    data = await upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PayloadTooLargeError(f"`{name}` is larger than {max_bytes} bytes (MAX_UPLOAD_BYTES).", field=name)
    return data


async def parse_body(
    request: Request, model: type[M], file_fields: tuple[str, ...], settings: Settings
) -> tuple[M, dict[str, Image.Image]]:
    """The body as `model` plus its decoded images (files in multipart, data URLs in JSON)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    images: dict[str, Image.Image] = {}
    limits = {"max_bytes": settings.MAX_UPLOAD_BYTES, "max_pixels": settings.MAX_IMAGE_PIXELS}
    if ctype == "multipart/form-data" or ctype == "application/x-www-form-urlencoded":
        form: FormData = await request.form(max_part_size=settings.MAX_UPLOAD_BYTES)
        fields: dict[str, Any] = {}
        for key, value in form.multi_items():
            # An empty field is one not sent: HTML forms send their empty inputs (a file
            # input left empty: no name, no bytes), and so does `curl -F queryText=`.
            if isinstance(value, UploadFile):
                if not value.filename and not value.size:
                    continue
                if key not in file_fields:
                    raise InvalidInputError(
                        f"unexpected file field `{key}`; files go in {list(file_fields)}.", field=key
                    )
                data = await read_upload(value, settings.MAX_UPLOAD_BYTES, key)
                # Decoding a large PNG takes tens of ms of CPU: off the event loop.
                images[key] = await run_in_threadpool(partial(decode_image, data, name=key, **limits))
            elif value.strip():
                fields[key] = _form_value(value)
        try:
            return model.model_validate(fields), images
        except ValidationError as e:
            raise invalid_input(e) from e
    if ctype not in ("application/json", ""):
        raise UnsupportedMediaError(f"send application/json or multipart/form-data, not {ctype!r}.")
    raw = await request.body()
    if len(raw) > settings.MAX_UPLOAD_BYTES * 2:
        raise PayloadTooLargeError(f"request body is larger than {settings.MAX_UPLOAD_BYTES * 2} bytes.")
    try:
        body = model.model_validate_json(raw or b"{}")
    except ValidationError as e:
        raise invalid_input(e) from e
    for key in file_fields:
        url = getattr(body, key, None)
        if url:
            images[key] = await run_in_threadpool(partial(decode_data_url, url, name=key, **limits))
    return body, images


def _form_value(value: str) -> Any:
    """Form fields are strings; objects, arrays, numbers and booleans arrive JSON-encoded."""
    text = value.strip()
    # `text[:1] in "[{"` alone is true for "" (the empty string is in every string).
    if (text and text[0] in "[{") or text in ("true", "false", "null"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise InvalidInputError(f"form field holds malformed JSON: {e}") from e
    return value
