"""The one place that makes basicsr 1.4.2 importable with current torchvision.

basicsr imports ``torchvision.transforms.functional_tensor``, a module torchvision renamed to
``_functional_tensor`` (0.17) and later folded into ``functional``. We register an alias module
before basicsr is imported. Everything in srgan_kit (and the tests) gets basicsr through
:func:`import_basicsr` so the fix lives here only.
"""
import importlib
import sys
import types

_ALIAS = "torchvision.transforms.functional_tensor"


def _install_functional_tensor_alias():
    if _ALIAS in sys.modules:
        return
    try:
        importlib.import_module(_ALIAS)
        return  # old torchvision: nothing to fix
    except ImportError:
        pass
    try:
        target = importlib.import_module("torchvision.transforms._functional_tensor")
    except ImportError:
        target = importlib.import_module("torchvision.transforms.functional")
    alias = types.ModuleType(_ALIAS)
    alias.__dict__.update({k: v for k, v in vars(target).items() if not k.startswith("__")})
    sys.modules[_ALIAS] = alias


def import_basicsr(module="basicsr"):
    """Import ``module`` (e.g. ``"basicsr.utils.matlab_functions"``) with the compatibility fix applied."""
    _install_functional_tensor_alias()
    return importlib.import_module(module)
