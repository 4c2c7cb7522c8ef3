"""docs/archs.md is what tools/archs_doc.py generates now (from the registry, options/ and the committed
docs/bench_archs_cpu.json) and names every registered generator. Nothing is built or run."""
import re
import runpy
from pathlib import Path

from srgan_kit.registry import ARCHS

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "archs.md"


def test_archs_doc_is_current(fresh_registry):
    # A fresh interpreter: exactly what `make archs-doc` writes, whatever this test session registered.
    assert DOC.read_text() == fresh_registry["archs_doc"], "docs/archs.md is not current: run make archs-doc"


def test_every_registered_generator_is_in_the_doc():
    text = DOC.read_text()
    headings = set(re.findall(r"^### (\S+)$", text, flags=re.M))
    generators = [n for n in ARCHS.names() if ARCHS.attribute(n, "scale_key") is not None]
    assert generators
    missing = [n for n in generators if n not in headings and not re.search(rf"\b{re.escape(n)}\b", text)]
    assert missing == []
    # each class has a section of its own (aliases are named in their class's)
    classes = {id(ARCHS.get(n)): n for n in generators}
    assert len(headings & set(generators)) == len(classes)


def test_measured_rows_are_registered_generators():
    bench = runpy.run_path(str(REPO / "tools" / "archs_doc.py"))["load_bench"]("docs/bench_archs_cpu.json")
    if bench is None:
        return  # no measurements committed yet: the page says so
    assert set(bench["rows"]) <= set(ARCHS.names())
