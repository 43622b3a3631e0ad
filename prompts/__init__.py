"""Prompt templates as versioned files (prompts/<name>.v<N>.yaml) and their loader."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

import yaml

PROMPTS_DIR = Path(__file__).resolve().parent
_FILE = re.compile(r"^(?P<name>[a-z_]+)\.v(?P<version>\d+)\.yaml$")


@dataclass(frozen=True)
class Prompt:
    """One prompt version: a system message and a user template (`$name` placeholders)."""

    name: str
    version: int
    system: str
    user: str
    sha256: str

    @property
    def ref(self) -> str:
        """What is stored with every explanation: name, version and a content hash prefix."""
        return f"{self.name}@v{self.version}#{self.sha256[:12]}"

    def render(self, **values: str) -> tuple[str, str]:
        """(system, user) with the placeholders filled; a missing value is an error, not an empty string."""
        return Template(self.system).substitute(values), Template(self.user).substitute(values)


def available(directory: Path = PROMPTS_DIR) -> dict[str, list[int]]:
    """Every prompt name with its versions, ascending."""
    out: dict[str, list[int]] = {}
    for path in directory.glob("*.yaml"):
        m = _FILE.match(path.name)
        if m:
            out.setdefault(m["name"], []).append(int(m["version"]))
    return {k: sorted(v) for k, v in out.items()}


def parse_pins(spec: str) -> dict[str, int]:
    """`judge=1,explain=2` (or `judge=v1`) -> {"judge": 1, "explain": 2}."""
    pins: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, version = part.partition("=")
        if not version.strip().lstrip("v").isdigit():
            raise ValueError(f"bad prompt pin {part!r}: expected name=version")
        pins[name.strip()] = int(version.strip().lstrip("v"))
    return pins


def load_prompt(name: str, version: int | None = None, directory: Path = PROMPTS_DIR) -> Prompt:
    """The pinned version of a prompt, or its newest."""
    versions = available(directory).get(name)
    if not versions:
        raise FileNotFoundError(f"no prompt named {name!r} in {directory}")
    v = versions[-1] if version is None else version
    path = directory / f"{name}.v{v}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"prompt {name!r} has no version {v} (have {versions})")
    text = path.read_text()
    data = yaml.safe_load(text)
    if data.get("name") != name or int(data.get("version", -1)) != v:
        raise ValueError(f"{path.name}: name/version inside the file do not match its file name")
    return Prompt(name=name, version=v, system=data["system"].strip(), user=data["user"].strip(),
                  sha256=hashlib.sha256(text.encode()).hexdigest())
