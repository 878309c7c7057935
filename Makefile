# One command to start the app, one to run the tests; both set up what they need first.
#   make run      # http://127.0.0.1:8000, served by gunicorn as in the Procfile
#   make test     # the whole pytest suite, browser tests included

VENV ?= .venv
PYTHON := $(VENV)/bin/python
PORT ?= 8000
# On a Debian machine without internet Playwright cannot fetch its browser: use Debian's.
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test system-packages clean

$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(VENV)/bin/python
	$(PYTHON) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.test-installed: requirements.txt requirements-test.txt | $(VENV)/bin/python
	$(PYTHON) -m pip install --quiet -r requirements-test.txt
	touch $@ $(VENV)/.runtime-installed

# The Procfile's two steps: the release phase (database migrations), then the web process.
run: $(VENV)/.runtime-installed
	$(VENV)/bin/flask --app app db upgrade
	PORT=$(PORT) $(VENV)/bin/gunicorn --bind 127.0.0.1:$(PORT) 'app:create_app()'

# Debian packages the tests need: Chromium for the browser tests, the GL libraries that
# skia-python (the stroke renderer) links against, which a bare server may lack, and
# PostgreSQL, which the database tests start as a throwaway server of their own (no cluster
# or service of the system's is made).
system-packages: $(VENV)/.test-installed
	@missing=""; \
	[ -x $(CHROMIUM) ] || missing="chromium"; \
	{ ldconfig -p | grep -q 'libEGL.so.1 ' && ldconfig -p | grep -q 'libGL.so.1 '; } \
		|| missing="$$missing libegl1 libgl1"; \
	{ command -v pg_ctl >/dev/null || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; } \
		|| missing="$$missing postgresql"; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		mkdir -p /etc/postgresql-common/createcluster.d; \
		echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/no-main-cluster.conf; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	elif [ ! -x $(CHROMIUM) ]; then \
		$(PYTHON) -m playwright install chromium; \
	fi; \
	[ -x $(CHROMIUM) ] && echo "Using $(CHROMIUM)" || true

test: system-packages
	$(PYTHON) -m pytest

clean:
	rm -rf $(VENV) test-artifacts .pytest_cache .hypothesis
