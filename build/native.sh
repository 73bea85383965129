#!/bin/sh
# `make native` on the Jetson: CUDA builds of whisper.cpp and llama.cpp for Orin (sm_87) into .venv.
# Runs with JetPack's system Python on purpose (see edge/ops/native_build.py); pass --dry-run to only print.
set -eu
cd "$(dirname "$0")/.."
exec /usr/bin/python3 -m edge.ops.native_build "$@"
