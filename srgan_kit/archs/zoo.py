"""Registers the community's generators (srgan_kit.archs.zoo_options says which) and reads any model file spandrel
recognises as single-image SR.

Each name is a class whose construction returns the upstream library's own network (so weights keep that
architecture's key layout), with two attributes srgan_kit reads from every generator: ``scale`` and
``size_rule``. The upstream class is imported the first time the name is built or its keys are asked for, so
option files and runs of other networks do not import spandrel.
"""
import inspect

from srgan_kit.archs.input_sizes import ANY_SIZE
from srgan_kit.archs.zoo_options import ZOO
from srgan_kit.errors import ArgumentError, NotSuperResolution, WeightsError
from srgan_kit.registry import ARCHS, LibraryClassMeta, resolve

BY_SOURCE = {entry.source: entry for entry in ZOO}
# What spandrel's purposes mean, for the message refusing a file that is not single-image SR.
PURPOSES = {"FaceSR": "face restoration", "Inpainting": "inpainting", "Restoration": "same-size restoration (x1)",
            "SR": "super-resolution"}
# Errors upstream constructors raise on keys that do not fit together (heads vs dims, bad modes ...).
_BUILD_ERRORS = (TypeError, ValueError, AssertionError, RuntimeError, KeyError, IndexError, ZeroDivisionError)


def upstream_class(entry):
    if entry.library == "basicsr":
        from srgan_kit.compat import import_basicsr

        import_basicsr()
    return resolve(entry.source)


def _is_option_value(value):
    """Defaults an option file can state (numbers, strings, lists ...), not classes or functions."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    return isinstance(value, (list, tuple)) and all(_is_option_value(v) for v in value)


def upstream_signature(entry):
    """The option keys: the upstream constructor's keywords (BasicSR's names where they differ), with defaults."""
    inverse = {theirs: ours for ours, theirs in entry.renames.items()}
    params = []
    for p in inspect.signature(upstream_class(entry)).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        key = inverse.get(p.name, p.name)
        default = entry.defaults.get(key, p.default)
        if default is not p.empty and not _is_option_value(default):
            continue  # a class or function (norm_layer, conv ...): not an option
        params.append(inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY,
                                        default=list(default) if isinstance(default, tuple) else default))
    params += [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=v) for k, v in entry.fixed.items()]
    return inspect.Signature(params)


class UpstreamArch(metaclass=LibraryClassMeta):
    """Building one returns the upstream network (see the module docstring)."""

    upstream = None
    _signature = None

    @classmethod
    def library_signature(cls):
        return upstream_signature(cls.upstream)

    def __new__(cls, **options):
        return build_upstream(cls.upstream, cls.__signature__, options)


def build_upstream(entry, signature, options):
    for key in options:
        if key not in signature.parameters:
            raise ArgumentError(key, f"not a key of {entry.name}; its keys: {', '.join(signature.parameters)}")
    missing = [k for k, p in signature.parameters.items() if p.default is p.empty and k not in options]
    if missing:
        raise ArgumentError(missing[0], f"required by {entry.name}")
    if entry.check_arguments is not None:
        entry.check_arguments(options)
    full = {k: p.default for k, p in signature.parameters.items() if p.default is not p.empty}
    full.update(options)
    kwargs = {entry.renames.get(k, k): v for k, v in full.items() if k not in entry.fixed}
    try:
        net = upstream_class(entry)(**kwargs)
    except _BUILD_ERRORS as exc:
        raise ArgumentError("type", f"{entry.name} cannot be built with these keys: {exc}") from None
    net.scale = int(full[entry.scale_key])
    net.size_rule = entry.size_requirements(full) if entry.size_requirements else ANY_SIZE
    for name, param in net.named_parameters():
        if any(part in name for part in entry.frozen):
            param.requires_grad_(False)
    if entry.changes_its_input:
        net.register_forward_pre_hook(_copy_input)
    return net


def _copy_input(module, args):
    return (args[0].clone(), *args[1:])


def _register(entry):
    attributes = {"upstream": entry, "scale_key": entry.scale_key, "_signature": None,
                  "__doc__": f"{entry.paper}. From {entry.library}; licence {entry.licence}.",
                  "__module__": __name__}
    for name in ("size_requirements", "check_arguments"):
        if getattr(entry, name) is not None:
            attributes[name] = staticmethod(getattr(entry, name))
    cls = LibraryClassMeta(entry.name, (UpstreamArch,), attributes)
    ARCHS.register(entry.name, aliases=entry.aliases)(cls)
    return cls


for _entry in ZOO:
    globals()[_entry.name] = _register(_entry)


# ---- files spandrel recognises ---------------------------------------------------------------------------------
def read_with_spandrel(state_dict, source):
    """``(spec, state dict in the class's layout)`` of a model file spandrel recognises as one of the networks
    srgan_kit builds; None when spandrel does not know it; WeightsError when it is not single-image SR or a
    network srgan_kit does not build."""
    import spandrel

    try:
        descriptor = spandrel.ModelLoader().load_from_state_dict(dict(state_dict))
    except spandrel.UnsupportedModelError:
        return None
    except Exception as exc:  # spandrel recognised the keys but the tensors do not fit its reading
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsError(f"{source}: spandrel recognises the keys but cannot read the tensors: {first}") from None
    arch = descriptor.architecture
    purpose = getattr(descriptor, "purpose", None)
    model_class = type(descriptor.model)
    entry = BY_SOURCE.get(f"{model_class.__module__}:{model_class.__qualname__}")
    if purpose not in ("SR", "Restoration") or entry is None:
        what = PURPOSES.get(purpose, purpose or "non-image")
        builds = ", ".join(e.name for e in ZOO if e.library == "spandrel")
        raise NotSuperResolution(f"{source}: a {what} model ({arch.name}, x{getattr(descriptor, 'scale', '?')}), which "
                           f"srgan_kit does not run; it runs single-image SR networks ({builds}, MSRResNet, RRDBNet, "
                           "EDSR)")
    signature = ARCHS.get(entry.name).__signature__
    inverse = {theirs: ours for ours, theirs in entry.renames.items()}
    spec = {"type": entry.name}
    for key, value in descriptor.model.hyperparameters.items():
        key = inverse.get(key, key)
        if key in signature.parameters:
            spec[key] = list(value) if isinstance(value, tuple) else value
    return spec, descriptor.model.state_dict()
