"""What the registered classes say now, from a fresh interpreter (classes a test session registers must not count):
the catalogue (registered.json), the option facts the loader reads, the editors' schema and docs/archs.md. One
interpreter serves every test that compares a generated file with the classes, since loading every registry costs
seconds. Prints JSON; ``--facts-from-file`` prints only the option facts, read from registered.json (nothing
loaded)."""
import json
import runpy
import sys
from pathlib import Path

from srgan_kit import registry


def _plain(default):
    """A default as registered.json keeps it: a value, or None for an object only its presence matters of."""
    try:
        json.dumps(default)
    except TypeError:
        return None
    return default


def option_facts():
    facts = {}
    for reg in [r for r in vars(registry).values() if isinstance(r, registry.Registry) and r.catalogued]:
        for name in json.loads(registry.CATALOGUE_FILE.read_text())[reg.kind]:
            args = {a: "<required>" if d is registry.inspect.Parameter.empty else _plain(d)
                    for a, d in reg.arguments(name).items()}
            check = reg.attribute(name, "check_arguments")
            facts[f"{reg.kind}/{name}"] = [args, reg.attribute(name, "better"), check and check.__qualname__,
                                           reg.is_subclass(name, "GANLoss")]
    return json.loads(json.dumps(facts, sort_keys=True))


if __name__ == "__main__":
    if sys.argv[1:] == ["--facts-from-file"]:
        print(json.dumps(option_facts(), sort_keys=True))
        raise SystemExit(0)
    out = {"catalogue": registry.catalogue_text(), "facts": option_facts()}  # the catalogue loads every registry
    from srgan_kit.config.schema import option_json_schema_text

    out["schema"] = option_json_schema_text()
    tool = runpy.run_path(str(Path(__file__).resolve().parents[1] / "tools" / "archs_doc.py"))
    load = tool["load_bench"]
    out["archs_doc"] = tool["render"](load(tool["BENCH_JSON"]), tool["BENCH_JSON"], load(tool["DEMO_JSON"]))
    print(json.dumps(out, sort_keys=True))
