# vlmlab: two commands matter.
#   make lab    set up .venv (first time only) and open JupyterLab on the first notebook
#   make test   set up .venv (first time only) and run every unit test and every notebook
# Also: make book (notebooks -> HTML under build/), make notebooks (refresh checked outputs),
#       make clean-notebooks (strip outputs), make test-slow (browser check), make bench.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))

.PHONY: lab test test-slow book notebooks clean-notebooks bench clean install

install: $(STAMP)

# Re-install only when the project's requirements change.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

lab: $(STAMP)
	@# No display (a server, a container, CI): serve only, and print the URL to open.
	@# As root (containers), Jupyter refuses to start without --allow-root.
	$(BIN)/jupyter lab notebooks/00_start_here.ipynb --ServerApp.ip=127.0.0.1 \
		$(if $(or $(DISPLAY),$(WAYLAND_DISPLAY),$(filter Darwin,$(shell uname -s))),,--no-browser) \
		$(if $(filter 0,$(shell id -u)),--allow-root,)

test: $(STAMP)
	$(BIN)/python -m pytest

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow tests

book: $(STAMP)
	$(BIN)/python -m vlmlab.nbtools book --out build/book $(NOTEBOOKS)
	@echo "open build/book/index.html"

notebooks: $(STAMP)
	$(BIN)/python -m vlmlab.nbtools run $(NOTEBOOKS)

clean-notebooks: $(STAMP)
	$(BIN)/python -m vlmlab.nbtools strip $(NOTEBOOKS)

bench: $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf build
