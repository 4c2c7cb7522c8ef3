# `make demo` / `make test` work on a machine with only Python 3.10+ and pip: the first run creates
# .venv and installs srgan_kit (editable) with its dependencies at the exact versions of requirements.lock;
# later runs reuse it. `make lock` re-resolves setup.cfg's loose requirements and rewrites the lock.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LOCK := requirements.lock
LOCK_VENV := .venv-lock

.PHONY: install test demo demo-archs study lock bench-deps bench gpu-check archs-doc bench-archs schema clean

install: $(STAMP)

# Re-install only when the package metadata or the lock changes. The lock pins pip/setuptools/wheel too,
# and the package builds with them (no isolated build environment that would pick newer ones).
$(STAMP): setup.cfg pyproject.toml $(LOCK)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c $(LOCK) pip setuptools wheel
	$(PY) -m pip install --quiet -c $(LOCK) --no-build-isolation -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	@start=$$(date +%s); $(PY) -m pytest -q tests; rc=$$?; \
	echo "make test: $$(( $$(date +%s) - start )) s wall time"; exit $$rc

demo: $(STAMP)
	@start=$$(date +%s); $(PY) tools/demo.py; rc=$$?; \
	echo "make demo: $$(( $$(date +%s) - start )) s wall time"; exit $$rc

# MSRResNet, SPAN and Compact for the same wall time on the demo photos (MINUTES each, default 3).
demo-archs: $(STAMP)
	$(PY) tools/demo_archs.py $(if $(MINUTES),--minutes $(MINUTES))

# The loss-weighting study (docs/loss_study.md): hours on 2 CPU cores (docs/evaluation.md). The images come from
# STUDY_DATA (../shared/data: T91, BSD200 and Set5 HR folders), laid out under datasets/ like any benchmark.
STUDY_DATA ?= ../shared/data
STUDY_SETS ?= Set5
study: $(STAMP)
	@start=$$(date +%s); \
	for set in T91 BSD200; do $(PY) tools/prepare_datasets.py --hr $(STUDY_DATA)/$$set --name $$set --scales 4 \
	    --workers 2 || exit $$?; done; \
	$(PY) tools/prepare_datasets.py --hr $(STUDY_DATA)/Set5/HR --name Set5 --scales 4 || exit $$?; \
	$(PY) tools/study.py --datasets $(STUDY_SETS) --no-progress; rc=$$?; \
	echo "make study: $$(( $$(date +%s) - start )) s wall time"; exit $$rc

# The peers the benchmarks measure against: realesrgan without its face-restoration dependencies
# (its version is pinned in the lock like everything else).
bench-deps: $(STAMP)
	$(PY) -m pip install --quiet -c $(LOCK) --no-deps realesrgan

# The CUDA paths (tests marked cuda, then the step and inference benchmarks on the GPU): one line per check,
# under 8 minutes on one GPU; one line and exit 0 on a machine without CUDA (docs/development.md).
gpu-check: bench-deps
	$(PY) benchmarks/gpu_check.py --json results/gpu_check.json

bench: bench-deps
	$(PY) benchmarks/train_step.py --json results/bench_train_step.json
	$(PY) benchmarks/infer.py --json results/bench_infer.json
	$(PY) benchmarks/degradation.py --json results/bench_degradation.json

# docs/archs.md, generated from the generator registry and docs/bench_archs_cpu.json (a test keeps it current).
# bench-archs measures every registered generator at its recipe size (parameters, FLOPs, training step against a
# plain fp32 loop, upscaling) and rewrites the page: 30 to 60 minutes on 2 CPU cores. BENCH_ARCHS=SPAN,SwinIR
# measures some and keeps the other rows of the same settings and machine.
BENCH_ARCHS ?=
archs-doc: $(STAMP)
	$(PY) tools/archs_doc.py

bench-archs: $(STAMP)
	$(PY) benchmarks/archs.py $(if $(BENCH_ARCHS),--archs $(BENCH_ARCHS)) --json docs/bench_archs_cpu.json
	$(PY) tools/archs_doc.py

# The option files' JSON Schema, generated from the option engine: VS Code's YAML extension completes and checks
# options/*.yml with it (their first line names it); and srgan_kit/registered.json, the registered classes'
# parameters that the option loader reads without importing them. Regenerate when keys, types or registered
# classes change (tests fail while either is stale).
schema: $(STAMP)
	$(PY) tools/train.py --print-schema > options/schema.json.new
	mv options/schema.json.new options/schema.json
	$(PY) -m srgan_kit.registry > srgan_kit/registered.json.new
	mv srgan_kit/registered.json.new srgan_kit/registered.json

# Resolve today's newest releases allowed by setup.cfg in a scratch environment, then freeze them.
lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet --upgrade pip setuptools wheel
	$(LOCK_VENV)/bin/python -m pip install --quiet -e '.[test]'
	$(LOCK_VENV)/bin/python -m pip install --quiet --no-deps realesrgan
	{ sed -n '/^#/p' $(LOCK); $(LOCK_VENV)/bin/python -m pip freeze --all --exclude-editable; } > $(LOCK).new
	mv $(LOCK).new $(LOCK)
	rm -rf $(LOCK_VENV)
	@echo "$(LOCK) rewritten; run 'make test' (it reinstalls .venv from the new lock) before committing it"

clean:
	rm -rf results experiments/demo* datasets/demo
