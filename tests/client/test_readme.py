"""The README's Python client example runs as written against the live server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support import Live

README = Path(__file__).resolve().parents[2] / "README.md"


def example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    [block] = [block for block in blocks if "from callmask.client import" in block]
    return block


def test_the_readme_example_sets_lists_and_unsets(
    live: Live, capsys: pytest.CaptureFixture[str]
) -> None:
    code = example().replace("http://127.0.0.1:8080", live.url).replace("TOKEN", live.client_token)
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("+918040000000 ")
    assert printed[1].endswith(" +919876543210 +919812345678")
    assert live.post("/api/v2/Masking/list", json=live.auth(status="active")).json()["count"] == 0
