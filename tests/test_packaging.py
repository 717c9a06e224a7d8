"""Every file the package reads at run time ships in the wheel (`pip install .`, not -e),
and the wheel installed alone makes a configuration Kamailio accepts."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from glob import glob
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "callmask"
# The console loads these from the package, never from a CDN (scripts/vendor-uplot.sh).
VENDORED = [
    f"http/console/static/vendor/{name}"
    for name in ("uPlot.iife.min.js", "uPlot.min.css", "uPlot.LICENSE", "SHA256SUMS")
]


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


def _matched() -> set[str]:
    """The files the declared patterns take, globbed as setuptools globs them (`**` recursive,
    `*` stops at a slash)."""
    return {
        name
        for pattern in _declared()
        for name in glob(pattern, root_dir=PACKAGE, recursive=True)
        if (PACKAGE / name).is_file()
    }


def test_every_data_file_of_the_package_is_declared_package_data() -> None:
    found = _data_files()
    # The check reads real files: the template, the document and the migrations are there.
    assert {"sip/kamailio.cfg", "http/openapi.json", *VENDORED} <= set(found)
    assert any(name.startswith("storage/migrations/") for name in found)
    missing = sorted(set(found) - _matched())
    assert not missing, f"add to [tool.setuptools.package-data] in pyproject.toml: {missing}"


def _clean_source(into: Path) -> Path:
    """What a fresh clone holds for the build: a developer's stale build/ or egg-info folders
    would put files in the wheel that the sources no longer declare."""
    source = into / "source"
    shutil.copytree(
        PACKAGE.parent,
        source / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"),
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    return source


def _run(
    argv: list[str | Path], env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{argv}:\n{done.stdout}\n{done.stderr}"
    return done


def test_the_wheel_installed_alone_renders_a_configuration_kamailio_accepts(
    tmp_path: Path,
) -> None:
    # Built as pip builds it for a user (isolated, from the configured index), installed with
    # its declared dependencies into a new virtualenv that cannot see the source tree.
    dist, source = tmp_path / "dist", _clean_source(tmp_path)
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", dist, source])
    (wheel,) = dist.glob("callmask-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = set(archive.namelist())
    assert {f"callmask/{name}" for name in VENDORED} <= shipped
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv])
    _run([venv / "bin" / "python", "-m", "pip", "install", "-q", wheel])

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {
        "PATH": f"{venv / 'bin'}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(elsewhere),
        "CALLMASK_DATABASE_URL": f"sqlite:///{elsewhere / 'callmask.db'}",
        "CALLMASK_SIP_ROUTER_USER": "sip",
        "CALLMASK_SIP_ROUTER_TOKEN": "tok_EN-123",
        "CALLMASK_SIP_MASK_KEY": "0123456789abcdef",
        "CALLMASK_SIP_TRUSTED": "192.0.2.10",
    }
    imported = _run(
        [venv / "bin" / "python", "-c", "import callmask; print(callmask.__file__)"],
        env=env,
        cwd=elsewhere,
    )
    assert Path(imported.stdout.strip()).is_relative_to(venv / "lib")

    callmask = venv / "bin" / "callmask"
    _run([callmask, "sip", "config", "--out", "callmask.cfg"], env=env, cwd=elsewhere)
    config = elsewhere / "callmask.cfg"
    assert "userId=sip&token=tok_EN-123" in config.read_text()
    kamailio = shutil.which("kamailio", path=env["PATH"])
    assert kamailio is not None
    _run([kamailio, "-c", "-f", config], env=env, cwd=elsewhere)

    checked = _run([callmask, "sip", "check"], env=env, cwd=elsewhere)
    assert checked.stdout == "ok: kamailio accepts the configuration rendered from the settings\n"
    checked = _run([callmask, "sip", "check", "--file", "callmask.cfg"], env=env, cwd=elsewhere)
    assert checked.stdout == "ok: kamailio accepts callmask.cfg\n"
