"""Building blocks of a JSON Schema (draft-07) document: shared definitions, value dispatch, null and defaults.

The option engine's nodes (srgan_kit.config.engine) describe themselves with these, so an editor (VS Code's
YAML extension) completes and checks option files by the same rules the loader applies. draft-07 is the
newest draft that editors' YAML language servers read in full.
"""
import json
import math

DRAFT = "http://json-schema.org/draft-07/schema#"

# Text that Python's float() reads as a number: PyYAML (YAML 1.1) loads `2e-4` as a string and the engine
# accepts it, so the schema does too.
NUMBER_TEXT = r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$"
INTEGER_TEXT = r"^\s*[-+]?\d+(\.0*)?([eE]\+?\d+)?\s*$"


class Document:
    """Collects named definitions; identical sub-schemas are stored once and referenced."""

    def __init__(self):
        self.definitions = {}
        self._names = {}  # canonical JSON text -> definition name

    def define(self, hint, schema):
        """A ``$ref`` to ``schema`` stored under ``hint`` (or ``hint-2`` ... when that name holds another)."""
        text = json.dumps(schema, sort_keys=True)
        name = self._names.get(text)
        if name is None:
            name, n = hint, 1
            while name in self.definitions:
                n += 1
                name = f"{hint}-{n}"
            self.definitions[name] = schema
            self._names[text] = name
        return {"$ref": f"#/definitions/{name}"}

    def finish(self, root, title):
        return {"$schema": DRAFT, "title": title, **root, "definitions": self.definitions}


def dumps(document):
    """The committed text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(document, sort_keys=True, indent=2) + "\n"


def dispatch(key, cases, default=None):
    """Per-value sub-schemas selected by ``key`` (a ``type`` or ``model_type``): ``cases`` is a list of
    (values, schema); a mapping without ``key`` gets the case holding ``default`` (if any). Returns
    (the property schema of ``key``, an allOf list of if/then)."""
    values, branches = [], []
    for names, schema in cases:
        values.extend(names)
        condition = {"properties": {key: {"enum": list(names)}}}
        if default not in names:
            condition["required"] = [key]
        branches.append({"if": condition, "then": schema})
    prop = {"enum": values}
    if default is not None:
        prop["default"] = default
    return prop, branches


def or_null(schema):
    """``schema`` that also accepts ~ (null)."""
    schema = dict(schema)
    if "enum" in schema and None not in schema["enum"]:
        schema["enum"] = [*schema["enum"], None]
    if "const" in schema:
        schema["enum"] = [schema.pop("const"), None]
    if "anyOf" in schema:
        schema["anyOf"] = [*schema["anyOf"], {"type": "null"}]
    elif "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        schema["type"] = types + ["null"] if "null" not in types else types
    return schema


def annotate(schema, **notes):
    """``schema`` with annotations (description ...); draft-07 ignores keywords beside a $ref, so a
    reference is wrapped."""
    if "$ref" in schema:
        return {"allOf": [schema], **notes}
    return {**schema, **notes}


def combine(schema, extra):
    """Both constraints: merged when their keywords differ, else ``extra`` under allOf."""
    if not extra:
        return dict(schema)
    if set(schema) & set(extra):
        return {**schema, "allOf": [*schema.get("allOf", []), extra]}
    return {**schema, **extra}


class NotJSON(Exception):
    """A Python value with no JSON form (a class, inf, an object)."""


def json_value(value):
    """``value`` as JSON data (tuples become lists); NotJSON when it has no JSON form."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NotJSON
        return value
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: json_value(v) for k, v in value.items()}
    raise NotJSON


def text_of(value):
    try:
        return json.dumps(json_value(value))
    except NotJSON:
        return repr(value)
