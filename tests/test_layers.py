"""The layer contract: apps -> pipelines -> bundle/models/features/corpora -> audio/errors/io.

Walks every import statement in src/serkit (those inside functions too, where a cycle can hide),
so the picture in docs/development.md "Layout" stays true.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "serkit"

# Lowest first. A module may import its own layer or a lower one, never a higher one.
LAYERS: list[tuple[str, set[str]]] = [
    ("base", {"serkit.errors", "serkit.registry", "serkit.backends", "serkit.stream_options", "serkit.io", "serkit.version", "serkit.validation", "serkit.audio", "serkit.labels", "serkit.metrics", "serkit.parallel",
              "serkit.onnx_runtime", "serkit.normalization", "serkit.normalization_names", "serkit.extras"}),
    ("domain", {"serkit.experiment", "serkit.corpora", "serkit.features", "serkit.models", "serkit.augment",
                "serkit.segment", "serkit.bundle", "serkit.plots"}),
    ("pipelines", {"serkit.evaluation", "serkit.training", "serkit.inference", "serkit.export", "serkit.reports",
                   "serkit.streaming", "serkit.batching", "serkit.results", "serkit.feature_table"}),
    ("apps", {"serkit.cli", "serkit.server", "serkit"}),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer_of(module: str) -> int:
    best, level = -1, None
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best:
                best, level = len(p), i
    assert level is not None, f"{module} is in no layer: add it to LAYERS (and to docs/development.md Layout)"
    return level


def imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(imported serkit module, names taken from it, line) for every import, those under `if TYPE_CHECKING:`
    too: a module that names another's types depends on it, and a cycle through type hints is a cycle."""
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names if a.name.startswith("serkit")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("serkit") and not node.level:
            out.append((node.module, [a.name for a in node.names], node.lineno))
    return out


MODULES = {module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def resolve(module: str, names: list[str]) -> list[str]:
    """`from serkit.features import whisper` imports the submodule serkit.features.whisper."""
    subs = [f"{module}.{n}" for n in names if f"{module}.{n}" in MODULES]
    return subs or [module]


def upward_imports(modules: dict[str, Path]) -> list[str]:
    wrong = []
    for mod, path in modules.items():
        if mod == "serkit":
            continue  # the package's lazy __getattr__ re-exports the pipelines
        for target, names, line in imports(path):
            for t in resolve(target, names):
                if layer_of(t) > layer_of(mod):
                    wrong.append(f"{path.name}:{line}: {mod} ({LAYERS[layer_of(mod)][0]}) imports "
                                 f"{t} ({LAYERS[layer_of(t)][0]})")
    return wrong


def test_every_import_points_down_or_sideways():
    wrong = upward_imports(MODULES)
    assert not wrong, "\n".join(wrong)


def test_no_private_name_is_imported_from_another_module():
    wrong = []
    for mod, path in MODULES.items():
        for target, names, line in imports(path):
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private and target != mod:
                wrong.append(f"{path.relative_to(SRC.parent)}:{line}: {', '.join(private)} from {target}")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles_even_through_imports_inside_functions():
    graph = {mod: set() for mod in MODULES}
    for mod, path in MODULES.items():
        for target, names, _ in imports(path):
            for t in resolve(target, names):
                if t in MODULES and t != mod and not mod.startswith(t + "."):
                    graph[mod].add(t)  # a submodule importing its own package's __init__ is not a cycle
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                cycle = stack[stack.index(n):] + [n]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_the_contract_catches_an_upward_import(tmp_path):
    """The check can fail: an audio-layer module importing the CLI, even inside a function, is reported."""
    fake = tmp_path / "audio.py"
    fake.write_text("def load():\n    from serkit.cli import main\n    return main\n")
    assert upward_imports({"serkit.audio": fake}) == [
        "audio.py:2: serkit.audio (base) imports serkit.cli (apps)"]
    fake.write_text("def load():\n    from serkit.errors import AudioError\n    return AudioError\n")
    assert upward_imports({"serkit.audio": fake}) == []


def test_the_contract_counts_imports_made_for_type_checking_only(tmp_path):
    """An import under `if TYPE_CHECKING:` is an edge: a cycle through type hints is still a cycle."""
    fake = tmp_path / "reports.py"
    fake.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from serkit.evaluation import X\n")
    assert imports(fake) == [("serkit.evaluation", ["X"], 3)]
