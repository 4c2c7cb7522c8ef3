"""ESRGAN's network interpolation: ``(1 - alpha) * a + alpha * b`` over two state dicts of one architecture
(a PSNR-trained and a GAN-trained generator give a path between distortion and perception, no retraining)."""
from srgan_kit.archs.weights import check_floating
from srgan_kit.errors import WeightsError


def check_same_architecture(a, b, name_a, name_b):
    """WeightsError naming both sources unless the two state dicts have the same names and shapes."""
    different = sorted(set(a) ^ set(b)) + [k for k in a if k in b and a[k].shape != b[k].shape]
    if different:
        raise WeightsError(f"{name_a} and {name_b} are not the same architecture: they differ at "
                           f"{', '.join(different[:5])}{' ...' if len(different) > 5 else ''}")
    check_floating(a, name_a, like=b, what=name_b)
    check_floating(b, name_b, like=a, what=name_a)


def interpolate(a, b, alpha):
    """``(1 - alpha) * a + alpha * b`` for every floating tensor; other tensors (counters) are taken from ``a``."""
    return {k: (1 - alpha) * v + alpha * b[k] if v.is_floating_point() else v.clone() for k, v in a.items()}
