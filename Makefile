# SPOrchestrator — the two commands of the README, and their helpers.
#   make run    install what is missing, build, run the local instance (PostgreSQL, pool, nginx)
#   make test   install what is missing, build, run every test
#   make bench  every figure of issue 11 in one table, against the C reference (../shared/bench) or the target

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Debian packages the project needs at build, run and test time.
APT_PACKAGES := nginx postgresql libfcgi-dev libjansson-dev libpq-dev libssl-dev zlib1g-dev curl ca-certificates \
	python3 python3-venv python3-pytest python3-requests wrk spawn-fcgi gcc procps \
	chromium chromium-driver python3-selenium libjs-chart.js pgbouncer
# Started as root, `spo dev` runs the pool's workers as spo and nginx's workers as spo-www (and
# PostgreSQL as postgres): `make deps` creates them as system users, once.
SYSTEM_USERS := spo spo-www
# End-to-end tests run on Debian's Python and its packages (whatever python3 is first in PATH), in a
# virtualenv that sees them and adds what Debian does not package (openapi-spec-validator; schemathesis for
# the fuzz run, Tests/e2e/test_fuzz.py, pinned so a seed replays the same cases).
VENV := .build/venv
PYTHON := $(VENV)/bin/python
PIP_PACKAGES := openapi-spec-validator schemathesis==4.32.5 hypothesis==6.170.17
# Swagger UI at /docs/: the packaged distribution from PyPI's swagger-ui-bundle, copied as shipped.
SWAGGER_UI_BUNDLE := swagger-ui-bundle==1.1.0
SWAGGER_UI_DIR ?= .build/swagger-ui
SWIFT_BUILD_FLAGS ?=
CONFIG ?= release

.PHONY: help deps venv build run test test-e2e lint format bench clean swagger-ui

help:
	@echo "make run    - build and run the local instance on http://127.0.0.1:8080"
	@echo "make test   - build and run every test (unit, PostgreSQL integration, nginx end-to-end)"
	@echo "make bench  - the figures table: hot path against the C reference, memory, audit growth, scale"
	@echo "make lint   - swift format lint"

deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "missing packages: $$missing — run as root or install them" >&2; exit 1; fi; \
		echo "==> installing: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@if [ "$$(id -u)" = 0 ]; then for user in $(SYSTEM_USERS); do \
		id -u $$user >/dev/null 2>&1 || { echo "==> creating system user $$user"; \
			useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin $$user; }; \
	done; fi

$(VENV)/.installed: Makefile
	/usr/bin/python3 -m venv --system-site-packages $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check $(PIP_PACKAGES)
	touch $@

venv: deps $(VENV)/.installed

$(SWAGGER_UI_DIR)/index.html: | $(VENV)/.installed
	rm -rf .build/swagger-ui-download && mkdir -p .build/swagger-ui-download
	$(VENV)/bin/pip download --quiet --disable-pip-version-check --no-deps --dest .build/swagger-ui-download $(SWAGGER_UI_BUNDLE)
	$(PYTHON) -m zipfile -e .build/swagger-ui-download/*.whl .build/swagger-ui-download/unpacked
	rm -rf $(SWAGGER_UI_DIR) && mkdir -p $(dir $(SWAGGER_UI_DIR))
	cp -r .build/swagger-ui-download/unpacked/swagger_ui_bundle/vendor/swagger-ui-* $(SWAGGER_UI_DIR)

swagger-ui: deps $(SWAGGER_UI_DIR)/index.html

# A release binary carries the Swift runtime and Foundation (--static-swift-stdlib): a worker maps
# only the pages it uses, 25 MB resident instead of 31 (README, A worker's memory).
STATIC_FLAGS := $(if $(filter release,$(CONFIG)),--static-swift-stdlib)

build: deps
	swift build -c $(CONFIG) $(STATIC_FLAGS) $(SWIFT_BUILD_FLAGS)

run: build swagger-ui
	.build/$(CONFIG)/spo dev

lint:
	swift format lint --strict --recursive Sources Tests Package.swift

format:
	swift format format --in-place --recursive Sources Tests Package.swift

# Swift tests (unit + integration against a throwaway PostgreSQL cluster they create), then the
# end-to-end suite through real nginx and the real pool, with the release build.
test: deps lint
	swift build --build-tests $(SWIFT_BUILD_FLAGS)
	swift test --skip-build --parallel --num-workers 2
	$(MAKE) --no-print-directory test-e2e

test-e2e: build venv swagger-ui
	SPO_BIN=$(CURDIR)/.build/$(CONFIG)/spo $(PYTHON) -m pytest -q -p no:cacheprovider Tests/e2e

# What only `make bench` needs: valgrind counts instructions and allocations per request
# (Tests/bench/figures/20-instructions). wrk, gcc (the C reference) and spawn-fcgi come with deps.
BENCH_PACKAGES := valgrind

bench: build venv
	@for p in $(BENCH_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(BENCH_PACKAGES); break; }; done
	Tests/bench/run

clean:
	rm -rf .build
