# preflight: `make demo` runs the suite against the sandbox, `make test` runs the self-tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup system demo test lint docs bench clean

setup: system $(VENV)/.installed

# nginx, PostgreSQL and Redis from Debian's packages, only when they are missing; chromium and
# certutil (libnss3-tools) too, for UI-01, which environments/local.yml enables (`ui:`); libfaketime for
# the twin whose clock is off; Prometheus and Alertmanager for the monitoring checks (MON); Postfix and Dovecot
# (the mail server) and dnsmasq (the mail domain's DNS) for the mail checks (MAIL).
system:
	@missing=""; \
	[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null || missing="$$missing nginx-light"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v setpriv >/dev/null || missing="$$missing util-linux"; \
	ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1 || missing="$$missing faketime"; \
	$(PYTHON) -c "import ensurepip, venv" 2>/dev/null || missing="$$missing python3-venv"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	command -v certutil >/dev/null || missing="$$missing libnss3-tools"; \
	command -v prometheus >/dev/null || missing="$$missing prometheus"; \
	command -v prometheus-alertmanager >/dev/null || missing="$$missing prometheus-alertmanager"; \
	[ -x /usr/sbin/dnsmasq ] || missing="$$missing dnsmasq-base"; \
	[ -x /usr/lib/postfix/sbin/master ] || missing="$$missing postfix"; \
	[ -x /usr/sbin/dovecot ] || missing="$$missing dovecot-core"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "preflight needs:$$missing (apt-get install$$missing as root)"; exit 1; fi; \
	  echo "installing:$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[sandbox,ui,dev]'
	touch $@

# The suite against every good stack of the sandbox: the SPA with the Flask API (environments/local.yml)
# and with the Django API (local-django.yml), the server-rendered Django site (local-django-site.yml) and
# the login-gated Flask site (local-flask-site.yml). Each run starts its stack, checks it, stops it; all
# four run even if one fails.
demo: setup
	@rc=0; \
	for env in local local-django local-django-site local-flask-site; do \
	  $(BIN)/pytest --env=$$env --intrusive || rc=$$?; \
	done; \
	exit $$rc

# The self-tests: each check passes on the good sandbox and fails on its twin, the loader,
# reports, faults, secrets, xdist.
test: setup
	$(BIN)/pytest -c selftests/pytest.ini selftests

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# docs/CHECKS.md from the code; docs/report-*.png, the compliance report of a failing twin run (it starts the sandbox).
docs: setup
	$(BIN)/python -m sandbox.catalogue > docs/CHECKS.md
	$(BIN)/python -m sandbox.screenshots docs

# Benchmarks print ratios and assert nothing; each run in them has a subprocess timeout (a hang guard).
# distance.py: the suite against its sequential floor, and under 0-200 ms of added RTT (issue 14);
# faults.py: a blackholed and a trickling target, in read timeouts.
bench: setup
	$(BIN)/python bench/probe_cache.py
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/distance.py
	$(BIN)/python bench/faults.py

clean:
	rm -rf $(VENV) reports/*.html reports/*.xml reports/*.json
