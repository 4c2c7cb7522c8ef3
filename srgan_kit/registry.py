"""One tiny name -> builder map per kind, so option files pick classes by name without if/elif ladders.

Modules register themselves when imported; the package imports them explicitly (no folder scanning),
so one broken optional module cannot break unrelated commands.
"""
import difflib
import inspect

from srgan_kit.errors import OptionError


class Registry:
    def __init__(self, kind):
        self.kind = kind
        self._items = {}

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
        return name in self._items

    def names(self):
        return sorted(self._items)

    def nearest(self, name):
        close = difflib.get_close_matches(str(name), self.names(), n=1)
        return close[0] if close else None

    def get(self, name, where=None):
        """Return the registered object; an unknown name is an OptionError naming the nearest one."""
        if name in self._items:
            return self._items[name]
        hint = self.nearest(name)
        where = f"{where}: " if where else ""
        msg = f"{where}unknown {self.kind} type {name!r}"
        msg += f" (did you mean {hint!r}?)" if hint else ""
        msg += f"; known: {', '.join(self.names())}"
        raise OptionError(msg)

    def build(self, spec, where=None, **extra):
        """Build from an option dict ``{'type': Name, **kwargs}``; ``extra`` adds keyword arguments."""
        spec = dict(spec)
        cls = self.get(spec.pop("type", None), where)
        return cls(**spec, **extra)

    def arguments(self, name):
        """Constructor parameters of a registered class: {arg: default or inspect.Parameter.empty}."""
        sig = inspect.signature(self.get(name))
        return {
            p.name: p.default
            for p in sig.parameters.values()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name != "self"
        }


ARCHS = Registry("network")
LOSSES = Registry("loss")
DATASETS = Registry("dataset")
METRICS = Registry("metric")
SCHEDULERS = Registry("scheduler")
OPTIMIZERS = Registry("optimizer")
