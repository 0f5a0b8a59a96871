"""Write the API's OpenAPI document without starting a server: the source of the client's types.

    python -m app.api.openapi_dump client/openapi.json     # `make api-types` runs this
    python -m app.api.openapi_dump -                       # to stdout

The document is the same on every machine: the app is built from `contract_settings()`, not
from the environment or `.env`, and JSON is written with sorted keys. It shows what a keyed,
rate-limited deployment answers (401, 403 and 429 declared, the `x-api-key` security scheme):
a client must handle those, and a deployment without keys simply never sends them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from app.config import Settings

# Placeholders that switch the guard on (app/api/openapi.py `common_statuses`); never served.
CONTRACT_API_KEYS = "openapi-document-key:admin"
CONTRACT_RATE_LIMIT = "600/minute"


class ContractSettings(Settings):
    """Settings from the arguments only: no environment variables, no `.env`."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def contract_settings() -> Settings:
    """The defaults, plus an API key and a rate limit so their statuses are declared."""
    return ContractSettings(API_KEYS=CONTRACT_API_KEYS, RATE_LIMIT=CONTRACT_RATE_LIMIT)


def openapi_document() -> dict[str, Any]:
    # Imported here: building the app pulls in every router, which `--help` need not wait for.
    from app.api.app import create_app

    return create_app(contract_settings()).openapi()


def render(document: dict[str, Any]) -> str:
    """Stable text: sorted keys, two-space indent, UTF-8 as is, one final newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] in ("-h", "--help"):
        sys.stderr.write(f"usage: python -m app.api.openapi_dump OUTPUT.json | -\n{__doc__}")
        return 0 if args and args[0] in ("-h", "--help") else 2
    text = render(openapi_document())
    if args[0] == "-":
        sys.stdout.write(text)
    else:
        out = Path(args[0])
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
