"""Networks: generators and discriminators (registered in srgan_kit.registry.ARCHS), weight loading, detection."""
import srgan_kit.archs.generators  # noqa: F401
import srgan_kit.archs.discriminators  # noqa: F401
