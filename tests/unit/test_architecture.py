"""The shape of the code: one package per domain, each importing only ``platform`` and ``events``;
thin function entry points; one HTTP layer under every HTTP function."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tools import topology

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = REPO_ROOT / "shared"
COMMON = {"platform", "events"}
DOMAINS = {"ingest", "forwarding", "retail_media", "monitor"}


def shared_imports(path: Path) -> set[str]:
    """The top-level ``shared`` packages a module imports (``shared.platform.http`` -> platform)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] if node.module != "shared" else [f"shared.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        found |= {name.split(".")[1] for name in names if name.startswith("shared.")}
    return found


def package_of(path: Path) -> str:
    return path.relative_to(SHARED).parts[0]


def test_shared_holds_exactly_the_domain_packages_and_the_common_ones():
    packages = {p.name for p in SHARED.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == COMMON | DOMAINS
    assert [p.name for p in SHARED.glob("*.py")] == ["__init__.py"]


@pytest.mark.parametrize("path", sorted(SHARED.rglob("*.py")), ids=lambda p: str(p.relative_to(SHARED)))
def test_a_package_imports_platform_and_events_never_a_sibling_domain(path):
    if path.parent == SHARED:
        return
    own = package_of(path)
    allowed = {"platform"} if own == "platform" else {"platform", "events"} if own == "events" else COMMON | {own}
    assert shared_imports(path) <= allowed, f"{path.relative_to(REPO_ROOT)} imports {shared_imports(path) - allowed}"


def test_the_import_rule_catches_a_domain_importing_another(tmp_path):
    module = tmp_path / "forwarder.py"
    module.write_text("from shared.ingest.service import partner_of\nfrom shared import monitor\n")
    assert shared_imports(module) == {"ingest", "monitor"}


def test_every_http_function_serves_through_the_http_layer():
    for spec in topology.load().functions:
        if spec.trigger != "http":
            continue
        main = (REPO_ROOT / "functions" / spec.name / "main.py").read_text()
        # "from shared.<package> import <module>": the function's wiring module.
        words = next(line.split() for line in main.splitlines() if line.startswith("from shared."))
        wiring = (REPO_ROOT / Path(*words[1].split(".")) / f"{words[3]}.py").read_text()
        assert ".api.serve(request)" in wiring, spec.name


def test_function_entry_points_are_thin():
    for main in sorted((REPO_ROOT / "functions").glob("*/main.py")):
        tree = ast.parse(main.read_text())
        functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
        assert len(functions) == 1 and len(functions[0].body) == 1, main


def test_every_import_of_shared_anywhere_in_the_repo_resolves():
    """Lazy imports inside functions (tools, wiring) are not run by every test: check them all."""
    import importlib

    sources = [p for folder in ("shared", "functions", "tools", "tests") for p in (REPO_ROOT / folder).rglob("*.py")]
    missing = set()
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("shared")):
                continue
            try:
                module = importlib.import_module(node.module)
            except ImportError:
                missing.add(f"{path.relative_to(REPO_ROOT)}: {node.module}")
                continue
            for alias in node.names:
                if not hasattr(module, alias.name):
                    try:
                        importlib.import_module(f"{node.module}.{alias.name}")
                    except ImportError:
                        missing.add(f"{path.relative_to(REPO_ROOT)}: {node.module}.{alias.name}")
    assert not missing, sorted(missing)
