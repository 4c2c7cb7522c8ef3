"""Every name -> object map of srgan_kit, so option files pick classes by name without if/elif ladders.

Each registry lists the modules that fill it. They are imported explicitly (no folder scanning) the first
time the registry is read, so a command loads only the kinds it uses: detecting a generator from its weights
never imports the metrics, and one broken optional module cannot break unrelated commands.
"""
import importlib
import inspect

from srgan_kit.errors import ArgumentError, OptionError, did_you_mean


class Registry:
    def __init__(self, kind, modules=(), unavailable=None):
        self.kind = kind
        self.modules = tuple(modules)  # the built-in modules that register into this map
        self.unavailable = dict(unavailable or {})  # names other toolkits have and srgan_kit lacks: why
        self._items = {}
        self._loaded = False

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
        return name in self._load()

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

    def arguments(self, name):
        """Constructor parameters of a registered class: {arg: default or inspect.Parameter.empty}, then the
        keywords a class taking ``**kwargs`` declares in ``keyword_options`` ({key: default})."""
        obj = self.get(name)
        sig = inspect.signature(obj)
        args = {
            p.name: p.default
            for p in sig.parameters.values()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name != "self"
        }
        return {**args, **getattr(obj, "keyword_options", {})}


ARCHS = Registry("network", ("srgan_kit.archs.generators", "srgan_kit.archs.discriminators"))
DETECTORS = Registry("architecture detector", ("srgan_kit.archs.detect",))
BACKBONES = Registry("perceptual backbone", ("srgan_kit.archs.features",))
LOSSES = Registry("loss", ("srgan_kit.losses.pixel", "srgan_kit.losses.perceptual", "srgan_kit.losses.adversarial",
                           "srgan_kit.losses.feature_matching"))
DATASETS = Registry("dataset", ("srgan_kit.data.datasets",))
METRICS = Registry("metric", ("srgan_kit.eval.metrics",),
                   unavailable={"calculate_fid": "not available in srgan_kit yet"})
OPTIMIZERS = Registry("optimizer", ("srgan_kit.training.optim",))
SCHEDULERS = Registry("scheduler", ("srgan_kit.training.optim",))
MODEL_TYPES = Registry("model", ("srgan_kit.models.sr", "srgan_kit.models.gan", "srgan_kit.models.realesrnet",
                                 "srgan_kit.models.realesrgan"))
