"""The house rules of `edge/` as a table: which part may import which, and who imports each native library.

Read from the source with `ast` (nothing is imported or executed), counting every import, including
those inside functions and under `TYPE_CHECKING`: a type-only import is still a dependency to keep out
of a lower layer. A part is a package, a module of the root, or a sub-part named in the table
(`minutes.schema`, `ops.synth`, `ops.bench`); a module belongs to the longest part that names it.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

EDGE = Path(__file__).resolve().parent.parent / "edge"

STAGES = {"audio", "asr", "text", "llm", "minutes", "minutes.schema", "transcripts", "speaker"}
"""What the pipeline wires."""

MAY_IMPORT: dict[str, set[str]] = {
    # The shared kernel: configuration, errors, events, queues, the live bus.
    "core": set(),
    # Stages of a segment's life: the kernel, and the few lower stages named here.
    "text": {"core"},
    "asr": {"core"},
    "ops": {"core"},
    "audio": {"core", "ops"},  # the TensorRT VAD builds its engine with edge.ops.tensorrt_engine
    "speaker": {"core", "ops", "audio"},  # mel filters (edge.ops.mel), onnxruntime (edge.audio.onnx_runtime)
    "minutes.schema": {"core"},  # the store validates minutes with it
    "store": {"core", "text", "minutes.schema"},
    "llm": {"core", "text", "store"},
    "minutes": {"core", "text", "llm", "store", "minutes.schema"},
    "transcripts": {"core", "store", "text"},  # imported text goes through the glossary postprocessor
    # Wiring of the stages, whoever asks (API, MQTT, CLI).
    "pipeline": {"core", "store"} | STAGES,
    # The ways in and out, on top of the pipeline.
    "publish": {"core", "store", "pipeline"},
    "api": {"core", "store", "pipeline", "audio", "text", "minutes", "minutes.schema", "transcripts"},
    # The composition root builds the running box from all of the above.
    "app": {"core", "store", "pipeline", "publish", "ops"} | STAGES,
    # Dev-only generators and the benchmark (a real box, so the composition root; and its API, through
    # which the live-meeting-during-an-upload figure uploads as a person does).
    "ops.synth": {"core", "ops", "audio", "asr", "speaker"},
    "ops.bench": {"core", "ops", "ops.synth", "audio", "asr", "llm", "app", "api"},
    "commands": {"core", "store", "pipeline", "publish", "api", "app", "ops", "ops.synth", "ops.bench"} | STAGES,
    "__main__": {"commands"},
}
"""Part -> the parts it may import (besides itself and `edge`, the root package with the version)."""

NATIVE_IMPORTERS = {
    "pywhispercpp": "edge.asr.whispercpp",
    "llama_cpp": "edge.llm.engine",
    "paho": "edge.publish.mqtt",
    "pyaudio": "edge.audio.capture",
    "onnxruntime": "edge.audio.onnx_runtime",
    "onnx": "edge.ops.onnx_graph",
    "tensorrt": "edge.ops.tensorrt_engine",
    "soundfile": "edge.audio.files",
    "soxr": "edge.audio.files",
    "faster_whisper": "edge.ops.bench.peer",
    "cryptography": "edge.api.tls",
    "argon2": "edge.api.accounts",
}
"""Native library -> the one module that imports it (its errors, threads and versions are handled there)."""


def module_name(path: Path) -> str:
    parts = path.relative_to(EDGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache
def edge_modules() -> dict[str, ast.Module]:
    return {module_name(path): ast.parse(path.read_text(encoding="utf-8")) for path in sorted(EDGE.rglob("*.py"))}


def imported_names(tree: ast.Module, module: str, is_package: bool) -> Iterator[tuple[str, int]]:
    """Every absolute module name `tree` imports (relative imports resolved), with its line."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            yield name, node.lineno
            # `from edge.minutes import schema` imports the sub-part edge.minutes.schema.
            for alias in node.names:
                yield f"{name}.{alias.name}", node.lineno


def part_of(module: str) -> str | None:
    """The table's part that holds `module` (longest match), or None for the root package `edge`."""
    relative = module.removeprefix("edge.")
    if module == "edge":
        return None
    for part in sorted(MAY_IMPORT, key=len, reverse=True):
        if relative == part or relative.startswith(part + "."):
            return part
    raise AssertionError(f"{module} belongs to no part of the import table; add its part to MAY_IMPORT")


def upward_imports(modules: dict[str, ast.Module]) -> list[str]:
    problems = []
    for module, tree in modules.items():
        source = part_of(module)
        if source is None:
            continue
        is_package = (EDGE.parent / module.replace(".", "/") / "__init__.py").is_file()
        reported = set()
        for name, line in imported_names(tree, module, is_package):
            if name not in modules or name in reported:
                continue  # third-party, or `from edge.x import some_function` (edge.x is checked)
            target = part_of(name)
            if target is None or target == source or target in MAY_IMPORT[source]:
                continue
            reported.add(name)
            problems.append(f"{module}:{line} imports {name}: `{source}` may import only {sorted(MAY_IMPORT[source])}")
    return problems


def test_every_import_inside_edge_follows_the_table():
    problems = upward_imports(edge_modules())
    assert not problems, "imports against MAY_IMPORT:\n" + "\n".join(problems)


def test_the_table_has_no_cycles_and_names_only_real_parts():
    modules = edge_modules()
    for module in modules:
        part_of(module)
    for part, allowed in MAY_IMPORT.items():
        assert allowed <= MAY_IMPORT.keys(), f"{part} may import unknown parts {allowed - MAY_IMPORT.keys()}"
        assert any(part_of(module) == part for module in modules), f"no module of edge/ is in part {part}"

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(
            nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})) for nxt in MAY_IMPORT[start]
        )

    assert [part for part in MAY_IMPORT if reaches(part, part, set())] == []


def test_a_violation_is_reported_with_its_place_and_the_rule():
    tree = ast.parse("import edge.core.config\n\ndef f():\n    from edge.pipeline.control import BoxControl\n")
    modules = {"edge.text.example": tree, "edge.pipeline.control": ast.Module(body=[], type_ignores=[])}
    assert upward_imports(modules) == [
        "edge.text.example:4 imports edge.pipeline.control: `text` may import only ['core']"
    ]


@pytest.mark.parametrize("library", sorted(NATIVE_IMPORTERS))
def test_each_native_library_has_exactly_one_importer(library):
    importers = sorted(
        module
        for module, tree in edge_modules().items()
        if any(name.split(".")[0] == library for name, _ in imported_names(tree, module, False))
    )
    assert importers == [NATIVE_IMPORTERS[library]], f"{library} is imported by {importers}; only by one module"


def _rule_sentence(docstring: str) -> str | None:
    match = re.search(r"May import\b(.*?)(?:\.\s|\.$)", docstring, re.DOTALL)
    return match.group(1) if match else None


@pytest.mark.parametrize("package", sorted(path.parent.name for path in EDGE.glob("*/__init__.py")))
def test_each_package_docstring_states_the_tables_rule(package):
    docstring = ast.get_docstring(ast.parse((EDGE / package / "__init__.py").read_text(encoding="utf-8"))) or ""
    sentence = _rule_sentence(docstring)
    assert sentence is not None, f"edge/{package}/__init__.py: the docstring needs a sentence 'May import ...'"
    stated = {name.split(".")[0] for name in re.findall(r"`edge\.([a-z_.]+)`", sentence)}
    allowed = {part.split(".")[0] for own in MAY_IMPORT if own.split(".")[0] == package for part in MAY_IMPORT[own]}
    assert stated == allowed - {package}, f"edge/{package}/__init__.py states {sorted(stated)}: {sentence!r}"
