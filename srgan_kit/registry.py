"""Every name -> object map of srgan_kit, so option files pick classes by name without if/elif ladders.

Each registry lists the modules that fill it. They are imported explicitly (no folder scanning) the first
time the registry is read, so a command loads only the kinds it uses: detecting a generator from its weights
never imports the metrics, and one broken optional module cannot break unrelated commands.

What the option loader asks of the classes of networks, datasets, losses, metrics, optimisers and schedulers
(their names, constructor parameters, and the few attributes in OPTION_ATTRIBUTES) is also written to
``registered.json`` by ``make schema`` (``python -m srgan_kit.registry``), so checking an option file needs
neither torch nor those modules; a test keeps the file equal to what the classes say. A class registered at
run time (a plug-in) is read from the class itself.
"""
import importlib
import inspect
import json
from pathlib import Path

from srgan_kit.errors import ArgumentError, OptionError, did_you_mean

CATALOGUE_FILE = Path(__file__).with_name("registered.json")
# Class attributes option checks read: a metric's direction, the value rules a class keeps for its options, a
# generator's scale key and the input sizes it takes (functions live in modules without torch); registered.json
# also lists each class's bases by name.
OPTION_ATTRIBUTES = ("better", "check_arguments", "scale_key", "size_requirements")
_FUNCTION_ATTRIBUTES = ("check_arguments", "size_requirements")
_REQUIRED = {"required": True}  # a parameter without a default, in registered.json
_catalogue = None


def _read_catalogue():
    global _catalogue
    if _catalogue is None:
        _catalogue = json.loads(CATALOGUE_FILE.read_text()) if CATALOGUE_FILE.is_file() else {}
    return _catalogue


def resolve(path):
    """'module:qualified.name' -> the object (imports the module)."""
    module, _, qualname = path.partition(":")
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


class LibraryClassMeta(type):
    """The metaclass of a registered name standing for a library's class that is imported on first use: its
    signature (the option keys) comes from ``cls.library_signature()``, read the first time it is asked for."""

    @property
    def __signature__(cls):
        if cls._signature is None:
            cls._signature = cls.library_signature()
        return cls._signature


class Registry:
    def __init__(self, kind, modules=(), unavailable=None, catalogued=False):
        self.kind = kind
        self.modules = tuple(modules)  # the built-in modules that register into this map
        self.unavailable = dict(unavailable or {})  # names other toolkits have and srgan_kit lacks: why
        self.catalogued = catalogued  # its classes' option facts are in registered.json
        self._items = {}
        self._loaded = False

    def _declared(self, name):
        """registered.json's entry for a built-in ``name`` not imported yet, else None."""
        if not self.catalogued or self._loaded or name in self._items or not isinstance(name, str):
            return None
        return _read_catalogue().get(self.kind, {}).get(name)

    def _load(self):
        if not self._loaded:
            self._loaded = True  # before importing: the modules register into this registry
            for module in self.modules:
                importlib.import_module(module)
        return self._items

    def register(self, name=None, aliases=()):
        """Decorator: ``@ARCHS.register()`` registers under the object's own name (plus aliases)."""

        def deco(obj):
            for key in (name or obj.__name__, *aliases):
                if key in self._items and self._items[key] is not obj:
                    raise ValueError(f"{self.kind} {key!r} registered twice")
                self._items[key] = obj
            return obj

        return deco

    def __contains__(self, name):
        return name in self._items or self._declared(name) is not None or name in self._load()

    def names(self):
        return sorted(self._load())

    def values(self):
        """Each registered object once (aliases folded), in registration order."""
        return list({id(v): v for v in self._load().values()}.values())

    def unknown_message(self, name):
        """'unknown <kind> type 'x' (did you mean 'y'?); known: ...' (or why a known-elsewhere name is missing)."""
        if isinstance(name, str) and name in self.unavailable:
            use = ", ".join(map(repr, self.names()))
            return f"{self.kind} type {name!r}: {self.unavailable[name]}; use one of {use}"
        names = self.names()
        known = f"; known: {', '.join(names)}" if names else f"; no {self.kind} types are registered"
        return f"unknown {self.kind} type {name!r}{did_you_mean(name, names)}{known}"

    def get(self, name, where=None):
        """Return the registered object; an unknown name is an OptionError naming the nearest one."""
        items = self._load()
        if isinstance(name, str) and name in items:
            return items[name]
        raise OptionError(f"{where + ': ' if where else ''}{self.unknown_message(name)}")

    def build(self, spec, where=None, **extra):
        """Build from an option dict ``{'type': Name, **kwargs}``; ``extra`` adds keyword arguments.

        A constructor's ArgumentError gets the section's key path ``where`` in front of the argument."""
        spec = dict(spec)
        cls = self.get(spec.pop("type", None), where)
        try:
            return cls(**spec, **extra)
        except ArgumentError as exc:
            if where is None:
                raise
            raise OptionError(f"{where}.{exc.argument}: {exc.message}") from None

    def attribute(self, name, attribute, default=None):
        """One of OPTION_ATTRIBUTES of the registered object (functions resolved), or ``default``."""
        declared = self._declared(name)
        if declared is None:
            return getattr(self.get(name), attribute, default)
        value = declared["attributes"].get(attribute, default)
        return resolve(value) if attribute in _FUNCTION_ATTRIBUTES and value is not None else value

    def is_subclass(self, name, base_name):
        """Whether the registered class has a base (or is a class) named ``base_name``."""
        declared = self._declared(name)
        if declared is None:
            obj = self.get(name)
            return inspect.isclass(obj) and base_name in [c.__name__ for c in inspect.getmro(obj)]
        return base_name in declared["bases"]

    def with_defaults(self, name, options):
        """A class's options (an entry without 'type') completed with its constructor's defaults."""
        defaults = {k: v for k, v in self.arguments(name).items() if v is not inspect.Parameter.empty}
        return {**defaults, **{k: v for k, v in options.items() if k != "type"}}

    def arguments(self, name):
        """Constructor parameters of a registered class: {arg: default or inspect.Parameter.empty}, then the
        keywords a class taking ``**kwargs`` declares in ``keyword_options`` ({key: default})."""
        declared = self._declared(name)
        if declared is not None:
            return {arg: inspect.Parameter.empty if default == _REQUIRED else default["value"]
                    for arg, default in declared["arguments"]}
        obj = self.get(name)
        sig = inspect.signature(obj)
        args = {
            p.name: p.default
            for p in sig.parameters.values()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name != "self"
        }
        return {**args, **getattr(obj, "keyword_options", {})}


ARCHS = Registry("network", ("srgan_kit.archs.generators", "srgan_kit.archs.zoo", "srgan_kit.archs.discriminators"),
                 catalogued=True)
DETECTORS = Registry("architecture detector", ("srgan_kit.archs.detect",))
BACKBONES = Registry("perceptual backbone", ("srgan_kit.archs.features",))
LOSSES = Registry("loss", ("srgan_kit.losses.pixel", "srgan_kit.losses.structural", "srgan_kit.losses.perceptual",
                           "srgan_kit.losses.adversarial", "srgan_kit.losses.feature_matching",
                           "srgan_kit.losses.artifacts", "srgan_kit.losses.dists", "srgan_kit.losses.frequency",
                           "srgan_kit.losses.colour", "srgan_kit.losses.edge"), catalogued=True)
DATASETS = Registry("dataset", ("srgan_kit.data.datasets",), catalogued=True)
METRICS = Registry("metric", ("srgan_kit.eval.metrics", "srgan_kit.eval.colour"),
                   unavailable={"calculate_fid": "not available in srgan_kit yet"}, catalogued=True)
OPTIMIZERS = Registry("optimizer", ("srgan_kit.training.optim", "srgan_kit.training.library_optimizers",
                                    "srgan_kit.training.schedule_free"), catalogued=True)
SCHEDULERS = Registry("scheduler", ("srgan_kit.training.optim",), catalogued=True)
# Model types are option fragments without torch; each names its training step's class, imported when used.
MODEL_TYPES = Registry("model", ("srgan_kit.models.sr_options", "srgan_kit.models.gan_options",
                                 "srgan_kit.models.realesrnet_options", "srgan_kit.models.realesrgan_options"))


def network_in_file(path, param_key=None):
    """``{'type': name, **constructor keys}`` of the generator in a weights file, detected from its tensors
    (imports torch, and spandrel for the community's architectures)."""
    return resolve("srgan_kit.archs.detect:detect_file")(path, param_key)


def _encode_default(value):
    if value is inspect.Parameter.empty:
        return _REQUIRED
    try:
        json.dumps(value)
    except TypeError:
        # only its presence matters to the option checks; a name, not repr (which may hold an address)
        return {"value": None, "object": getattr(value, "__qualname__", type(value).__name__)}
    return {"value": list(value) if isinstance(value, tuple) else value}


def _encode_attribute(name, value):
    if name in _FUNCTION_ATTRIBUTES:
        return f"{value.__module__}:{value.__qualname__}"
    return value


def catalogue():
    """{kind: {name: {'arguments': [[arg, default]], 'attributes': {...}, 'bases': [...]}}} of every catalogued
    registry, read from the classes (imports them): what registered.json holds."""
    out = {}
    for registry in (v for v in globals().values() if isinstance(v, Registry) and v.catalogued):
        entries = out.setdefault(registry.kind, {})
        for name in registry.names():
            obj = registry.get(name)
            attributes = {a: _encode_attribute(a, getattr(obj, a)) for a in OPTION_ATTRIBUTES if hasattr(obj, a)}
            entries[name] = {
                "arguments": [[arg, _encode_default(d)] for arg, d in registry.arguments(name).items()],
                "attributes": attributes,
                "bases": [c.__name__ for c in inspect.getmro(obj)] if inspect.isclass(obj) else [],
            }
    return out


def catalogue_text():
    return json.dumps(catalogue(), indent=1, sort_keys=True) + "\n"


if __name__ == "__main__":
    from srgan_kit import registry  # the module the classes register into, not this __main__ copy

    print(registry.catalogue_text(), end="")
