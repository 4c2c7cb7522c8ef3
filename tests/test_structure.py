"""The package's shape: option files load without torch, module imports form no cycle and run down the layers,
and every registry lives in srgan_kit.registry."""
import ast
import json
import subprocess
import sys
from pathlib import Path

import srgan_kit.registry as registry
from srgan_kit.registry import Registry

PACKAGE = Path(__file__).resolve().parents[1] / "srgan_kit"
RECIPES = sorted((PACKAGE.parent / "options").glob("*.yml"))


def test_loading_every_shipped_option_file_leaves_torch_unimported():
    code = ("import sys, warnings; warnings.simplefilter('ignore'); from srgan_kit.config.options import load_options\n"
            f"for path in {[str(p) for p in RECIPES]!r}: load_options(path, check_paths=False)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision', 'cv2', 'basicsr')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_registered_json_is_what_the_classes_say(fresh_registry):
    assert registry.CATALOGUE_FILE.read_text() == fresh_registry["catalogue"], \
        "srgan_kit/registered.json is stale: run `make schema`"


def test_the_option_facts_of_a_class_read_the_same_from_registered_json_and_from_the_class(fresh_registry):
    script = Path(__file__).with_name("fresh_registry.py")
    from_file = subprocess.run([sys.executable, str(script), "--facts-from-file"], capture_output=True, text=True,
                               check=True).stdout
    assert json.loads(from_file) == fresh_registry["facts"]


def _module_imports():
    """{module: {srgan_kit modules it imports}}, at module level or inside functions (a lazy import is still
    a dependency)."""
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("srgan_kit"))
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("srgan_kit"):
                deps.update(f"{node.module}.{a.name}" for a in node.names)
                deps.add(node.module)
        graph[name] = deps
    return {m: {d for d in deps if d in graph and d != m} for m, deps in graph.items()}


def test_module_imports_form_no_cycle():
    graph, done, path = _module_imports(), set(), []

    def visit(module):
        if module in path:
            raise AssertionError("import cycle: " + " -> ".join(path[path.index(module):] + [module]))
        if module in done:
            return
        path.append(module)
        for dep in sorted(graph[module]):
            visit(dep)
        path.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)


def test_every_registry_is_defined_in_the_registry_module():
    defined_elsewhere = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "registry.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Registry":
                defined_elsewhere.append(str(path.relative_to(PACKAGE)))
    assert defined_elsewhere == []
    kinds = {v.kind for v in vars(registry).values() if isinstance(v, Registry)}
    assert {"network", "loss", "dataset", "metric", "model", "perceptual backbone", "architecture detector"} <= kinds


# Lowest first: a module may import its own layer and the ones before it, never a later one.
LAYERS = (
    ("srgan_kit", "srgan_kit.errors", "srgan_kit.fileio", "srgan_kit.compat", "srgan_kit.distributed",
     "srgan_kit.registry", "srgan_kit.run_folder", "srgan_kit.run_lock"),
    ("srgan_kit.config",),
    ("srgan_kit.device", "srgan_kit.data", "srgan_kit.archs"),
    ("srgan_kit.losses", "srgan_kit.inference"),
    ("srgan_kit.eval",),
    ("srgan_kit.training",),
    ("srgan_kit.models",),
    ("srgan_kit.sweeps",),
    ("srgan_kit.cli",),
)


def _layer(module):
    for rank, members in enumerate(LAYERS):
        if any(module == m or (m != "srgan_kit" and module.startswith(m + ".")) for m in members):
            return rank
    raise AssertionError(f"{module} belongs to no layer: add it to LAYERS")


def test_imports_only_run_down_the_layers():
    upward = sorted(f"{module} -> {dep}" for module, deps in _module_imports().items() for dep in deps
                    if _layer(dep) > _layer(module))
    assert upward == []


def test_config_and_data_import_neither_training_nor_models():
    higher = ("srgan_kit.training", "srgan_kit.models")
    found = sorted(f"{module} -> {dep}" for module, deps in _module_imports().items()
                   if module.startswith(("srgan_kit.config", "srgan_kit.data"))
                   for dep in deps if dep.startswith(higher))
    assert found == []
