"""What input sizes a generator takes, without torch: the option loader refuses training crops a network cannot
take, and validation, evaluation, tiled inference and ONNX export pad every input to the rule and crop back.

A registered generator may carry ``size_requirements`` (a function of its options -> SizeRule); without one any
size works. The rules of spandrel's architectures are the ones spandrel 0.4.2 states (a test compares them).
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class SizeRule:
    minimum: int = 1  # smallest side, in input pixels
    multiple_of: int = 1  # sides must be multiples of this

    def padded(self, side):
        """The side the input is padded to: the next multiple, and at least the minimum."""
        side = max(side, self.minimum)
        # Rounding up with non-negative operands: traced into ONNX, integer division truncates.
        return (side + self.multiple_of - 1) // self.multiple_of * self.multiple_of

    def accepts(self, side):
        return side >= self.minimum and side % self.multiple_of == 0

    def describe(self):
        parts = [f"at least {self.minimum}"] if self.minimum > 1 else []
        parts += [f"a multiple of {self.multiple_of}"] if self.multiple_of > 1 else []
        return " and ".join(parts) or "any size"


ANY_SIZE = SizeRule()


# ---- rules of the architectures (functions of the complete options) ---------------------------------------------
RRDBNET_UNSHUFFLE = {4: 1, 2: 2, 1: 4}  # RRDBNet's input pixel-unshuffle per scale (Real-ESRGAN's x2 / x1 trick)


def rrdbnet_sizes(options):
    return SizeRule(multiple_of=RRDBNET_UNSHUFFLE.get(int(options.get("scale", 4)), 1))


def minimum_16(options):
    return SizeRule(minimum=16)


def minimum_8(options):
    return SizeRule(minimum=8)


def multiple_of_8(options):
    return SizeRule(multiple_of=8)


def multiple_of_16(options):
    return SizeRule(multiple_of=16)


def swinir_sizes(options):
    return SizeRule(minimum=16, multiple_of=int(options.get("start_unshuffle", 1)) ** 2)
