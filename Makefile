# vlmlab: two commands matter.
#   make lab    set up .venv (first time only) and open JupyterLab on the first notebook
#   make test   set up .venv (first time only) and run every unit test and every notebook
#   (한국어판: make lab-ko opens the Korean edition, notebooks/ko/; see README.ko.md)
# Also: make book (notebooks -> HTML under build/), make notebooks (refresh checked outputs),
#       make clean-notebooks (strip outputs), make test-slow (slow tests: real-size CLIP,
#       repeated headless runs, browser check), make bench,
#       make test-latest (the same suite on the newest releases, in .venv-latest),
#       make lock (write those newest versions into constraints.txt, once test-latest is green),
#       make ko-sync (bring notebooks/ko/ in step with the English notebooks; lists what needs translating).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The exact versions the suite last passed with. `make` installs from them, and so do CI and
# environment.yml; `make test-latest` ignores them to show what newer releases would change.
CONSTRAINTS := constraints.txt
LATEST := .venv-latest
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
KO_NOTEBOOKS := $(sort $(wildcard notebooks/ko/*.ipynb))
FIRST_NOTEBOOK := notebooks/00_start_here.ipynb
# JupyterLab reads setting defaults from <env>/share/jupyter/lab/settings/overrides.d/*.json.
# This one answers JupyterLab's "get notified about Jupyter news?" with "never" and turns its
# update check off: no pop-up covers the first notebook, and no news request leaves the machine.
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.d/vlmlab.json

.PHONY: lab lab-ko test test-slow test-latest lock book notebooks clean-notebooks bench clean install ko-sync

install: $(STAMP)
	@$(GIT_FILTER)

# git stores notebooks through `nbtools clean-filter` (.gitattributes): a run's outputs and the
# local Python version never reach a commit, and checkout puts the version back (smudge-filter),
# so JupyterLab finds nothing to change when it opens a notebook. Registered in this clone's
# .git/config (the filter runs from the repository root); then `refresh` gives the notebooks
# git finds unchanged the local version. Outside a git checkout of this project: nothing.
GIT_FILTER = if [ -n "$$(git rev-parse --git-dir 2>/dev/null)" ] && [ -z "$$(git rev-parse --show-prefix 2>/dev/null)" ]; then \
	git config filter.vlmlab-notebook.clean "$(BIN)/python -m vlmlab.nbtools clean-filter" && \
	git config filter.vlmlab-notebook.smudge "$(BIN)/python -m vlmlab.nbtools smudge-filter" && \
	$(BIN)/python -m vlmlab.nbtools refresh $(NOTEBOOKS) $(KO_NOTEBOOKS); fi

# Re-install only when the project's requirements or the pinned versions change.
$(STAMP): pyproject.toml $(CONSTRAINTS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e '.[dev]'
	@$(GIT_FILTER)
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
		--FileContentsManager.post_save_hook=vlmlab.nbtools.post_save \
		$(if $(or $(DISPLAY),$(WAYLAND_DISPLAY),$(filter Darwin,$(shell uname -s))),,--no-browser) \
		$(if $(filter 0,$(shell id -u)),--allow-root,) $(LAB_ARGS)

# The Korean edition (notebooks/ko/) is left out here: its code cells and checked outputs are the
# English ones, which tests/test_translation.py checks cell by cell, so running it again would
# only double the time. `make test-slow` runs it under nbval.
test: $(STAMP)
	$(BIN)/python -m pytest

# JupyterLab on the Korean edition's first notebook.
lab-ko:
	$(MAKE) lab FIRST_NOTEBOOK=notebooks/ko/00_start_here.ipynb

ko-sync: $(STAMP)
	$(BIN)/python -m vlmlab.translation sync

# A fresh environment with the newest releases pip serves today (no constraints), running the
# same suite: drift shows here before a student meets it. Green? `make lock` pins these versions.
test-latest:
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --upgrade pip
	$(LATEST)/bin/python -m pip install --quiet --upgrade -e '.[dev]'
	$(LATEST)/bin/python -m pip freeze --exclude-editable > $(LATEST)/versions.txt
	$(LATEST)/bin/python -m pytest

lock:
	@test -f $(LATEST)/versions.txt || { echo "run make test-latest first"; exit 1; }
	{ sed -n '1,/^$$/p' $(CONSTRAINTS); cat $(LATEST)/versions.txt; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)
	@echo "constraints.txt now holds the versions of $(LATEST); commit it with the suite green"

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow tests
	$(BIN)/python -m pytest notebooks/ko

book: $(STAMP)
	$(BIN)/python -m vlmlab.nbtools book --out build/book $(NOTEBOOKS)
	$(BIN)/python -m vlmlab.nbtools book --out build/book/ko $(KO_NOTEBOOKS)

notebooks: $(STAMP)
	$(BIN)/python -m vlmlab.nbtools run $(NOTEBOOKS)

clean-notebooks: $(STAMP)
	$(BIN)/python -m vlmlab.nbtools strip $(NOTEBOOKS)

bench: $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf build
