"""Model types, one module each (sr.py, gan.py): the option keys the type adds, its cross-checks and its
training step, registered once in srgan_kit.registry.MODEL_TYPES. base.py holds what they share."""
