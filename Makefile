# vlmlab: two commands matter.
#   make lab    set up .venv (first time only) and open JupyterLab on the first notebook
#   make test   set up .venv (first time only) and run every unit test and every notebook
# Also: make book (notebooks -> HTML under build/), make notebooks (refresh checked outputs),
#       make clean-notebooks (strip outputs), make test-slow (slow tests: real-size CLIP,
#       repeated headless runs, browser check), make bench.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
FIRST_NOTEBOOK := notebooks/00_start_here.ipynb
# JupyterLab reads setting defaults from <env>/share/jupyter/lab/settings/overrides.d/*.json.
# This one answers JupyterLab's "get notified about Jupyter news?" with "never" and turns its
# update check off: no pop-up covers the first notebook, and no news request leaves the machine.
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.d/vlmlab.json

.PHONY: lab test test-slow book notebooks clean-notebooks bench clean install

install: $(STAMP)

# Re-install only when the project's requirements change.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

$(LAB_OVERRIDES): | $(STAMP)
	@mkdir -p $(@D)
	@echo '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}}' > $@

lab: $(STAMP) $(LAB_OVERRIDES)
	@# Served from the repository root, so the file browser shows data/ and the README; the
	@# URL Jupyter prints (and opens, where there is a display) is the first notebook's.
	@# No display (a server, a container, CI): serve only, and print the URL to open.
	@# As root (containers), Jupyter refuses to start without --allow-root.
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" --ServerApp.ip=127.0.0.1 \
		--LabApp.default_url=/lab/tree/$(FIRST_NOTEBOOK) \
		$(if $(or $(DISPLAY),$(WAYLAND_DISPLAY),$(filter Darwin,$(shell uname -s))),,--no-browser) \
		$(if $(filter 0,$(shell id -u)),--allow-root,) $(LAB_ARGS)

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
