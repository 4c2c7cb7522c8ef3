"""Networks: generators (ours and the community's, registered in srgan_kit.registry.ARCHS), discriminators, weight
loading, detection. Importing the package imports no torch: the option loader reads input_sizes and zoo_options."""
