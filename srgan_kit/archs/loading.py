"""The one way srgan_kit turns weights into a ready network: load a file into a network (with a hint at the
right architecture when it does not fit), or build a generator from weights alone or from an option file."""
from collections.abc import Mapping
from pathlib import Path

from srgan_kit.archs.detect import detect, detect_arch
from srgan_kit.archs.weights import canonical_state_dict, load_into, load_state_dict_file
from srgan_kit.errors import NotSuperResolution, UserError, WeightsError
from srgan_kit.registry import ARCHS


def _hint(state_dict):
    """' (the file looks like ...)' when the architecture can be detected, to point at the fix."""
    try:
        spec = detect_arch(state_dict)
    except NotSuperResolution as exc:
        return f" (the file is {str(exc).split(': ', 1)[1]})"
    except WeightsError:
        return ""
    args = ", ".join(f"{k}={v}" for k, v in spec.items() if k != "type")
    return f" (the file looks like {spec['type']}({args}))"


def load_network(net, weights, param_key=None, strict=True):
    """Load ``weights`` (a file, or a checkpoint / state dict in memory; see archs.weights for the layouts)
    into ``net`` and return it; a mismatch is a WeightsError naming the file, the keys, and the architecture
    the file looks like."""
    if isinstance(weights, Mapping):
        source, state_dict = "given state dict", canonical_state_dict(weights, param_key, "given state dict")
    else:
        source, state_dict = str(weights), load_state_dict_file(weights, param_key)
    try:
        return load_into(net, state_dict, source=source, strict=strict)
    except WeightsError as exc:
        raise WeightsError(f"{exc}{_hint(state_dict)}") from None


def build_from_weights(path, param_key=None):
    """Detect the architecture of a weights file, build it and load the weights -> ``(net in eval mode, spec)``."""
    spec, state_dict = detect(load_state_dict_file(path, param_key), source=str(path))
    net = ARCHS.build(spec, where=str(path))
    load_into(net, state_dict, source=str(path), strict=True)
    return net.eval(), dict(spec)


def build_generator(weights=None, opt=None, param_key=None):
    """The generator in eval mode with its weights, from ``weights`` alone (architecture detected) or from a
    loaded option dict's ``network_g``.

    param_key: an explicit choice; else, for ``weights`` given here, params_ema > params > a bare state dict;
    for weights taken from the options (``path.pretrain_network_g``), its ``path.param_key_g`` (BasicSR's
    test script does the same), and ``path.strict_load_g``.
    """
    if opt is None:
        if weights is None:
            raise UserError("a model needs weights (--model WEIGHTS) or an option file (-opt FILE)")
        return build_from_weights(weights, param_key)[0]
    source = opt.get("_file", "options")
    if "network_g" not in opt:
        raise UserError(f"{source}: network_g is missing (needed to build the generator)")
    path_opt = opt.get("path") or {}
    if weights is None:
        weights = path_opt.get("pretrain_network_g")
        param_key = param_key or path_opt.get("param_key_g")
        if weights is None:
            raise UserError(f"{source}: no weights: give --model WEIGHTS or set path.pretrain_network_g")
    if not Path(weights).is_file():
        raise WeightsError(f"{weights}: weights file not found")
    net = ARCHS.build(opt["network_g"], where=f"{source}: network_g")
    return load_network(net, weights, param_key, strict=path_opt.get("strict_load_g", True)).eval()
