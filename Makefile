# One command to start the app, one to run the tests; both set up what they need first.
#   make run        # http://127.0.0.1:8000, served by gunicorn as in the Procfile
#   make test       # everything: the docs build, the page's unit tests (node) and all of pytest
#   make test-fast  # the unit and API tests, under 2 minutes
#   make model      # the committed model's recipe, three stages (needs MNIST_PATH, PENDIGITS_PATH)
#   make docs       # the documentation site, built into site/ (links checked)

VENV ?= .venv
PYTHON := $(VENV)/bin/python
PORT ?= 8000
# On a Debian machine without internet Playwright cannot fetch its browser: use Debian's.
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test test-fast test-python test-js model system-packages clean

$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip

# The project itself is installed too (editable), so its packages import from anywhere.
$(VENV)/.runtime-installed: requirements.txt pyproject.toml | $(VENV)/bin/python
	$(PYTHON) -m pip install --quiet -r requirements.txt
	$(PYTHON) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.test-installed: requirements.txt requirements-test.txt pyproject.toml | $(VENV)/bin/python
	$(PYTHON) -m pip install --quiet -r requirements-test.txt
	$(PYTHON) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@ $(VENV)/.runtime-installed

# The Procfile's two steps: the release phase (database migrations), then the web process.
run: $(VENV)/.runtime-installed
	$(VENV)/bin/flask --app app db upgrade
	PORT=$(PORT) $(VENV)/bin/gunicorn --bind 127.0.0.1:$(PORT) 'app:create_app()'

# Debian packages the tests need: Chromium for the browser tests, the GL libraries that
# skia-python (the stroke renderer) links against, which a bare server may lack, and
# PostgreSQL, Redis and nginx, which the database and scale-out tests start as throwaway
# servers of their own (no cluster or service of the system's is made or started: a
# policy-rc.d keeps apt from starting nginx's and Redis's services).
system-packages: $(VENV)/.test-installed
	@missing=""; \
	[ -x $(CHROMIUM) ] || missing="chromium"; \
	{ ldconfig -p | grep -q 'libEGL.so.1 ' && ldconfig -p | grep -q 'libGL.so.1 '; } \
		|| missing="$$missing libegl1 libgl1"; \
	{ command -v pg_ctl >/dev/null || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; } \
		|| missing="$$missing postgresql"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	{ command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; } || missing="$$missing nginx"; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		mkdir -p /etc/postgresql-common/createcluster.d; \
		echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/no-main-cluster.conf; \
		policy=""; [ -e /usr/sbin/policy-rc.d ] || { policy=/usr/sbin/policy-rc.d; \
			printf '#!/bin/sh\nexit 101\n' > $$policy; chmod +x $$policy; }; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
		[ -z "$$policy" ] || rm -f $$policy; \
	elif [ ! -x $(CHROMIUM) ]; then \
		$(PYTHON) -m playwright install chromium; \
	fi; \
	[ -x $(CHROMIUM) ] && echo "Using $(CHROMIUM)" || true

test: docs test-js test-python

test-python: system-packages
	$(PYTHON) -m pytest

# The fast subset: no browser, no server processes, no training runs.
test-fast: $(VENV)/.test-installed
	$(PYTHON) -m pytest tests/unit tests/api -m "not slow and not e2e"

# The page's pure modules (static/js), with node's own test runner.
test-js:
	node --test tests/js/

# The committed model's recipe: three runs, each continuing from the one before with milder
# distortion, more drawings of the pen digits and a lower learning rate; the last keeps an
# exponential moving average of the weights (docs/training.md). About 50 minutes on 2 CPU cores.
# Then the stroke network, whose weight beside the picture network is chosen with the new one
# (train_strokes.py, a few minutes).
MODEL_STAGES ?= /tmp/digitpad-model-stages
model: $(VENV)/.test-installed
	$(PYTHON) train_mnist.py --filters 24 --epochs 16 --pen-drawings 6 --out $(MODEL_STAGES)/1 --verbose 2
	$(PYTHON) train_mnist.py --initial-model $(MODEL_STAGES)/1 --epochs 5 --learning-rate 2e-4 \
		--distortion 0.5 --pen-drawings 10 --out $(MODEL_STAGES)/2 --verbose 2
	$(PYTHON) train_mnist.py --initial-model $(MODEL_STAGES)/2 --epochs 5 --learning-rate 1e-4 \
		--distortion 0.3 --pen-drawings 10 --ema 0.999 --verbose 2
	$(PYTHON) train_strokes.py

clean:
	rm -rf $(VENV) test-artifacts .pytest_cache .hypothesis site

# The documentation site: docs/ built into site/ with MkDocs (Material theme); links checked.
#   .venv/bin/mkdocs serve    # the same site at http://127.0.0.1:8000 while you edit
.PHONY: docs
docs: $(VENV)/.test-installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict
