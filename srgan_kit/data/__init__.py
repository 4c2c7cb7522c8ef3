"""Data: image files (imageio), MATLAB bicubic (degradation), crops/flips (transforms), datasets, demo photos,
and the catalogue of standard benchmark sets (catalogue)."""
