# The course's two commands: `make lab` opens it, `make test` checks all of it.
# Each creates .venv and installs the course on first use; later runs reuse it.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PORT   ?= 8888
EXTRAS ?= lab,dev,site,browser
# Tests keep Jupyter's and IPython's config, data and workspaces, and the learner's
# progress record (course_lib.progress), in a throw-away folder.
THROWAWAY_JUPYTER_DIRS = tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	export JUPYTER_CONFIG_DIR="$$tmp/config" JUPYTER_DATA_DIR="$$tmp/data" \
	       JUPYTERLAB_WORKSPACES_DIR="$$tmp/workspaces" IPYTHONDIR="$$tmp/ipython" \
	       COURSE_PROGRESS_DIR="$$tmp/progress"

.PHONY: venv lab test test-gpu test-browser report site constraints clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[$(EXTRAS)]'
	@touch $@

# Just build the environment (.venv with the course installed), e.g. for VS Code.
venv: $(STAMP)

# 127.0.0.1 only, behind a fresh token that no Jupyter config can switch off (tools/lab.py).
lab: $(STAMP)
	$(BIN)/python tools/lab.py --port $(PORT) notebooks/00_start_here.ipynb

# Lint, the library's unit tests, then every notebook top to bottom. Tests and
# notebooks run with no network but loopback (tools/offline.sh), which proves that
# nothing downloads anything. Two workers of one thread each use both cores without
# oversubscribing them; --dist loadscope keeps each notebook in one kernel.
test: $(STAMP)
	@set -e; $(THROWAWAY_JUPYTER_DIRS); export OMP_NUM_THREADS=1; \
	$(BIN)/ruff check . ; \
	COURSE_EXECUTED_DIR=$(CURDIR)/build/executed tools/offline.sh $(BIN)/python -m pytest -m "not browser" -n 2 tests ; \
	tools/offline.sh $(BIN)/python -m pytest --nbval-lax --nbval-current-env \
	  --timeout=600 -n 2 --dist loadscope notebooks

# On a machine with a CUDA GPU: every GPU-marked test, then each lesson's experiment
# on CUDA (tools/gpu_check.py), in one prepared command (a few minutes). Without CUDA
# both parts skip cleanly and it exits 0.
test-gpu: $(STAMP)
	@set -e; $(THROWAWAY_JUPYTER_DIRS); \
	$(BIN)/python -m pytest -m gpu -q -p no:cacheprovider tests || test $$? -eq 5; \
	$(BIN)/python tools/gpu_check.py

constraints: $(STAMP)
	{ echo '# Exact versions `make test` last passed with (CI, Python 3.11, CPU). Regenerate on purpose: `make constraints`.'; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^course[-_]lib' | sed 's/^\(torch[a-z]*==[^+]*\)+.*$$/\1/'; \
	} > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis data/cache build *.egg-info

# The course as a learner meets it: JupyterLab in Debian's Chromium (never a
# Playwright browser download) runs each lesson, moves its widget and checks the
# picture changes. Needs /usr/bin/chromium (apt-get install chromium).
test-browser: $(STAMP)
	@set -e; $(THROWAWAY_JUPYTER_DIRS); \
	$(BIN)/python -m pytest -m browser tests/browser

# Every notebook once, one at a time: wall time, peak memory and experiment outcome
# per lesson, written to build/report.md (the README's syllabus table).
report: $(STAMP)
	@set -e; $(THROWAWAY_JUPYTER_DIRS); \
	$(BIN)/python tools/report.py --out build/report.md --executed build/executed

# The course as a website in build/site/ (open build/site/index.html), built from the
# lessons as they were last executed (build/executed/: by `make report`, or by `make
# test`'s notebook runs); where a lesson changed since, the report runs first.
site: $(STAMP)
	@set -e; $(THROWAWAY_JUPYTER_DIRS); \
	if ! $(BIN)/python tools/build_site.py --up-to-date; then \
	  $(BIN)/python tools/report.py --out build/report.md --executed build/executed || test $$? -eq 2; \
	fi; \
	$(BIN)/python tools/build_site.py
