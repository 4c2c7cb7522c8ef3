"""Training: trainer.py (loop, validation), optim.py (optimisers, schedules, warm-up), ema.py, checkpoint.py
(atomic files, resume; the run folder itself is srgan_kit.run_folder), runtime.py (device, precision, rank,
sampler), logger.py (progress bar, log file, TensorBoard). What one iteration does belongs to the model type
(srgan_kit.models)."""
