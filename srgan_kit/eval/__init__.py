"""Evaluation: metrics.py (PSNR/SSIM on MATLAB's Y, LPIPS, ST-LPIPS, NIQE), conventions.py (how each metric
is called: one table for training validation, evaluation, the demo and sweeps), sets.py (paired benchmark
sets), harness.py (running methods over sets), reports.py (table, JSON, CSV)."""
