"""Option files: engine.py (the generic validation engine; no torch), schema.py (srgan_kit's option schema
and model-type fragments), options.py (YAML reading, --set overrides, load_options, save_options)."""
