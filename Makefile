# One command to start the app, one to run the tests; both set up what they need first.
#   make run      # http://127.0.0.1:8000, served by gunicorn as in the Procfile
#   make test     # the whole pytest suite, browser tests included

VENV ?= .venv
PYTHON := $(VENV)/bin/python
PORT ?= 8000
# On a Debian machine without internet Playwright cannot fetch its browser: use Debian's.
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test browser clean

$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(VENV)/bin/python
	$(PYTHON) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.test-installed: requirements.txt requirements-test.txt | $(VENV)/bin/python
	$(PYTHON) -m pip install --quiet -r requirements-test.txt
	touch $@ $(VENV)/.runtime-installed

run: $(VENV)/.runtime-installed
	PORT=$(PORT) $(VENV)/bin/gunicorn --bind 127.0.0.1:$(PORT) 'app:create_app()'

# Debian packages the tests need: Chromium for the browser tests, and the GL libraries that
# skia-python (the stroke renderer) links against, which a bare server may lack.
browser: $(VENV)/.test-installed
	@missing=""; \
	[ -x $(CHROMIUM) ] || missing="chromium"; \
	{ ldconfig -p | grep -q 'libEGL.so.1 ' && ldconfig -p | grep -q 'libGL.so.1 '; } \
		|| missing="$$missing libegl1 libgl1"; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	elif [ ! -x $(CHROMIUM) ]; then \
		$(PYTHON) -m playwright install chromium; \
	fi; \
	[ -x $(CHROMIUM) ] && echo "Using $(CHROMIUM)" || true

test: browser
	$(PYTHON) -m pytest

clean:
	rm -rf $(VENV) test-artifacts .pytest_cache .hypothesis
