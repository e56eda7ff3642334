"""``make package``: one deployable source folder and zip per function.

    build/package/<name>/       main.py, shared/ (the whole package), requirements.txt
    build/package/<name>.zip    the same files, byte-for-byte reproducible
    build/package/manifest.json {name: {"zip": path, "sha256": digest}}

Cloud Functions installs requirements.txt and imports main.py: the deployed code is exactly
the code the tests import. Terraform names the uploaded object after the zip's SHA-256, so a
changed function is redeployed and an unchanged one is not.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = REPO_ROOT / "functions"
DEFAULT_OUTPUT = REPO_ROOT / "build" / "package"
# A fixed timestamp keeps the zip's bytes (and so its hash) independent of when it was built.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def function_names() -> list[str]:
    return sorted(p.name for p in FUNCTIONS_DIR.iterdir() if (p / "main.py").exists())


def _ignored(_directory: str, names: list[str]) -> set[str]:
    return {n for n in names if n == "__pycache__" or n.endswith(".pyc")}


def build(name: str, output: Path) -> tuple[Path, str]:
    folder = output / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    shutil.copy2(FUNCTIONS_DIR / name / "main.py", folder / "main.py")
    shutil.copytree(REPO_ROOT / "shared", folder / "shared", ignore=_ignored)
    shutil.copy2(REPO_ROOT / "requirements.txt", folder / "requirements.txt")

    archive = output / f"{name}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return archive, hashlib.sha256(archive.read_bytes()).hexdigest()


def main(output: Path = DEFAULT_OUTPUT) -> int:
    output.mkdir(parents=True, exist_ok=True)
    manifest = {}
    for name in function_names():
        archive, digest = build(name, output)
        manifest[name] = {"zip": str(archive.relative_to(output)), "sha256": digest}
        print(f"{name:<20} {archive.relative_to(REPO_ROOT) if archive.is_relative_to(REPO_ROOT) else archive}"
              f"  sha256 {digest[:16]}…")
    (output / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUTPUT))
