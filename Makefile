# Two commands do all set-up on a fresh machine:
#   make book   create .venv, install, run every chapter at `quick`, build _build/html
#               (DATASET=real: on real human speech; PROFILE=smoke|quick|paper; JOBS=N:
#               chapters at once, 2 unless told, same records)
#   make test   the same set-up, then ruff and pytest (unit tests, every chapter at
#               `smoke` through the runner, records against tests/baselines, browser test)
#   make check-quick   the book at `quick`, then its records and claims against
#               tests/baselines/*.quick*.json (DATASET=real: the real-speech run)
#   make bench  the benchmark suite of issue 8 (table and _build/bench/suite.json;
#               BENCH="--quick" or BENCH="--only word_loo" to pass options)

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
PROFILE ?= quick
DATASET ?=
# two chapters at once: the cold quick book on 2 cores of an AMD EPYC with native bfloat16 took
# 23 min 57 s that way, 29 min 13 s one chapter at a time (same records; benchmarks/README)
JOBS ?= 2

.PHONY: book test check-quick bench install lint clean

install: $(INSTALLED)

# Re-install whenever the package metadata changes (torch and torchaudio are pinned there
# as a matched pair). uv resolves and installs the same PyPI releases as pip, in under a
# minute instead of 2 on a fresh machine; it compiles the bytecode as pip does, else every
# process (each chapter's kernel) compiles torch, scipy and shap again: 14 s instead of 5 s of
# imports (benchmarks/README.md, "make test's time").
$(INSTALLED): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "speechxai needs Python >= 3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e ".[book,dev,hf,scale]"
	touch $@

book: $(INSTALLED)
	$(BIN)/speechxai book run --profile $(PROFILE) --jobs $(JOBS) $(if $(DATASET),--dataset $(DATASET))
	$(BIN)/speechxai book build $(if $(DATASET),--dataset $(DATASET))

# Two pytest workers (pytest-xdist), each test file on one: the smoke book (test_book.py),
# the mutation runs and the other-dataset chapters are the long poles, and each chapter's
# kernel spends much of its time in one thread. OpenMP's passive waiting keeps two processes
# of 2 threads each from spinning against each other on 2 cores (a worker's chapter took
# minutes instead of 27 s without it); it does not change what any thread computes.
# benchmarks/README.md, "make test's time".
test: $(INSTALLED) lint
	OMP_WAIT_POLICY=PASSIVE $(BIN)/python -m pytest -n 2 --dist loadfile

check-quick: $(INSTALLED)
	$(BIN)/speechxai book run --profile quick --jobs $(JOBS) $(if $(DATASET),--dataset $(DATASET))
	$(BIN)/speechxai book check --profile quick $(if $(DATASET),--dataset $(DATASET))

bench: $(INSTALLED)
	$(BIN)/python -m speechxai.bench $(BENCH)

lint: $(INSTALLED)
	$(BIN)/ruff check speechxai tests benchmarks

clean:
	rm -rf _build
