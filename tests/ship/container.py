"""Read the container files the way Docker and Compose do, without a daemon.

`image_env` folds the final stage's `ENV` lines; `service_env` applies Compose's order for a
service (the image's environment, then `env_file`, then `environment:`, later wins), with the
project `.env` interpolating `${VAR:-default}`. The values are the files' own: the tests map
the container's absolute paths onto temporary folders and never restate them.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from dotenv import dotenv_values


@dataclass
class Stage:
    """The last build stage of a Dockerfile: what the running container is made of."""

    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    user: str = "root"
    copies: list[tuple[list[str], str]] = field(default_factory=list)  # (sources, destination)
    volumes: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        if line:
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _json_or_shell(args: str) -> list[str]:
    import json

    return list(json.loads(args)) if args.startswith("[") else ["/bin/sh", "-c", args]


def parse_dockerfile(path: Path) -> Stage:
    stage = Stage()
    for word, args in _instructions(path.read_text()):
        if word == "FROM":
            stage = Stage()  # only the last stage runs
        elif word == "ENV":
            tokens = shlex.split(args)
            if tokens and "=" not in tokens[0]:  # legacy `ENV KEY value with spaces`
                stage.env[tokens[0]] = args.partition(" ")[2].strip()
            else:
                for token in tokens:
                    key, _, value = token.partition("=")
                    stage.env[key] = value
        elif word == "WORKDIR":
            stage.workdir = str(PurePosixPath(stage.workdir) / args)
        elif word == "USER":
            stage.user = args
        elif word == "VOLUME":
            stage.volumes += _json_or_shell(args) if args.startswith("[") else args.split()
        elif word == "CMD":
            stage.cmd = _json_or_shell(args)
        elif word == "COPY":
            tokens = shlex.split(args)
            if any(t.startswith("--from") for t in tokens):
                continue  # built in another stage (the client bundle): not in the checkout
            tokens = [t for t in tokens if not t.startswith("--")]
            dest = str(PurePosixPath(stage.workdir) / tokens[-1])
            # `COPY a ./`: a trailing slash means "into this folder", which PurePosixPath drops.
            stage.copies.append((tokens[:-1], dest + "/" if tokens[-1].endswith("/") else dest))
    return stage


_VAR = re.compile(
    r"\$(?:\$|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?+])?(?P<arg>[^}]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(value: str, scope: dict[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}`, `${VAR-default}` and `$$`, from `scope`."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group("braced") or m.group("bare")
        op, arg = m.group("op"), m.group("arg") or ""
        present = name in scope
        current = scope.get(name, "")
        if op in (":-", "-"):
            use_default = not current if op == ":-" else not present
            return arg if use_default else current
        if op in (":+", "+"):
            return arg if (current if op == ":+" else present) else ""
        if op in (":?", "?"):
            if not current:
                raise ValueError(f"compose requires {name}: {arg}")
        return current

    return _VAR.sub(sub, value)


@dataclass
class Service:
    name: str
    env: dict[str, str]
    command: list[str] | None
    volumes: list[str]  # container paths mounted from volumes (writable)
    raw: dict[str, Any]


def parse_compose(compose_file: Path, service: str, image: Stage) -> Service:
    """One service's container environment in Compose's precedence order."""
    project = compose_file.parent
    dot_env = project / ".env"
    scope = {k: v or "" for k, v in dotenv_values(dot_env).items()} if dot_env.is_file() else {}
    doc = yaml.safe_load(compose_file.read_text())
    spec: dict[str, Any] = doc["services"][service]
    env = dict(image.env)
    for entry in spec.get("env_file", []) or []:
        path, required = (entry, True) if isinstance(entry, str) else (entry["path"], entry.get("required", True))
        file = project / path
        if not file.is_file():
            if required:
                raise FileNotFoundError(file)
            continue
        env.update({k: v or "" for k, v in dotenv_values(file).items()})
    environment = spec.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.partition("=")[::2] for item in environment)
    for key, value in environment.items():
        if value is None:
            continue  # `KEY:` alone passes the host's value through; none here
        env[key] = interpolate(str(value), scope)
    volumes = []
    for volume in spec.get("volumes", []) or []:
        target = volume.split(":")[1] if isinstance(volume, str) else volume["target"]
        volumes.append(target)
    command = spec.get("command")
    if isinstance(command, str):
        command = shlex.split(command)
    return Service(service, env, command, volumes, spec)
