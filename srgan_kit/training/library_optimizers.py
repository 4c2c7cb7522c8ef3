"""Optimisers from pytorch-optimizer (Apache-2.0), under the names traiNNer-redux's option files use: Adan, ADOPT,
SOAP and StableAdamW. Each name is a class whose construction returns the library's optimiser; the library is
imported the first time one is built or its keys are asked for, so runs with torch's optimisers do not import it."""
import inspect

from srgan_kit.registry import OPTIMIZERS, LibraryClassMeta, resolve

LIBRARY = {"Adan": "pytorch_optimizer:Adan", "ADOPT": "pytorch_optimizer:ADOPT", "SOAP": "pytorch_optimizer:SOAP",
           "StableAdamW": "pytorch_optimizer:StableAdamW"}


class LibraryOptimizer(metaclass=LibraryClassMeta):
    """Building one returns the library's optimiser (see the module docstring)."""

    source = None
    _signature = None

    @classmethod
    def library_signature(cls):
        return inspect.signature(resolve(cls.source))

    def __new__(cls, **options):
        return resolve(cls.source)(**options)


for _name, _source in LIBRARY.items():
    OPTIMIZERS.register(_name)(LibraryClassMeta(_name, (LibraryOptimizer,), {
        "source": _source, "_signature": None, "__module__": __name__,
        "__doc__": f"pytorch-optimizer's {_name}: its keyword arguments are the option keys."}))
