"""Training: trainer.py (loop), steps.py (what one iteration does, by model_type), optim.py (optimisers,
schedules, warm-up), ema.py, checkpoint.py (atomic files, resume), runtime.py (device, precision, rank,
sampler), logger.py (progress bar, log file, TensorBoard).

Nothing is imported here: srgan_kit.builtins imports training.optim to register optimisers and schedulers,
and the trainer pulls in the rest.
"""
