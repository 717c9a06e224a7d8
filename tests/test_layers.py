"""The layering, checked on the import graph of src/callmask (every import, at any depth).

domain imports nothing else of callmask; storage imports no adapter or service; the service
layer imports no adapter; the adapters (http, sip, cli, runtime) import no other adapter and
reach storage only through the service layer or the composition root; nothing imports cli.
The Python client (client) talks to a server over HTTP: it may read the domain's code table and
nothing else, and nothing of the server imports it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "callmask"
ADAPTERS = {"http", "sip", "cli", "runtime"}
# What each part may import, besides itself and the package root (its version).
ALLOWED = {
    "domain": set(),
    "config": {"domain"},
    "logs": set(),
    "storage": {"domain", "config"},
    "service": {"domain", "storage", "config", "logs"},
    "http": {"domain", "service", "config", "logs"},
    "sip": {"domain", "service", "config", "logs"},
    "runtime": {"domain", "service", "config", "logs"},
    "cli": {"domain", "service", "config", "logs", "bootstrap"},
    "bootstrap": {"domain", "service", "storage", "config", "logs", *ADAPTERS - {"cli"}},
    "client": {"domain"},
}


def _part(module: str) -> str:
    """callmask.http.app -> http; callmask -> "" (the package root)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _module_of(path: Path) -> str:
    relative = path.relative_to(SRC.parent).with_suffix("")
    names = list(relative.parts)
    if names[-1] == "__init__":
        names.pop()
    return ".".join(names)


def imports() -> list[tuple[str, str]]:
    """(importing module, imported callmask module) for every import in src/callmask."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        module = _module_of(path)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                # A name may be a module (`from callmask import logs`); the root's dunders
                # (__version__) are the package's own.
                targets = [
                    base if alias.name.startswith("__") else f"{base}.{alias.name}"
                    for alias in node.names
                ]
            else:
                continue
            found += [(module, target) for target in targets if target.split(".")[0] == "callmask"]
    return found


def test_the_graph_is_read() -> None:
    # A check that finds no imports would pass for the wrong reason.
    edges = imports()
    assert ("callmask.bootstrap", "callmask.http.app") in edges
    assert ("callmask.service.maskings", "callmask.domain.masking.Masking") in edges
    assert {_part(importer) for importer, _ in edges} >= set(ALLOWED) - {"logs"}


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_each_part_imports_only_what_its_layer_allows(part: str) -> None:
    wrong = sorted(
        (importer, target)
        for importer, target in imports()
        if _part(importer) == part
        and _part(target) not in {part, "", *ALLOWED[part]}
        and target != "callmask"
    )
    assert not wrong, f"{part} may import only {sorted(ALLOWED[part])}: {wrong}"


def test_nothing_outside_the_cli_imports_it() -> None:
    assert not [
        (importer, target)
        for importer, target in imports()
        if _part(target) == "cli" and _part(importer) != "cli"
    ]


def test_nothing_outside_the_client_imports_it() -> None:
    assert not [
        (importer, target)
        for importer, target in imports()
        if _part(target) == "client" and _part(importer) != "client"
    ]


def test_the_rules_would_catch_a_breach() -> None:
    # The same predicate, on edges that break the rules, reports each of them.
    breaches = [
        ("callmask.domain.masking", "callmask.storage.base"),
        ("callmask.http.app", "callmask.storage.sqlite"),
        ("callmask.sip.events", "callmask.http.envelope"),
        ("callmask.service.maskings", "callmask.runtime.delivery"),
        ("callmask.client.sync", "callmask.http.envelope"),
    ]
    for importer, target in breaches:
        part = _part(importer)
        assert _part(target) not in {part, "", *ALLOWED[part]}
