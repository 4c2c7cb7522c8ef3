"""options/schema.json: the option files' JSON Schema generated from the option engine, which editors (VS Code's
YAML extension) complete and check options/*.yml with. It is current, every shipped recipe passes it, and it
refuses what the loader refuses."""
import copy
import json
import warnings
from pathlib import Path

import jsonschema
import pytest
import yaml

from srgan_kit.cli.train import main as train_main
from srgan_kit.config.options import load_options, read_yaml
from srgan_kit.config.schema import option_json_schema
from srgan_kit.errors import OptionError

REPO = Path(__file__).resolve().parents[1]
SCHEMA_FILE = REPO / "options" / "schema.json"
RECIPES = sorted(REPO.glob("options/*.yml"))
MODELINE = "# yaml-language-server: $schema=schema.json"


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def _with(data, keys, value):
    data = copy.deepcopy(data)
    target = data
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value
    return data


def _engine_refuses(data, tmp_path):
    path = tmp_path / "options.yml"
    path.write_text(yaml.safe_dump(data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            load_options(path, check_paths=False, root=tmp_path)
        except OptionError:
            return True
    return False


def test_committed_schema_is_current(fresh_registry):
    # A fresh interpreter, as `make schema` runs: classes other tests register must not count.
    assert SCHEMA_FILE.read_text() == fresh_registry["schema"], \
        "options/schema.json differs from what the option engine generates: run `make schema`"


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_shipped_recipe_passes_the_schema(validator, recipe):
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(read_yaml(recipe))]
    assert errors == []


@pytest.mark.parametrize("recipe, keys", [
    ("train_esrgan_x4.yml", ("nmae",)),
    ("train_esrgan_x4.yml", ("train", "pixel_opt", "los_weight")),
    ("train_esrgan_x4.yml", ("datasets", "train", "batch_size")),
    # RRDBNet's key on an MSRResNet: each network type has its own constructor keys
    ("train_msrresnet_x4_psnr.yml", ("network_g", "num_grow_ch")),
], ids=lambda v: ".".join(v) if isinstance(v, tuple) else v)
def test_unknown_key_fails_the_schema_as_the_loader(validator, tmp_path, recipe, keys):
    data = _with(read_yaml(REPO / "options" / recipe), keys, 1)
    assert not validator.is_valid(data)
    assert _engine_refuses(data, tmp_path)


@pytest.mark.parametrize("keys, value", [
    (("train", "total_iter"), "many"),
    (("scale", ), "four"),
    (("network_g", "num_feat"), True),
    (("train", "gan_opt", "gan_type"), "vanila"),
    (("datasets", "train", "use_hflip"), "yes please"),
], ids=lambda v: ".".join(v) if isinstance(v, tuple) else str(v))
def test_wrong_type_fails_the_schema_as_the_loader(validator, tmp_path, keys, value):
    data = _with(read_yaml(REPO / "options" / "train_esrgan_x4.yml"), keys, value)
    assert not validator.is_valid(data)
    assert _engine_refuses(data, tmp_path)


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_recipe_names_the_schema_on_its_first_line(recipe):
    assert recipe.read_text().splitlines()[0] == MODELINE


def test_print_schema_prints_the_generated_schema(capsys):
    assert train_main(["--print-schema"]) == 0
    out = capsys.readouterr().out
    assert out.endswith("}\n")
    assert json.loads(out) == option_json_schema()
