"""Loss-weighting sweeps: spec.py (the sweep file), runner.py (planning, training, scoring, resuming),
report.py (results.csv / results.md / tradeoff.png)."""
