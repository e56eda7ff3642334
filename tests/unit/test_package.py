"""`make package` output is deployable: each folder imports on its own, zips are reproducible."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

from tools import package


def test_every_function_is_packaged_and_imports_from_its_own_folder(tmp_path):
    assert package.main(tmp_path) == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert sorted(manifest) == package.function_names()
    for name in manifest:
        folder = tmp_path / name
        assert (folder / "requirements.txt").read_text() == (package.REPO_ROOT / "requirements.txt").read_text()
        names = zipfile.ZipFile(tmp_path / f"{name}.zip").namelist()
        assert "main.py" in names and "shared/__init__.py" in names
        assert not any("__pycache__" in n for n in names)
        # Imported the way Cloud Functions does: from the folder, without the repository on the path.
        check = subprocess.run([sys.executable, "-E", "-c", f"import main; assert callable(main.{name})"],
                               cwd=folder, capture_output=True, text=True)
        assert check.returncode == 0, check.stderr


def test_zips_are_byte_for_byte_reproducible(tmp_path):
    package.main(tmp_path / "a")
    package.main(tmp_path / "b")
    first = json.loads((tmp_path / "a" / "manifest.json").read_text())
    second = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert first == second
