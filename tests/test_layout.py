"""The package's import graph, read from the source (no module is imported): no circles, no CLI in
the library, imports at the top.

Every ``import`` counts, wherever it sits: a lazy import that closes a circle is still a circle.
``from m2m100.x import y`` is an edge to the module ``m2m100.x.y`` when there is one, else to
``m2m100.x``; importing a submodule is not counted as importing its parent package's ``__init__``
(Python runs it, but it is the package's own business what its ``__init__`` re-exports).

Run as a script, it prints the graph's circles and the rules' exceptions:
``python tests/test_layout.py``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "m2m100"

# Imports that may sit inside a function: the optional extras (and flash-attn, which nothing
# installs), so that the package works without them; cli/ may also defer what ``--help`` does not need.
OPTIONAL = (
    "huggingface_hub",
    "sacrebleu",
    "babel",
    "num2words",
    "fastapi",
    "fastapi_offline",
    "pydantic",
    "prometheus_client",
    "uvicorn",
    "starlette",
    "flash_attn",
    "ray",
    # the [documents] extra's parsers (lxml comes with python-docx)
    "markdown_it",
    "mdit_py_plugins",
    "docx",
    "pptx",
    "polib",
    "srt",
    "webvtt",
    "lxml",
    # the [detect] extra: language detection for src="auto"
    "py3langid",
)
# fairseq pickles its arguments as an argparse.Namespace: the safe load has to allow that class.
ARGPARSE_OUTSIDE_CLI = {"m2m100.fairseq"}


# The layers, bottom up, in the direction data flows: a module may import its own layer and the
# ones below, never one above. ``m2m100.demo`` itself only names the shipped model's folder; its
# submodules build the demo data and model with the library.
LAYERS = (
    ("m2m100.activations", "m2m100.checkpoint", "m2m100.languages", "m2m100.outputs", "m2m100.runtime", "m2m100.demo="),
    ("m2m100.config",),
    ("m2m100.tokenizer",),
    ("m2m100.model",),
    ("m2m100.generation",),
    ("m2m100.modeling",),
    ("m2m100.control",),
    ("m2m100.translator", "m2m100.glossary", "m2m100.fairseq", "m2m100.evaluation"),
    ("m2m100.documents",),
    ("m2m100.training", "m2m100.serving", "m2m100.demo", "m2m100.ray"),
    ("m2m100.cli",),
)


def layer(name: str) -> int:
    """The index in :data:`LAYERS` of module ``name``: the longest prefix that matches wins (one
    ending in "=" matches only the module itself, and beats the same prefix without it)."""
    matches = [
        (len(prefix) + prefix.endswith("="), i)
        for i, prefixes in enumerate(LAYERS)
        for prefix in prefixes
        if name == prefix.rstrip("=") or (not prefix.endswith("=") and name.startswith(prefix + "."))
    ]
    if not matches:
        raise AssertionError(f"{name} belongs to no layer of LAYERS")
    return max(matches)[1]


def upward_imports(modules: dict[str, ast.Module]) -> list[str]:
    """Imports of a module from a higher layer (the package root, whose ``__init__`` re-exports
    the public names and carries ``__version__``, and the ``python -m`` entry points aside)."""
    known = set(modules)
    return list(
        dict.fromkeys(
            f"{name}:{line} imports {target}"
            for name, tree in modules.items()
            if name != "m2m100" and not is_entry_point(name)
            for target, line, _ in imports(name, tree, known)
            if target in known and target != "m2m100" and layer(target) > layer(name)
        )
    )


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def read_modules() -> dict[str, ast.Module]:
    return {
        module_name(path): ast.parse(path.read_text(encoding="utf-8"), str(path))
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def imports(name: str, tree: ast.Module, known: set[str]) -> list[tuple[str, int, bool]]:
    """(imported module, line, at the module's top level) for every import of ``tree``."""
    top = {id(node) for node in tree.body}
    package = name if name in known and any(m.startswith(name + ".") for m in known) else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, up level - 1
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                target = f"{base}.{alias.name}"
                found.append((target if target in known else base, node.lineno, id(node) in top))
    return found


def graph(modules: dict[str, ast.Module]) -> dict[str, set[str]]:
    known = set(modules)
    return {
        name: {target for target, _, _ in imports(name, tree, known) if target in known and target != name}
        for name, tree in modules.items()
    }


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(edges)))
    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(found)


def is_cli(name: str) -> bool:
    return name == "m2m100.cli" or name.startswith("m2m100.cli.")


def is_entry_point(name: str) -> bool:
    """``python -m`` modules (``m2m100/__main__.py``, ``demo/evaluate/__main__.py`` ...): they only call the CLI."""
    return name.endswith(".__main__")


def cli_in_library(modules: dict[str, ast.Module]) -> list[str]:
    """Modules outside cli/ (entry points aside) that import argparse or the CLI."""
    known = set(modules)
    found = []
    for name, tree in modules.items():
        if is_cli(name) or is_entry_point(name):
            continue
        for target, line, _ in imports(name, tree, known):
            if is_cli(target) or (target == "argparse" and name not in ARGPARSE_OUTSIDE_CLI):
                found.append(f"{name}:{line} imports {target}")
    return list(dict.fromkeys(found))


def deferred_imports(modules: dict[str, ast.Module]) -> list[str]:
    """Imports inside functions of modules outside cli/, other than the optional extras."""
    known = set(modules)
    return list(
        dict.fromkeys(
            f"{name}:{line} imports {target}"
            for name, tree in modules.items()
            if not is_cli(name)
            for target, line, at_top in imports(name, tree, known)
            if not at_top and target.split(".")[0] not in OPTIONAL
        )
    )


def test_no_import_circles() -> None:
    assert circles(graph(read_modules())) == []


def test_the_library_does_not_import_the_cli() -> None:
    assert cli_in_library(read_modules()) == []


def test_imports_are_at_the_top() -> None:
    assert deferred_imports(read_modules()) == []


def test_no_upward_imports() -> None:
    assert upward_imports(read_modules()) == []


def test_decoding_reaches_the_model_through_its_seam() -> None:
    """generation/ calls ``Seq2SeqLM``'s methods; it never walks the model's submodules."""
    for path in sorted((PACKAGE / "generation").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        for reach in ("model.model", ".lm_head", ".encoder(", ".decoder("):
            assert reach not in text, f"{path.name} reaches into the model: {reach}"


def test_the_graph_sees_a_circle() -> None:
    """The checks above would pass on a graph that lost its edges: this one must show a circle."""
    modules = read_modules()
    modules["m2m100.languages"].body.append(ast.parse("from m2m100.cli.common import CLIError").body[0])
    assert any({"m2m100.cli.common", "m2m100.languages"} <= set(circle) for circle in circles(graph(modules)))
    modules["m2m100.config"].body.append(ast.parse("from m2m100.translator import Translator").body[0])
    assert any(found.startswith("m2m100.config:") for found in upward_imports(modules))
    assert layer("m2m100.demo") < layer("m2m100.translator") < layer("m2m100.demo.data")


if __name__ == "__main__":
    modules = read_modules()
    edges = graph(modules)
    print(f"{len(modules)} modules, {sum(map(len, edges.values()))} import edges inside m2m100")
    print("circles:", circles(edges) or "none")
    print(
        "argparse or m2m100.cli outside cli/:",
        cli_in_library(modules) or "none",
        f"(allowed: argparse in {', '.join(sorted(ARGPARSE_OUTSIDE_CLI))}; entry points: "
        f"{', '.join(sorted(name for name in modules if is_entry_point(name)))})",
    )
    print("imports inside functions outside cli/, other than optional extras:", deferred_imports(modules) or "none")
    print("upward imports (a lower layer importing a higher one):", upward_imports(modules) or "none")
