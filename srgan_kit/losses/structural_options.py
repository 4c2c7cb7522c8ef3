"""The image sizes the structural terms take, without torch: the option loader checks the training crops with it,
the terms check their inputs with it."""
from srgan_kit.archs.input_sizes import SizeRule

MS_SSIM_HALVINGS = 4  # five scales


def msssim_sizes(options):
    """MS-SSIM halves the image four times and still needs a full window at the coarsest scale."""
    return SizeRule(minimum=(int(options.get("win_size", 11)) - 1) * 2**MS_SSIM_HALVINGS + 1)
