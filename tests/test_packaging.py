"""Every file the package reads at run time ships in the wheel (`pip install .`, not -e)."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "callmask"


def _declared() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns: list[str] = config["tool"]["setuptools"]["package-data"]["callmask"]
    return patterns


def _data_files() -> list[str]:
    return sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts
    )


def test_every_data_file_of_the_package_is_declared_package_data() -> None:
    found = _data_files()
    # The check reads real files: the template, the document and the migrations are there.
    assert {"sip/kamailio.cfg", "http/openapi.json"} <= set(found)
    assert any(name.startswith("storage/migrations/") for name in found)
    missing = [name for name in found if not any(fnmatch(name, p) for p in _declared())]
    assert not missing, f"add to [tool.setuptools.package-data] in pyproject.toml: {missing}"
