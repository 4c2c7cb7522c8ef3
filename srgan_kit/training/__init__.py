"""Training: trainer.py (loop, validation), optim.py (optimisers, schedules, warm-up), ema.py, checkpoint.py
(atomic files, resume), layout.py (the run folder), runtime.py (device, precision, rank, sampler), logger.py
(progress bar, log file, TensorBoard). What one iteration does belongs to the model type (srgan_kit.models)."""
