"""Request bodies that come as JSON or multipart: one parser, one schema, for every route.

A route that takes files names its model and its file fields; `read_body` gives back the
model and the uploaded files, whichever way the body came, and `body_openapi` documents both
ways from the same model (the multipart form is derived from the model, not listed by hand):

* JSON: the model as is; an image may come as a data URL in a string field of the model.
* multipart/form-data (or urlencoded): one form field per model field. Objects, arrays,
  booleans and null arrive JSON-encoded; empty fields count as not sent (HTML forms send
  their empty inputs); files come in the named file fields only.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, BinaryIO, Generic, TypeVar

from fastapi import FastAPI, Request
from PIL import Image
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.config import Settings
from app.errors import InvalidInputError, PayloadTooLargeError, UnsupportedMediaError
from app.imaging import decode_data_url, decode_image, request_limits

M = TypeVar("M", bound=BaseModel)

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
JSON_TYPES = ("application/json", "")
_SCALARS = frozenset({"string", "number", "integer", "boolean", "null"})
# The most values (counted by their separators) a JSON body or form field may hold. Bytes alone
# do not bound the memory a body takes once parsed: 60 MB of `[0.5, 0.5, …]` is 15 million Python
# floats (~1 GB), where a request's real bulk — images — is a few long strings. No request this
# API answers holds more than a few thousand values.
MAX_JSON_VALUES = 100_000


def check_json_size(raw: bytes | str, what: str) -> None:
    """413 for JSON with more than MAX_JSON_VALUES values, before it is parsed."""
    text = raw.encode() if isinstance(raw, str) else raw
    if text.count(b",") + text.count(b":") > MAX_JSON_VALUES:
        raise PayloadTooLargeError(f"{what} holds more than {MAX_JSON_VALUES} JSON values.", limit=MAX_JSON_VALUES)


@dataclass(frozen=True)
class FileField:
    """A multipart file field of a route: `many` takes several files under one name."""

    name: str
    description: str = ""
    many: bool = False
    # Files whose names end so stay in the form parser's spooled file (on disk past 1 MiB)
    # instead of being read into memory: archives, which their reader streams.
    spooled: tuple[str, ...] = ()


@dataclass(frozen=True)
class UploadedFile:
    """An uploaded file: its bytes, or (a `FileField.spooled` name) the parser's open file."""

    data: bytes | BinaryIO
    filename: str

    def bytes(self) -> bytes:
        if isinstance(self.data, bytes):
            return self.data
        self.data.seek(0)
        return self.data.read()


@dataclass
class Body(Generic[M]):
    """A parsed body: the model, and the uploaded files by field name (multipart only)."""

    model: M
    files: dict[str, list[UploadedFile]] = field(default_factory=dict)

    def file(self, name: str) -> UploadedFile | None:
        found = self.files.get(name)
        return found[0] if found else None


async def read_body(
    request: Request,
    model: type[M],
    files: Sequence[FileField] = (),
    *,
    max_bytes: int,
    max_json_bytes: int | None = None,
    max_files: int = 1000,
    max_fields: int = 1000,
    setting: str = "MAX_UPLOAD_BYTES",
    adapt: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Body[M]:
    """The body as `model` plus its uploaded files. `adapt` rewrites the fields (form or JSON
    object) before they are validated: the seed's own field names (app/api/routes/compat.py). `max_bytes` bounds each file and form
    field (413; `setting` names where it comes from), `max_json_bytes` a JSON body (the request bound otherwise, app/api/middleware.py).
    A body that does not validate is 422 `invalid_input` listing every field at fault;
    a content type other than JSON or a form is 415."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype in FORM_TYPES:
        return await _read_form(request, model, files, max_bytes, max_files, max_fields, setting, adapt)
    if ctype not in JSON_TYPES:
        raise UnsupportedMediaError(f"send application/json or multipart/form-data, not {ctype!r}.")
    raw = await request.body()
    if max_json_bytes is not None and len(raw) > max_json_bytes:
        raise PayloadTooLargeError(f"request body is larger than {max_json_bytes} bytes.", limit=max_json_bytes)
    check_json_size(raw, "the body")
    try:
        if adapt is None:
            return Body(model.model_validate_json(raw.strip() or b"{}"))
        try:
            data = json.loads(raw.strip() or b"{}")
        except ValueError as e:  # JSONDecodeError, or bytes in no UTF encoding (UnicodeDecodeError)
            raise InvalidInputError(f"the body is not JSON: {e}") from e
        except RecursionError:  # arrays or objects nested thousands deep
            raise InvalidInputError("the body is JSON nested too deep.") from None
        return Body(model.model_validate(adapt(data) if isinstance(data, dict) else data))
    except ValidationError as e:
        raise invalid_input(e, model) from e


async def _read_form(
    request: Request,
    model: type[M],
    files: Sequence[FileField],
    max_bytes: int,
    max_files: int,
    max_fields: int,
    setting: str,
    adapt: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Body[M]:
    try:
        form = await request.form(max_files=max_files, max_fields=max_fields, max_part_size=max_bytes)
    except StarletteHTTPException as e:  # Starlette's 400 for a form it cannot read
        if "exceeded maximum size" in str(e.detail) or "Too many" in str(e.detail):
            raise PayloadTooLargeError(f"multipart body: {e.detail}", limit=max_bytes) from e
        raise InvalidInputError(f"malformed multipart body: {e.detail}") from e
    names = [f.name for f in files]
    spooled = {f.name: f.spooled for f in files}
    fields: dict[str, Any] = {}
    uploads: dict[str, list[UploadedFile]] = {}
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            # A file input left empty: no name, no bytes.
            if not value.filename and not value.size:
                continue
            if key not in names:
                expected = f"files go in {names}" if names else "this route takes no files"
                raise InvalidInputError(f"unexpected file field `{key}`; {expected}.", field=key)
            filename = value.filename or key
            if spooled[key] and filename.lower().endswith(spooled[key]):
                if value.size is not None and value.size > max_bytes:
                    raise PayloadTooLargeError(
                        f"`{key}` is larger than {max_bytes} bytes ({setting}).", field=key, limit=max_bytes
                    )
                uploads.setdefault(key, []).append(UploadedFile(value.file, filename))
                continue
            data = await read_upload(value, max_bytes, key, setting)
            uploads.setdefault(key, []).append(UploadedFile(data, filename))
        elif value.strip():
            fields[key] = _form_value(key, value)
    for spec in files:
        if not spec.many and len(uploads.get(spec.name, ())) > 1:
            raise InvalidInputError(f"send one file in `{spec.name}`, not {len(uploads[spec.name])}.", field=spec.name)
    try:
        return Body(model.model_validate(adapt(fields) if adapt else fields), uploads)
    except ValidationError as e:
        raise invalid_input(e, model) from e


def _form_value(name: str, value: str) -> Any:
    """Form fields are strings; objects, arrays, booleans and null arrive JSON-encoded."""
    text = value.strip()
    # `text[:1] in "[{"` alone is true for "" (the empty string is in every string).
    if (text and text[0] in "[{") or text in ("true", "false", "null"):
        check_json_size(text, f"form field `{name}`")
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise InvalidInputError(f"form field `{name}` holds malformed JSON: {e}", field=name) from e
        except RecursionError:  # arrays or objects nested thousands deep
            raise InvalidInputError(f"form field `{name}` holds JSON nested too deep.", field=name) from None
    return value


def invalid_input(e: ValidationError, model: type[BaseModel] | None = None) -> InvalidInputError:
    """The validation errors as one 422; a top-level field `model` does not have names the
    nearest one it has (`filters` → `filter`)."""
    # Without the inputs: an error's `input` can be a whole (large) part of the body.
    errors = e.errors(include_input=False, include_url=False, include_context=False)
    problems = [
        {"field": ".".join(str(p) for p in err["loc"]), "message": err["msg"] + _did_you_mean(err, model)}
        for err in errors
    ]
    first = problems[0]
    message = f"`{first['field']}`: {first['message']}" if first["field"] else first["message"]
    return InvalidInputError(message, problems=problems)


def _did_you_mean(error: Any, model: type[BaseModel] | None) -> str:
    if model is None or error["type"] != "extra_forbidden" or len(error["loc"]) != 1:
        return ""
    names = [n for name, f in model.model_fields.items() for n in (name, f.alias) if n]
    close = difflib.get_close_matches(str(error["loc"][0]), names, n=1, cutoff=0.6)
    return f" (did you mean `{close[0]}`?)" if close else ""


async def read_upload(upload: UploadFile, max_bytes: int, name: str, setting: str = "MAX_UPLOAD_BYTES") -> bytes:
    data = await upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PayloadTooLargeError(
            f"`{name}` is larger than {max_bytes} bytes ({setting}).", field=name, limit=max_bytes
        )
    return data


def has_images(body: Body[Any], names: Sequence[str]) -> bool:
    """Whether any of fields `names` carries an image (a file or a data URL)."""
    return any(body.file(name) is not None or getattr(body.model, name, None) for name in names)


async def decode_images(body: Body[Any], names: Sequence[str], settings: Settings) -> dict[str, Image.Image]:
    """The images of fields `names`: an uploaded file, else a data URL in the model's field,
    decoded no larger than the encoders need (REQUEST_IMAGE_MAX_SIDE)."""
    images: dict[str, Image.Image] = {}
    for name in names:
        limits = request_limits(settings, name, settings.REQUEST_IMAGE_MAX_SIDE)
        upload = body.file(name)
        # Decoding a large PNG takes tens of ms of CPU: off the event loop.
        if upload is not None:
            images[name] = await run_in_threadpool(partial(decode_image, upload.bytes(), **limits))
        elif url := getattr(body.model, name, None):
            images[name] = await run_in_threadpool(partial(decode_data_url, url, **limits))
    return images


# --- The schema: both ways from the one model -----------------------------------------------


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema (validation mode, aliases) with its `$defs` inlined."""
    schema = model.model_json_schema(by_alias=True)
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


def _is_scalar(prop: dict[str, Any]) -> bool:
    options = prop.get("anyOf") or prop.get("oneOf") or [prop]
    types: set[str] = set()
    for option in options:
        kind = option.get("type")
        if kind is None:
            return False
        types.update(kind if isinstance(kind, list) else [kind])
    return types <= _SCALARS


def multipart_schema(model: type[BaseModel], files: Sequence[FileField] = ()) -> dict[str, Any]:
    """The multipart form of `model`: a scalar field as in JSON, an object or array field as a
    JSON-encoded string, and each file field (which replaces a data-URL field of that name) binary."""
    properties: dict[str, Any] = {}
    names = {f.name for f in files}
    for name, prop in inline_schema(model)["properties"].items():
        if name in names:
            continue
        if _is_scalar(prop):
            properties[name] = prop
        else:
            description = prop.get("description", "")
            properties[name] = {
                "type": "string",
                "contentMediaType": "application/json",
                "description": ("JSON-encoded. " + description).strip(),
            }
    for spec in files:
        binary: dict[str, Any] = {"type": "string", "format": "binary"}
        properties[spec.name] = (
            {"type": "array", "items": binary, "description": spec.description}
            if spec.many
            else {**binary, "description": spec.description}
        )
    return {"type": "object", "properties": properties}


def body_openapi(model: type[BaseModel], files: Sequence[FileField] = (), required: bool = True) -> dict[str, Any]:
    """`openapi_extra` for a route that reads its own body with `read_body(request, model, files)`.
    List `model` in `install_body_schemas` so its `$ref` resolves."""
    content: dict[str, Any] = {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}
    content["multipart/form-data"] = {"schema": multipart_schema(model, files)}
    return {"requestBody": {"required": required, "content": content}}


def install_body_schemas(app: FastAPI, models: Sequence[type[BaseModel]]) -> None:
    """Put the JSON bodies of routes that read their own body (`read_body`) in the OpenAPI
    schema as `#/components/schemas/<Model>`.

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
