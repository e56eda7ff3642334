"""What a make target needs from the system, checked (and in the pipeline, installed) from
``system-parts.toml``, the one place that declares it. Standard library only: this runs before
``.venv`` exists.

    python3 -m tools.system_check check test      # every part `make test` needs, or name what is missing
    python3 -m tools.system_check check           # every part of every target
    python3 -m tools.system_check provide test    # pipeline only: install what the image lacks, then check
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DECLARATION = REPO_ROOT / "system-parts.toml"
INSTALL_DIR = Path("/usr/local/bin")


@dataclass(frozen=True)
class Part:
    name: str
    why: str
    command: str | None = None
    python_module: str | None = None
    or_env: str | None = None
    version: str | None = None
    apt: str | None = None
    copy_from: str | None = None
    copy_made_by_step: str | None = None


@dataclass(frozen=True)
class Declaration:
    parts: dict[str, Part]
    targets: dict[str, list[str]]
    images: dict[str, list[str]]

    def needs(self, target: str | None) -> list[Part]:
        if target is None:
            names = sorted({p for parts in self.targets.values() for p in parts})
        elif target not in self.targets:
            raise SystemExit(f"error: make target {target!r} is not declared in {DECLARATION.name} [targets]")
        else:
            names = self.targets[target]
        return [self.parts[n] for n in names]


def load(path: Path = DECLARATION) -> Declaration:
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    parts = {name: Part(name=name, **spec) for name, spec in document.get("parts", {}).items()}
    targets = {name: list(needs) for name, needs in document.get("targets", {}).items()}
    images = {name: list(spec.get("has", [])) for name, spec in document.get("images", {}).items()}
    unknown = sorted({p for needs in [*targets.values(), *images.values()] for p in needs} - set(parts))
    if unknown:
        raise SystemExit(f"error: {path.name} names parts it does not declare: {', '.join(unknown)}")
    return Declaration(parts, targets, images)


def terraform_version(binary: str) -> str | None:
    try:
        out = subprocess.run([binary, "version", "-json"], capture_output=True, text=True, timeout=30,
                             env={**os.environ, "TF_CLI_CONFIG_FILE": "/dev/null", "CHECKPOINT_DISABLE": "1"})
    except (OSError, subprocess.TimeoutExpired):
        return None
    try:
        return json.loads(out.stdout).get("terraform_version")
    except ValueError:
        return None


def problem(part: Part) -> str | None:
    """Why ``part`` is missing or wrong here, or None when it is present."""
    if part.python_module:
        if importlib.util.find_spec(part.python_module) is None:
            return f"{part.name}: Python module {part.python_module!r} not found: {part.why}"
        return None
    found = shutil.which(part.command or part.name)
    if not found and part.or_env and os.environ.get(part.or_env):
        return None
    if not found:
        return f"{part.name}: {part.command!r} not found on PATH: {part.why}"
    if part.version and part.name == "terraform":
        actual = terraform_version(found)
        if actual != part.version:
            return (f"{part.name}: {found} is version {actual or 'unknown'}, the project pins {part.version} "
                    f"({DECLARATION.name}): {part.why}")
    return None


def check(target: str | None, declaration: Declaration) -> list[str]:
    return [p for p in (problem(part) for part in declaration.needs(target)) if p]


def provide(target: str, declaration: Declaration, root: Path = REPO_ROOT,
            install_dir: Path = INSTALL_DIR) -> list[str]:
    """Install, in this (pipeline) container, the parts of ``target`` that are missing."""
    apt: list[str] = []
    for part in declaration.needs(target):
        if problem(part) is None:
            continue
        if part.apt:
            apt.append(part.apt)
        elif part.copy_from:
            source = root / part.copy_from
            if not source.exists():
                return [f"{part.name}: {source} does not exist: the step {part.copy_made_by_step!r} makes it "
                        f"and must run before this one (waitFor)"]
            install_dir.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, install_dir / (part.command or part.name))
            (install_dir / (part.command or part.name)).chmod(0o755)
            print(f"provided {part.name} from {part.copy_from}")
    if apt:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *apt]):
            if subprocess.run(command, env=env, stdout=subprocess.DEVNULL).returncode != 0:
                return [f"{' '.join(command)} failed"]
        print(f"provided {', '.join(apt)} (apt)")
    return check(target, declaration)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("check", "provide") or (argv[0] == "provide" and len(argv) != 2):
        print(__doc__, file=sys.stderr)
        return 2
    declaration = load()
    target = argv[1] if len(argv) > 1 else None
    problems = provide(target, declaration) if argv[0] == "provide" else check(target, declaration)
    for line in problems:
        print(f"error: {line}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
