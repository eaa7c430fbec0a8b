# cc-router — every target sets up what it needs (virtual environment, Debian packages,
# the Asterisk sandbox) on a fresh machine.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEB_PACKAGES := debootstrap sip-tester chromium fonts-noto-cjk dovecot-imapd dovecot-lmtpd sox openssl

.PHONY: run test bench lint system-deps sandbox-up sandbox-down clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# Debian packages the sandbox, SIP load, browser and mail tests use; installed only if missing.
system-deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

sandbox-up: $(STAMP) system-deps
	$(BIN)/cc-router sandbox up

sandbox-down: $(STAMP)
	$(BIN)/cc-router sandbox down

run: $(STAMP) system-deps
	$(BIN)/cc-router demo --config config/example.yaml

test: $(STAMP) system-deps
	$(BIN)/ruff check src tests
	$(BIN)/mypy
	$(BIN)/pytest -q

bench: $(STAMP) system-deps
	$(BIN)/python -m cc_router.bench

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
