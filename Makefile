# The two commands a new machine needs: `make setup` then `make run`; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# llama-cpp-python is a source build (minutes); its wheel is kept per machine and reused.
WHEELHOUSE ?= $(HOME)/.cache/edge/wheels
LLAMA_CPP_VERSION := 0.3.36
CONFIG ?= config/dev.toml
DEV_WHISPER_MODEL := build/models/ggml-tiny-random.bin
FIXTURES ?= ../shared/fixtures
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := python3-venv python3-dev build-essential cmake pkg-config portaudio19-dev libsndfile1 \
	mosquitto ffmpeg espeak-ng sox chromium chromium-driver fonts-noto-cjk systemd

PREFIX ?= /opt/edge
MODELS_DIR ?= /var/lib/edge/models

.PHONY: setup apt venv run test lint bench dev-models clean native install models smoke

setup: apt venv dev-models

apt:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
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

dev-models: $(DEV_WHISPER_MODEL)

# A whisper.cpp model of the real tiny shape with random weights: real compute cost, meaningless text.
$(DEV_WHISPER_MODEL):
	@mkdir -p $(dir $@)
	$(BIN)/edge synth whisper --shape tiny --stub $(FIXTURES)/models/ggml-tiny-vocab-only-stub.bin --out $@

run: dev-models
	$(BIN)/edge run --config $(CONFIG)

test:
	$(BIN)/pytest -q

lint:
	$(BIN)/ruff check edge tests

bench: dev-models
	$(BIN)/edge bench --fixtures $(FIXTURES) --json build/bench.json

clean:
	rm -rf build/models build/out .pytest_cache .ruff_cache

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
