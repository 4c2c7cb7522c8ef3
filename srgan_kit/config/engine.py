"""The validation engine for option-like YAML (no torch, no srgan_kit schema): which keys a mapping may hold,
their types, defaults and checks.

Declarative: a file's structure is a tree of nodes --
  Field    one value: a kind (int, float, ...), a default or REQUIRED, choices, a check;
  Section  a mapping with fixed keys (``train``, ``path``, ``logger`` ...);
  Typed    a mapping with a ``type`` key naming a registered class; its other keys must be that class's
           constructor parameters (``Registry.arguments``), plus a few non-constructor keys; the class's own
           ``check_arguments`` (when it has one) owns the rules for their values;
  MapOf    a mapping with free names (``datasets.<phase>``, ``val.metrics.<name>``);
  ListOf   a list whose items are all one node.
Every mapping node also lists ``unused`` keys (keys of other toolkits that are read but not used: one warning
each, then dropped), ``aliases`` (older key names) and ``derived`` keys (written by the loader; accepted in
saved files and recomputed). ``validate`` walks the tree and reports problems and warnings in a Context;
each node's ``to_json_schema`` describes the same rules to editors (srgan_kit.config.json_schema).
"""
import copy
import inspect
import math
import re
from dataclasses import dataclass, field

from srgan_kit.config import json_schema as js
from srgan_kit.errors import ArgumentError, OptionError, closest


class _Sentinel:
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


REQUIRED = _Sentinel("REQUIRED")  # a Field default: the key must be given
SKIP = _Sentinel("SKIP")  # a Typed entry of a type the registry marks unavailable: dropped after one warning
INVALID = _Sentinel("INVALID")  # a value that produced a problem (left out of the result)


class Mismatch(Exception):
    """A value that does not fit a kind / check (internal; reported as a problem by the walker)."""


# ---------------------------------------------------------------------------------------------------
# Kinds: how a raw YAML value becomes a typed one.


@dataclass(frozen=True)
class Kind:
    expect: str  # how messages describe a fitting value
    coerce: object  # raw value -> typed value, or raise Mismatch
    schema: dict = field(default=None, compare=False)  # the JSON Schema of a fitting value


def _number_text(value):
    # PyYAML follows YAML 1.1, which reads `2e-4` (no dot) as a string: accept what float() accepts.
    try:
        number = float(value.strip())
    except ValueError:
        raise Mismatch from None
    if math.isnan(number):
        raise Mismatch
    return number


def _to_int(value):
    if isinstance(value, bool):
        raise Mismatch
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        value = _number_text(value)
    # BasicSR writes counts as `!!float 5e3`: an integral float is an int.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise Mismatch


def _to_float(value):
    if isinstance(value, bool):
        raise Mismatch
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return _number_text(value)
    raise Mismatch


def _to_number(value):
    # Like float, but an int stays an int (constructor defaults such as weight_decay=0 take either).
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return _to_float(value)


def _exactly(kind):
    def coerce(value):
        if isinstance(value, kind):
            return value
        raise Mismatch

    return coerce


_NUMBER_SCHEMA = {"anyOf": [{"type": "number"}, {"type": "string", "pattern": js.NUMBER_TEXT}]}
INT = Kind("an integer", _to_int, {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": js.INTEGER_TEXT}]})
FLOAT = Kind("a number", _to_float, _NUMBER_SCHEMA)
NUMBER = Kind("a number", _to_number, _NUMBER_SCHEMA)
BOOL = Kind("true or false", _exactly(bool), {"type": "boolean"})
STR = Kind("a string", _exactly(str), {"type": "string"})
MAPPING = Kind("a mapping", _exactly(dict), {"type": "object"})
ANY = Kind("any value", lambda value: value, {})


def list_of(item=ANY, length=None):
    def coerce(value):
        if not isinstance(value, (list, tuple)) or (length is not None and len(value) != length):
            raise Mismatch
        return [item.coerce(v) for v in value]

    schema = {"type": "array", "items": _kind_schema(item)}
    if length is not None:
        schema.update(minItems=length, maxItems=length)
    what = f"a list of {length} items" if length else "a list"
    return Kind(what if item is ANY else f"{what} ({item.expect} each)", coerce, schema)


def count_or(word):
    """An integer >= 0, or one fixed word (num_gpu: 0, 1, ... or 'auto')."""

    def coerce(value):
        if value == word:
            return value
        value = _to_int(value)
        if value < 0:
            raise Mismatch
        return value

    return Kind(f"an integer >= 0 or {word!r}", coerce, {"anyOf": [{**INT.schema, "minimum": 0}, {"const": word}]})


# ---------------------------------------------------------------------------------------------------
# Checks: a test on a coerced value plus the words that describe it in messages.


@dataclass(frozen=True)
class Check:
    test: object
    text: str
    schema: dict = field(default=None, compare=False)  # the same test in JSON Schema keywords


def at_least(low):
    return Check(lambda v: v >= low, f">= {low}", {"minimum": low})


def greater(low):
    return Check(lambda v: v > low, f"> {low}", {"exclusiveMinimum": low})


def between(low, high):
    return Check(lambda v: low <= v <= high, f"in [{low}, {high}]", {"minimum": low, "maximum": high})


def half_open(low, high):
    return Check(lambda v: low <= v < high, f"in [{low}, {high})", {"minimum": low, "exclusiveMaximum": high})


def each(check):
    return Check(lambda v: all(check.test(x) for x in v), f"each {check.text}", {"items": _check_schema(check)})


def one_of(values):
    """A value among ``values`` (list items: ``each(one_of(...))``)."""
    values = tuple(values)
    return Check(lambda v: v in values, "one of " + ", ".join(values), {"enum": list(values)})


# Keywords apply to their own JSON type only, so one fragment covers strings, lists and mappings.
NON_EMPTY = Check(lambda v: len(v) > 0, "not empty", {"minLength": 1, "minItems": 1, "minProperties": 1})


def _kind_schema(kind):
    if kind.schema is None:
        raise TypeError(f"kind {kind.expect!r} has no JSON Schema (give it schema=...)")
    return kind.schema


def _check_schema(check):
    if check.schema is None:
        raise TypeError(f"check {check.text!r} has no JSON Schema (give it schema=...)")
    return check.schema


# ---------------------------------------------------------------------------------------------------
# Nodes.


class Field:
    """One value: kind, default (REQUIRED = must be given), optional choices / check, nullable (~ allowed)."""

    def __init__(self, kind, default=REQUIRED, *, choices=None, check=None, nullable=False):
        self.kind = kind
        self.default = default
        self.choices = tuple(choices) if choices is not None else None
        self.check = check
        self.nullable = nullable

    @property
    def required(self):
        return self.default is REQUIRED

    def expect(self):
        if self.choices is not None:
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        else:
            text = self.kind.expect + (f" {self.check.text}" if self.check else "")
        return text + (" or ~ (none)" if self.nullable else "")

    def coerce(self, value):
        if value is None and self.nullable:
            return None
        value = self.kind.coerce(value)
        if self.choices is not None and value not in self.choices:
            raise Mismatch
        if self.check is not None and not self.check.test(value):
            raise Mismatch
        return value

    def to_json_schema(self, doc, where=""):
        """Kind, choices, check, ~ and the default, described as messages describe them."""
        schema = dict(_kind_schema(self.kind))
        if self.choices is not None:
            schema["enum"] = [js.json_value(c) for c in self.choices]
        if self.check is not None:
            schema = js.combine(schema, _check_schema(self.check))
        if self.nullable:
            schema = js.or_null(schema)
        text = self.expect()
        if self.required:
            text += "; required"
        else:
            try:
                schema["default"] = js.json_value(self.default)
                text += f"; default {js.text_of(self.default)}"
            except js.NotJSON:  # a constructor's own default that YAML cannot write
                pass
        schema["description"] = text
        return schema


class Section:
    """A mapping with fixed keys. ``absent``: value when the section is missing or ~ ({} = fill defaults)."""

    def __init__(self, fields, *, required=False, absent="defaults", unused=None, aliases=None, derived=()):
        self.fields = dict(fields)
        self.required = required
        self.absent = absent  # "defaults" -> validate {} ; None -> the section stays None
        self.unused = dict(unused or {})
        self.aliases = dict(aliases or {})
        self.derived = tuple(derived)

    def to_json_schema(self, doc, where=""):
        """Its keys and no others, stored once as a definition named by its key path."""
        schema = _mapping_schema(self, self.fields, doc, where)
        schema["description"] = describe(self)
        # ~ reads as "absent": the section stays ~ or fills its defaults (which fails if a key is required).
        if self.absent is None or all(_empty_ok(sub) for sub in self.fields.values()):
            schema = js.or_null(schema)
        return doc.define(where or "options", schema)


class Typed:
    """``{type: Name, **args}`` checked against a registry (see module docstring).

    supplied: constructor parameters srgan_kit passes itself (dataset scale/phase, optimizer params ...);
    known: stricter Fields for common parameters (used only when the class has that parameter; their
    defaults are ignored: the class's apply); require: parameters that must be given here even though
    the class has a default (a training set's gt_size); optional: parameters without a default that
    srgan_kit fills when absent (a metric's crop_border); extra: non-constructor keys (e.g.
    batch_size_per_gpu), filled with their defaults; default_type: the type of an entry that names none. A
    type the registry lists as unavailable (other toolkits have it, srgan_kit not yet) is dropped after one
    warning.
    """

    def __init__(self, registry, *, required=True, supplied=(), known=None, require=(), optional=(), extra=None,
                 unused=None, aliases=None, derived=(), default_type=None):
        self.registry = registry
        self.optional = tuple(optional)
        self.default_type = default_type
        self.require = tuple(require)
        self.required = required
        self.supplied = tuple(supplied)
        self.known = dict(known or {})
        self.extra = dict(extra or {})
        self.unused = dict(unused or {})
        self.aliases = dict(aliases or {})
        self.derived = tuple(derived)

    def parameters(self, type_name):
        """({key: Field} a spec of this type may hold besides 'type', keys whose absence is left implicit).

        Constructor parameters with a default are not filled in (the class applies its own default);
        ``extra`` keys are filled with their schema defaults.
        """
        fields, implicit = {}, set()
        for name, default in self.registry.arguments(type_name).items():
            if name in self.supplied:
                continue
            required = name in self.require or (default is inspect.Parameter.empty and name not in self.optional)
            known = self.known.get(name)
            if known is None:
                fields[name] = field_from_default(REQUIRED if required else default)
            else:
                fields[name] = Field(known.kind, REQUIRED if required else default, choices=known.choices,
                                     check=known.check, nullable=known.nullable or (not required and default is None))
            if not required:
                implicit.add(name)
        fields.update(self.extra)
        return fields, implicit

    def to_json_schema(self, doc, where=""):
        """One if/then per registered class on ``type`` (its aliases included), whose branch holds that class's
        keys as ``parameters`` gives them; a type the registry marks unavailable takes any keys (a warning)."""
        kind = self.registry.kind
        cases, notes = [], []
        for names, obj in registry_groups(self.registry):
            fields, implicit = self.parameters(names[0])
            schema = _mapping_schema(self, fields, doc, where, implicit, fixed={"type": {"enum": names}})
            schema["description"] = _summary(obj) or f"{kind} {names[0]}"
            cases.append((names, doc.define(f"{kind}.{getattr(obj, '__name__', names[0])}", schema)))
            notes += [schema["description"]] * len(names)
        for name, why in sorted(self.registry.unavailable.items()):
            if name not in self.registry:
                cases.append(([name], {"description": f"{why}; ignored", "deprecationMessage": f"{why}; ignored"}))
                notes.append(f"{why}; ignored")
        prop, branches = js.dispatch("type", cases, default=self.default_type)
        prop["description"] = f"the {kind} type" + (f"; default {self.default_type}" if self.default_type else "")
        prop["enumDescriptions"] = notes  # shown beside each name when an editor completes it (VS Code)
        schema = {"type": "object", "properties": {"type": prop}, "allOf": branches, "description": describe(self)}
        if self.default_type is None:
            schema["required"] = ["type"]
        return schema if self.required else js.or_null(schema)


@dataclass
class MapOf:
    """A mapping of free names to nodes: ``named`` ({name: node}) for particular names, ``value`` for the rest."""

    value: object
    required: bool = False
    key_pattern: str = r".+"
    key_expect: str = "a name"
    named: dict = field(default_factory=dict)

    def node_for(self, key):
        return self.named.get(key, self.value)

    def key_ok(self, key):
        return isinstance(key, str) and re.fullmatch(self.key_pattern, key) is not None

    def to_json_schema(self, doc, where=""):
        return js.or_null({
            "type": "object",
            "propertyNames": {"pattern": f"^(?:{self.key_pattern})$"},
            "properties": {key: node.to_json_schema(doc, f"{where}.{key}") for key, node in self.named.items()},
            "additionalProperties": self.value.to_json_schema(doc, f"{where}.*"),
            "description": describe(self),
        })


@dataclass
class ListOf:
    """A list whose items all follow ``item`` (absent or ~ = an empty list)."""

    item: object
    required: bool = False

    def to_json_schema(self, doc, where=""):
        return js.or_null({"type": "array", "items": self.item.to_json_schema(doc, f"{where}[]"),
                           "description": describe(self)})


def optional_fields(node):
    """Every optional Field under ``node`` (through Sections and a Typed node's extra keys), so a self-check
    can assert that each default passes its own Field's checks."""
    if isinstance(node, Field):
        if not node.required:
            yield node
    elif isinstance(node, Section):
        for sub in node.fields.values():
            yield from optional_fields(sub)
    elif isinstance(node, Typed):
        for sub in node.extra.values():
            yield from optional_fields(sub)


def without_defaults(node, value):
    """``value`` (validated by ``node``) less every key a Section or a Typed node's extra keys hold at its Field
    default, recursively; a section left empty goes too. What a file asks for beyond the defaults: adding a
    key with a neutral default does not change it."""
    if isinstance(node, MapOf) and isinstance(value, dict):
        return {k: without_defaults(node.node_for(k), v) for k, v in value.items()}
    if isinstance(node, ListOf) and isinstance(value, list):
        return [without_defaults(node.item, v) for v in value]
    fields = node.fields if isinstance(node, Section) else node.extra if isinstance(node, Typed) else None
    if fields is None or not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        sub = fields.get(key)
        if isinstance(sub, Field) and not sub.required and _same_value(item, sub.default):
            continue
        kept = without_defaults(sub, item) if sub is not None else item
        if kept == {} and isinstance(sub, Section) and sub.absent == "defaults":
            continue
        out[key] = kept
    return out


def _same_value(a, b):
    # 1 and True compare equal in Python; a default of False is not a weight of 0.
    return type(a) is type(b) and a == b or (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple))
                                             and list(a) == list(b))


def field_from_default(default, check=None, exact_length=False):
    """A Field typed by its default (REQUIRED: any value): bool, number (with ``check``), string, or a list
    (of numbers when the default's items are; of the default's length with ``exact_length``)."""
    if default is REQUIRED:
        return Field(ANY)
    if isinstance(default, bool):
        return Field(BOOL, default)
    if isinstance(default, (int, float)):
        return Field(NUMBER, default, check=check)
    if isinstance(default, str):
        return Field(STR, default)
    if isinstance(default, (list, tuple)):
        numbers = bool(default) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in default)
        return Field(list_of(NUMBER if numbers else ANY, len(default) if exact_length else None), default)
    return Field(ANY, default, nullable=True)


# ---------------------------------------------------------------------------------------------------
# JSON Schema helpers shared by the nodes' to_json_schema.


def _mapping_schema(node, fields, doc, where, implicit=(), fixed=None):
    """A Section's or a Typed branch's keys as _walk_keys reads them: ``fixed`` properties, fields, aliases
    (not together with the current name), derived keys, unused keys (a warning), and no others."""
    props = dict(fixed or {})
    for key, sub in fields.items():
        props[key] = sub.to_json_schema(doc, f"{where}.{key}" if where else key)
    rules = []
    for old, new in node.aliases.items():
        if new in fields:
            props[old] = js.annotate(props[new], deprecationMessage=f"BasicSR's older name for '{new}'")
            rules.append({"not": {"required": [old, new]}})
    for key in node.derived:
        props[key] = {"description": "set by srgan_kit when it loads the file (a given value is replaced)"}
    for key, why in node.unused.items():
        props[key] = {"description": f"{why}; ignored", "deprecationMessage": f"{why}; ignored"}
    schema = {"type": "object", "properties": props, "additionalProperties": False}
    required = [key for key, sub in fields.items() if sub.required and key not in implicit]
    if required:
        schema["required"] = required
    if rules:
        schema["allOf"] = rules
    return schema


def _empty_ok(node):
    """Whether leaving ``node`` out passes (nothing under it is required)."""
    if node.required:
        return False
    if isinstance(node, Section) and node.absent is not None:
        return all(_empty_ok(sub) for sub in node.fields.values())
    return True


def registry_groups(registry):
    """[(names, object)]: each registered object once, with every name it is registered under (sorted)."""
    groups = {}
    for name in registry.names():
        obj = registry.get(name)
        groups.setdefault(id(obj), (obj, []))[1].append(name)
    return [(names, obj) for obj, names in groups.values()]


def _summary(obj):
    """The first paragraph of a registered object's docstring, on one line."""
    doc = inspect.getdoc(obj) if inspect.isclass(obj) or inspect.isfunction(obj) else None
    return " ".join((doc or "").split("\n\n")[0].split())


# ---------------------------------------------------------------------------------------------------
# The walker.


def dotted(path):
    return ".".join(str(p) for p in path)


@dataclass
class Context:
    """What a validation found: problems (path, message), warnings (path, message), given derived keys."""

    is_train: bool = True
    problems: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    derived_given: dict = field(default_factory=dict)

    def problem(self, path, message):
        self.problems.append((tuple(path), message))

    def warn(self, path, message):
        self.warnings.append((tuple(path), message))

    def unknown(self, path, candidates):
        names = sorted(str(c) for c in candidates)
        near = closest(str(path[-1]), names)
        message = "unknown key"
        if near is not None:
            message += f" (did you mean '{dotted(path[:-1] + (near,))}'?)"
        message += f"; valid keys here: {', '.join(names)}" if names else "; no keys are valid here"
        self.problem(path, message)


def raise_problems(file, ctx, sources=None):
    """One OptionError naming ``file`` for every problem in ``ctx`` (nothing when there is none); ``sources``
    ({key path: '--set ...'}) says which override a problem came from."""
    if not ctx.problems:
        return

    def origin(path):
        hits = [src for keys, src in (sources or {}).items() if path[: len(keys)] == keys]
        return f" (from {hits[0]})" if hits else ""

    lines = [f"{dotted(p)}: {m}{origin(p)}" for p, m in ctx.problems]
    if len(lines) == 1:
        raise OptionError(f"{file}: {lines[0]}")
    raise OptionError(f"{file}: {len(lines)} problems:\n" + "\n".join(f"  - {line}" for line in lines))


def validate(node, value, path, ctx, present=True):
    """Return the cleaned value of ``value`` under ``node`` (INVALID / SKIP on failure / drop)."""
    if not present:
        return _absent(node, path, ctx)
    if isinstance(node, Field):
        try:
            return node.coerce(value)
        except Mismatch:
            ctx.problem(path, f"expected {node.expect()}, got {value!r}")
            return INVALID
    if isinstance(node, Section):
        return _walk_section(node, value, path, ctx)
    if isinstance(node, Typed):
        return _walk_typed(node, value, path, ctx)
    if isinstance(node, MapOf):
        return _walk_map(node, value, path, ctx)
    if isinstance(node, ListOf):
        return _walk_list(node, value, path, ctx)
    raise TypeError(f"not a schema node: {node!r}")


def _absent(node, path, ctx):
    if isinstance(node, Field):
        if node.required:
            ctx.problem(path, f"missing required key (expected {node.expect()})")
            return INVALID
        return copy.deepcopy(node.default)
    if node.required:
        what = describe(node)
        ctx.problem(path, f"missing required section (expected {what})")
        return INVALID
    if isinstance(node, Section):
        return None if node.absent is None else _walk_section(node, {}, path, ctx)
    if isinstance(node, (MapOf, ListOf)):
        return {} if isinstance(node, MapOf) else []
    return None  # an optional Typed (scheduler, network_d, pixel_opt)


def describe(node):
    if isinstance(node, Field):
        return node.expect()
    if isinstance(node, Typed):
        names = node.registry.names()
        return f"a mapping with 'type': one of {', '.join(names)}" if names else f"a {node.registry.kind} mapping"
    if isinstance(node, MapOf):
        return f"a mapping of {node.key_expect} to settings"
    if isinstance(node, ListOf):
        return f"a list (each item {describe(node.item)})"
    return "a mapping with keys " + ", ".join(node.fields)


def _mapping(value, path, ctx, node):
    if not isinstance(value, dict):
        ctx.problem(path, f"expected {describe(node)}, got {value!r}")
        return None
    return value


def _rename_aliases(node, value, path, ctx):
    """BasicSR's older key names (use_flip, strict_load ...) are read as the current ones, with a warning."""
    out = {}
    for key, val in value.items():
        new = node.aliases.get(key)
        if new is None:
            out.setdefault(key, val)
            continue
        if new in value:
            ctx.problem(path + (key,), f"both '{key}' (BasicSR's older name) and '{new}' are given; keep '{new}'")
            continue
        ctx.warn(path + (key,), f"BasicSR's older name for '{new}'; read as {dotted(path + (new,))}")
        out[new] = val
    return out


def _walk_keys(node, value, path, ctx, fields, extra_ok=(), implicit=()):
    """Shared by Section and Typed: unused / derived / fields / unknown, then absent fields."""
    out = {}
    for key, val in value.items():
        kp = path + (key,)
        if key in extra_ok:
            continue
        if key in node.unused:
            ctx.warn(kp, f"{node.unused[key]}; ignored")
        elif key in node.derived:
            ctx.derived_given[kp] = val
        elif key in fields:
            cleaned = validate(fields[key], val, kp, ctx)
            if cleaned is not INVALID and cleaned is not SKIP:
                out[key] = cleaned
        else:
            ctx.unknown(kp, list(fields))
    for key, sub in fields.items():
        if key not in value and key not in implicit:
            cleaned = validate(sub, None, path + (key,), ctx, present=False)
            if cleaned is not INVALID:
                out[key] = cleaned
    return out


def _walk_section(node, value, path, ctx):
    if value is None:
        if node.absent is None:
            return None
        value = {}
    if _mapping(value, path, ctx, node) is None:
        return INVALID
    value = _rename_aliases(node, value, path, ctx)
    cleaned = _walk_keys(node, value, path, ctx, node.fields)
    # Schema order, so saved options read the same for every run.
    return {key: cleaned[key] for key in node.fields if key in cleaned}


def _walk_typed(node, value, path, ctx):
    if value is None and not node.required:
        return None
    if _mapping(value, path, ctx, node) is None:
        return INVALID
    kind = node.registry.kind
    if "type" not in value and node.default_type is not None:
        value = {"type": node.default_type, **value}
    if "type" not in value:
        ctx.problem(path + ("type",), f"missing required key (expected {describe(node)})")
        return INVALID
    name = value["type"]
    if isinstance(name, str) and name not in node.registry and name in node.registry.unavailable:
        ctx.warn(path, f"{kind} type {name!r}: {node.registry.unavailable[name]}; this entry is ignored")
        return SKIP
    if not isinstance(name, str) or name not in node.registry:
        ctx.problem(path + ("type",), node.registry.unknown_message(name))
        return INVALID
    value = _rename_aliases(node, value, path, ctx)
    fields, implicit = node.parameters(name)
    for key in node.supplied:
        if key in value and key not in node.derived:
            ctx.problem(path + (key,), f"set by srgan_kit when it builds the {kind}; remove it from the options")
    supplied = tuple(k for k in node.supplied if k not in node.derived)
    before = len(ctx.problems)
    cleaned = _walk_keys(node, value, path, ctx, fields, extra_ok=("type",) + supplied, implicit=implicit)
    out = {"type": name}
    out.update((k, cleaned[k]) for k in value if k in cleaned)
    out.update((k, v) for k, v in cleaned.items() if k not in out)
    if len(ctx.problems) == before:
        _check_arguments(node.registry.attribute(name, "check_arguments"), out, path, ctx)
    return out


def _check_arguments(check, spec, path, ctx):
    """A registered class's own rules for its values (``check_arguments(options)``, raising ArgumentError; its
    constructor applies the same), run on the typed entry so a file hears of them before anything is built."""
    if check is None:
        return
    try:
        check({k: v for k, v in spec.items() if k != "type"})
    except ArgumentError as exc:
        ctx.problem(path + (exc.argument,), exc.message)


def _walk_map(node, value, path, ctx):
    if value is None:
        value = {}
    if _mapping(value, path, ctx, node) is None:
        return INVALID
    out = {}
    for key, val in value.items():
        kp = path + (str(key),)
        if not node.key_ok(key):
            ctx.problem(kp, f"unexpected name {key!r} (expected {node.key_expect})")
            continue
        cleaned = validate(node.node_for(key), val, kp, ctx)
        if cleaned is not INVALID and cleaned is not SKIP:
            out[key] = cleaned
    return out


def _walk_list(node, value, path, ctx):
    if value is None:
        return []
    if not isinstance(value, list):
        ctx.problem(path, f"expected {describe(node)}, got {value!r}")
        return INVALID
    out = []
    for i, item in enumerate(value):
        cleaned = validate(node.item, item, path + (i,), ctx)
        if cleaned is not INVALID and cleaned is not SKIP:
            out.append(cleaned)
    return out


# ---------------------------------------------------------------------------------------------------
# Looking up the node of a key path (typing --set overrides before validation).


class UnknownPath(Exception):
    """An override names a key the schema does not have; ``args`` = (message,)."""


def node_at(node, raw, keys, done=()):
    """Return (node or None, canonical key path) for ``keys`` below ``node``; ``raw`` is the file's data there.

    None means "no typing available" (an unused BasicSR key, or a Typed entry whose type is not known
    yet): the override is stored as YAML reads it and validation reports what is wrong.
    """
    if not keys:
        return node, done
    key, rest = keys[0], keys[1:]
    sub = raw.get(key) if isinstance(raw, dict) else None
    if isinstance(node, Field):
        raise UnknownPath(f"{dotted(done)} is a single value, not a section")
    if isinstance(node, MapOf):
        if not node.key_ok(key):
            raise UnknownPath(f"{dotted(done + (key,))}: unexpected name (expected {node.key_expect})")
        return node_at(node.node_for(key), sub, rest, done + (key,))
    if isinstance(node, ListOf):
        items = raw if isinstance(raw, list) else []
        if not (key.isdigit() and int(key) < len(items)):
            raise UnknownPath(f"{dotted(done + (key,))}: expected the index of an item in the file's list "
                              f"(0..{len(items) - 1})" if items else f"{dotted(done)}: the file's list is empty")
        return node_at(node.item, items[int(key)], rest, done + (int(key),))
    key = node.aliases.get(key, key)
    sub = raw.get(key, sub) if isinstance(raw, dict) else None
    if key in node.unused or key in node.derived:
        return None, done + (key,) + tuple(rest)
    if isinstance(node, Section):
        fields = node.fields
    else:
        if key == "type":
            if rest:
                raise UnknownPath(f"{dotted(done + (key,))} is a single value, not a section")
            return Field(STR), done + (key,)
        name = raw.get("type", node.default_type) if isinstance(raw, dict) else node.default_type
        if not isinstance(name, str) or name not in node.registry:
            return None, done + (key,) + tuple(rest)
        fields = node.parameters(name)[0]
    if key not in fields:
        probe = Context()
        probe.unknown(done + (key,), list(fields))
        raise UnknownPath(f"{dotted(done + (key,))}: {probe.problems[0][1]}")
    return node_at(fields[key], sub, rest, done + (key,))

