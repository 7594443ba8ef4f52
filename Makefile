# Two commands a new user needs: `make run` and `make test`. Both create .venv and install everything first.
# The virtual environment's Python: Debian's python3.11 where there is one (built with profile-guided and
# link-time optimisation, libpython linked in), else any python3. The judge's jobs are Python-heavy: a ResNet
# verdict takes about 9% less CPU on it than on a plain source build (pyenv's), measured in README.md.
PYTHON ?= $(or $(shell for p in /usr/bin/python3.11 python3; do $$p -c 'import ensurepip, venv' 2>/dev/null && echo $$p && break; done),python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint setup clean bench

setup: $(STAMP)

# torch is installed first, by its exact version: that request takes the local CPU build; any other
# torch request would pull gigabytes of CUDA packages.
# tmux drives the TUI in a real terminal in the end-to-end test; it comes from Debian's packages.
$(STAMP): pyproject.toml
	command -v tmux >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq tmux >/dev/null; } \
		|| echo "note: tmux is missing, so the end-to-end TUI test will be skipped"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/quizapp $(ARGS)

# A test process per core (pytest-xdist), and one more, the filler: niced, never a TUI test, it runs the judge's
# and the loader's work in the moments the others wait (the TUI tests' pilot waits for the app to go quiet
# after every key). The judge's tests come first, in groups (a file, or files that share job outcomes), shared
# between the processes; the containment tests run first, with no other judge's jobs beside them; the TUI tests
# come before the rest (tests/conftest.py and tests/scheduling.py). XDIST="-n 0" runs in one process.
TEST_PROCESSES ?= $(shell echo $$(( $$(nproc) + 1 )))
XDIST ?= -n $(TEST_PROCESSES) --dist loadgroup
test: $(STAMP)
	$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

# Everything but the tests that run code in the judge's jail, drive the TUI, or run end to end (markers in
# pyproject.toml; conftest.py marks whole files): seconds, for the edit-test loop.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not jail and not tui and not e2e" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check quizapp tests
	$(BIN)/mypy

# The judge's figures, then the app's in a real terminal (tmux): first frame, opening a question, quitting.
bench: $(STAMP)
	$(BIN)/python -m quizapp.judge.bench
	$(BIN)/python scripts/bench_tui.py --runs 5

clean:
	rm -rf $(VENV) build dist .pytest_cache
