"""`clippy doctor` and `clippy models pull`: what this installation can run, and the weights it lacks.

Both read the same check as the server's `GET /info` (app/availability.py): the settings
(environment and .env) decide which models are meant, the local caches whether they are there.
"""

from __future__ import annotations

import json
import platform
import sys
from importlib import metadata
from typing import Annotated, Any

import typer

from app.availability import Availability, check_availability
from app.cli_common import settings_from_flags

models_app = typer.Typer(
    add_completion=False,
    rich_markup_mode=None,
    no_args_is_help=True,
    help="Model weights: fetch what the settings name into the local caches (`clippy models pull`).",
)

PACKAGES = ("torch", "open_clip_torch", "huggingface_hub", "transformers", "diffusers", "sentence-transformers",
            "qdrant-client", "google-genai")  # fmt: skip


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "clippy": _version("clippy")}
    for name in PACKAGES:
        out[name] = _version(name)
    return out


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _devices(setting: str) -> dict[str, Any]:
    import torch

    from app.embedding.device import resolve_device

    cuda = torch.cuda.is_available()
    data: dict[str, Any] = {"DEVICE": setting, "cuda": cuda}
    if cuda:
        data["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    try:
        data["uses"] = str(resolve_device(setting))  # type: ignore[arg-type]
    except Exception as e:  # DEVICE=cuda without CUDA: the answer is the problem itself
        data["uses"] = f"none: {e}"
    return data


def doctor_report(report: Availability, device: str, docs_url: str = "") -> dict[str, Any]:
    return {
        "ok": all(p.available for p in report.pieces if p.needed),
        "pieces": [p.as_dict() for p in report.pieces],
        "providers": {name: vars(p) for name, p in report.providers(docs_url).items()},
        "hub": {"endpoint": report.hub, "problem": report.hub_problem, "cache": report.cache_dir},
        "devices": _devices(device),
        "versions": _versions(),
    }


def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON (for scripts and CI).")] = False,
    strict: Annotated[
        bool, typer.Option(help="Exit with status 1 when a model or credential the settings name is missing.")
    ] = False,
) -> None:
    """Check what this installation can run, without downloading anything.

    For every model and credential the settings name (OpenCLIP weights, the text-view model,
    SDXL and IP-Adapter, the describe model, the story VLM, Google Vertex AI) it prints
    whether it is there, what its absence disables (search views, generation providers,
    routes) and the setting to change. Then the devices, the hub it would download from and
    the versions installed. The server's GET /info reports the same check.

    Fix what is missing with `clippy models pull` (weights) or the named setting.
    """
    settings = settings_from_flags()
    report = check_availability(settings)
    data = doctor_report(report, settings.DEVICE, settings.DOCS_URL)
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        _print(data)
    if strict and not data["ok"]:
        raise typer.Exit(1)


def _print(data: dict[str, Any]) -> None:
    for p in data["pieces"]:
        if not p["needed"]:
            mark = "-- "
        else:
            mark = "ok " if p["present"] else "get" if p["available"] else "NO "
        typer.echo(f"[{mark}] {p['title']}: {p['reason']}")
        if p["needed"] and not p["available"]:
            typer.echo(f"      setting: {p['setting']}; without it: {', '.join(p['disables'])}")
    typer.echo("")
    for name, p in data["providers"].items():
        typer.echo(f"provider {name:<9} {'available' if p['available'] else 'UNAVAILABLE'}")
    hub = data["hub"]
    typer.echo(f"\nhub: {hub['endpoint']} ({hub['problem'] or 'reachable'}); cache: {hub['cache']}")
    dev = data["devices"]
    typer.echo(
        f"device: DEVICE={dev['DEVICE']} → {dev['uses']}" + (f" ({', '.join(dev['gpus'])})" if dev.get("gpus") else "")
    )
    typer.echo("versions: " + ", ".join(f"{k} {v}" for k, v in data["versions"].items()))
    typer.echo(
        "\n[ok] on disk  [get] downloaded on first use (or now: clippy models pull)  [NO] missing  [--] not used"
    )


@models_app.command("pull")
def pull(
    names: Annotated[
        list[str] | None,
        typer.Argument(
            help="Pieces to fetch: openclip, text, sdxl, ip_adapter, controlnet, describe, story. "
            "None given: every one the settings use that is not on disk yet.",
            show_default=False,
        ),
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Fetch (and re-check) every piece the settings use.")] = False,
) -> None:
    """Download model weights into the configured caches, with progress bars and checksums.

    Files go where the server looks for them: MODEL_CACHE_DIR if set, else the Hugging Face
    cache (HF_HUB_CACHE / HF_HOME). An interrupted pull resumes where it stopped. Every file
    is compared with the checksum the hub lists (sha256 for large files); a mismatch removes
    the file and fails, so running the pull again fetches it anew. HF_ENDPOINT picks another
    hub or a mirror; HF_TOKEN is used for gated repositories.

    \b
    Examples:
      clippy models pull                 what the settings need and the disk lacks
      clippy models pull describe        only the captioning model (DESCRIBE_MODEL)
      clippy models pull --all           everything the settings name, checked again

    Then `clippy doctor` shows what is there.
    """
    from app.weights import pull_piece

    settings = settings_from_flags()
    report = check_availability(settings, hub_problem=lambda: None)
    wanted = names or []
    unknown = [n for n in wanted if n not in report.names]
    if unknown:
        raise typer.BadParameter(f"unknown piece(s) {unknown}. Available: {report.names}", param_hint="NAMES")
    if wanted:
        chosen = [report.piece(n) for n in wanted]
    else:
        chosen = [p for p in report.pieces if p.needed and p.fetch and (all_ or not p.present)]
    failed = 0
    cache = str(settings.MODEL_CACHE_DIR) if settings.MODEL_CACHE_DIR else None
    for piece in chosen:
        if not piece.fetch:
            typer.echo(f"{piece.name}: nothing to download ({piece.reason})", err=True)
            continue
        typer.echo(f"{piece.name}: fetching {', '.join(f.repo for f in piece.fetch)} from {report.hub}", err=True)
        try:
            for done in pull_piece(piece, cache):
                typer.echo(
                    f"{piece.name}: {done.repo} ok, {done.files} files checked ({done.bytes / 1e6:.1f} MB) in {done.folder}"
                )
        except Exception as e:  # one piece failing leaves the others to fetch; the reason is printed
            failed += 1
            typer.echo(f"{piece.name}: FAILED: {str(e).splitlines()[0] if str(e) else type(e).__name__}", err=True)
    if not chosen:
        typer.echo("Everything the settings use is on disk (`clippy doctor` shows it; --all checks again).", err=True)
    if failed:
        raise typer.Exit(1)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(models_app())
