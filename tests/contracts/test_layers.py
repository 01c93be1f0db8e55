"""Dependencies point inward: the domain is pure, services never see Bolt, storage never sees Slack."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FORBIDDEN = {
    "bot/domain": (
        "slack_bolt",
        "slack_sdk",
        "sqlmodel",
        "sqlalchemy",
        "storage",
        "bot.services",
        "bot.slack",
        "jinja2",
        "starlette",
        "uvicorn",
        "apscheduler",
    ),
    "bot/services": ("slack_bolt", "slack_sdk", "bot.slack", "starlette", "uvicorn"),
    "storage": ("slack_bolt", "slack_sdk", "bot"),
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_point_inward(layer: str) -> None:
    offences = []
    for path in sorted((ROOT / layer).rglob("*.py")):
        for name in _imports(path):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[layer]):
                offences.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offences, "\n".join(offences)
