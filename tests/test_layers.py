"""The architecture as a contract: which layer may import which, checked on every run.

domain is pure and imports nothing of the project outside itself; the store knows the
domain only; the services (use cases) know the domain and the store, never a channel;
channels sit at the edge, the running process (``process/``) above them, the CLI on top.
Every ``import`` in src/ is read, including those inside functions and under
``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "vasguard"

# layer -> the project's packages it must never import
FORBIDDEN = {
    "domain": {
        "store",
        "services",
        "channels",
        "cli",
        "process",
        "generate",
        "bootstrap",
        "config",
    },
    "store": {"services", "channels", "cli", "process", "generate", "bootstrap"},
    "services": {"channels", "cli", "process", "generate", "bootstrap", "config"},
    "generate": {"channels", "cli", "process", "bootstrap"},
    "channels": {"cli", "process"},
    "process": {"cli"},
}


def _imported(path: Path) -> list[list[str]]:
    """Every module name a module imports, split at the dots."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[list[str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(a.name.split(".") for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module.split("."))
    return found


def _project_imports(path: Path) -> set[str]:
    """The top-level ``vasguard.X`` packages a module imports."""
    return {p[1] for p in _imported(path) if p[0] == "vasguard" and len(p) > 1}


def _modules(layer: str) -> list[Path]:
    return sorted((SRC / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_only_what_it_may(layer):
    modules = _modules(layer)
    assert modules, f"no modules found for {layer}"
    broken = {
        str(path.relative_to(SRC)): sorted(_project_imports(path) & FORBIDDEN[layer])
        for path in modules
        if _project_imports(path) & FORBIDDEN[layer]
    }
    assert broken == {}


def test_the_contract_reads_imports_inside_functions_too(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from vasguard.channels.http import app\n")
    assert _project_imports(module) == {"channels"}


# channel -> the other channels it must never import. The console's simulated MOs go
# through services.intake as the loopback SMSC's do, never the gateway's HTTP route or an
# SMS engine of its own; its pages share nothing with the API but the app they mount on.
CHANNEL_FORBIDDEN = {"console": {"http", "sms", "smpp", "webhooks"}}


def _channel_imports(path: Path) -> set[str]:
    """The ``vasguard.channels.X`` packages a module imports."""
    return {p[2] for p in _imported(path) if p[:2] == ["vasguard", "channels"] and len(p) > 2}


@pytest.mark.parametrize("channel", sorted(CHANNEL_FORBIDDEN))
def test_a_channel_imports_no_channel_it_must_not(channel):
    modules = _modules(f"channels/{channel}")
    assert modules, f"no modules found for channels/{channel}"
    broken = {
        str(path.relative_to(SRC)): sorted(_channel_imports(path) & CHANNEL_FORBIDDEN[channel])
        for path in modules
        if _channel_imports(path) & CHANNEL_FORBIDDEN[channel]
    }
    assert broken == {}
