"""The Jetson native build: its dry-run plan (CUDA flags for sm_87, clean-environment builds), platform
detection, and the smoke verdicts read from the libraries' own logs."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from edge.ops import native_build
from edge.ops.native_build import (
    LLAMA_CPP_PYTHON_VERSION,
    PYWHISPERCPP_VERSION,
    detect_platform,
    llama_load_verdict,
    system_info_verdict,
    whisper_load_verdict,
)

REPO = Path(__file__).resolve().parent.parent
ALLOWED_BUILD_VARIABLES = {
    "PATH",
    "HOME",
    "LANG",
    "CUDACXX",
    "CMAKE_BUILD_PARALLEL_LEVEL",
    "GGML_CUDA",
    "CMAKE_CUDA_ARCHITECTURES",
    "GGML_NATIVE",
    "GGML_CPU_ARM_ARCH",
    "CMAKE_ARGS",
    "FORCE_CMAKE",
    *native_build.NETWORK_VARIABLES,
}


def _jetson_root(root: Path, release: str = "# R36 (release), REVISION: 4.3, GCID: 38968081") -> Path:
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "nv_tegra_release").write_text(release + ", BOARD: generic, EABI: aarch64, DATE: x\n")
    (root / "proc" / "device-tree").mkdir(parents=True)
    (root / "proc" / "device-tree" / "model").write_bytes(b"NVIDIA Jetson Orin Nano Developer Kit\x00")
    (root / "proc" / "meminfo").write_text("MemTotal:        7650336 kB\n")
    cuda = root / "usr" / "local" / "cuda"
    (cuda / "bin").mkdir(parents=True)
    (cuda / "bin" / "nvcc").write_text("#!/bin/sh\n")
    (cuda / "version.json").write_text('{"cuda": {"name": "CUDA SDK", "version": "12.6.68"}}')
    return root


def _dry_run(root: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        # A polluted login shell: none of this may reach the native builds.
        "CMAKE_ARGS": "-DGGML_CUDA=off",
        "CFLAGS": "-O0",
        "CUDA_HOME": "/somewhere/else",
        "LD_LIBRARY_PATH": "/opt/conda/lib",
        "https_proxy": "http://proxy.invalid:3128",
    }
    return subprocess.run(
        [sys.executable, "-m", "edge.ops.native_build", "--dry-run", "--root", str(root), "--python", sys.executable,
         "--venv", str(tmp_path / "venv"), *extra],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
        check=False,
    )


def _commands(stdout: str) -> list[list[str]]:
    return [shlex.split(line) for line in stdout.splitlines() if line and not line.startswith("#")]


def _clean_env(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    assert argv[:2] == ["env", "-i"], argv
    env: dict[str, str] = {}
    rest = argv[2:]
    while rest and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", rest[0]):
        key, _, value = rest.pop(0).partition("=")
        env[key] = value
    return env, rest


def test_dry_run_prints_the_clean_cuda_builds_for_sm_87(tmp_path):
    result = _dry_run(_jetson_root(tmp_path / "root"), tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    print(out)
    assert "L4T R36.4.3 (JetPack 6.2)" in out and "12.6.68" in out
    commands = _commands(out)
    venv = commands[0]
    assert venv[1:] == ["-m", "venv", "--system-site-packages", "--upgrade-deps", str(tmp_path / "venv")]

    whisper_env, whisper_cmd = _clean_env(commands[1])
    assert whisper_env["GGML_CUDA"] == "1"
    assert whisper_env["CMAKE_CUDA_ARCHITECTURES"] == "87"
    assert whisper_env["GGML_NATIVE"] == "OFF"
    assert whisper_env["CUDACXX"].endswith("/usr/local/cuda/bin/nvcc")
    assert f"pywhispercpp=={PYWHISPERCPP_VERSION}" in whisper_cmd
    assert whisper_cmd[whisper_cmd.index("--no-binary") + 1] == "pywhispercpp"

    llama_env, llama_cmd = _clean_env(commands[2])
    cmake_args = llama_env["CMAKE_ARGS"].split()
    assert {"-DGGML_CUDA=on", "-DCMAKE_CUDA_ARCHITECTURES=87", "-DGGML_NATIVE=OFF"} <= set(cmake_args)
    assert f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}" in llama_cmd
    assert llama_cmd[llama_cmd.index("--no-binary") + 1] == "llama-cpp-python"

    for env in (whisper_env, llama_env):
        assert set(env) <= ALLOWED_BUILD_VARIABLES, set(env) - ALLOWED_BUILD_VARIABLES
        assert "CFLAGS" not in env and "LD_LIBRARY_PATH" not in env and "CUDA_HOME" not in env
        # 7.3 GiB of memory: at most 3 nvcc jobs (fewer on a machine with fewer cores).
        assert env["CMAKE_BUILD_PARALLEL_LEVEL"] == str(min(3, os.cpu_count() or 1))
        assert env["https_proxy"] == "http://proxy.invalid:3128"  # pip must still reach its index
    assert llama_env["CMAKE_ARGS"] != "-DGGML_CUDA=off"
    assert "CMAKE_ARGS" not in whisper_env, "pywhispercpp also reads CMAKE_ARGS"

    install = commands[3]
    assert install[-1].endswith("[jetson]") and "--editable" in install
    assert commands[4][-4:] == ["edge.ops.native_build", "check", "--arch", "87"]


def test_dry_run_off_a_jetson_still_prints_the_plan_and_says_why_it_would_stop(tmp_path):
    (tmp_path / "root").mkdir()
    result = _dry_run(tmp_path / "root", tmp_path)
    assert result.returncode == 0
    assert "would stop here: this is not a Jetson" in result.stdout
    assert "CMAKE_CUDA_ARCHITECTURES=87" in result.stdout


def test_a_real_build_refuses_jetpack_5(tmp_path):
    root = _jetson_root(tmp_path / "root", "# R35 (release), REVISION: 5.0, GCID: 1")
    result = subprocess.run(
        [sys.executable, "-m", "edge.ops.native_build", "--root", str(root), "--python", sys.executable,
         "--venv", str(tmp_path / "venv")],
        capture_output=True, text=True, cwd=REPO, timeout=120, check=False,
    )
    assert result.returncode == 2
    assert "JetPack 5.1.x" in result.stderr and "flash JetPack 6" in result.stderr
    assert not (tmp_path / "venv").exists()


def test_arch_can_be_overridden_for_another_gpu(tmp_path):
    result = _dry_run(_jetson_root(tmp_path / "root"), tmp_path, "--arch", "72")
    assert "CMAKE_CUDA_ARCHITECTURES=72" in result.stdout and "=87" not in result.stdout


def test_pins_match_pyproject():
    text = (REPO / "pyproject.toml").read_text()
    assert f'"pywhispercpp=={PYWHISPERCPP_VERSION}"' in text
    assert f'"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}"' in text


def test_clean_env_really_is_clean(monkeypatch):
    monkeypatch.setenv("CMAKE_ARGS", "-DPOISON=1")
    argv = native_build.clean_env_argv({"PATH": "/usr/bin:/bin", "GGML_CUDA": "1"}, ["env"])
    out = subprocess.run(list(argv), capture_output=True, text=True, check=True).stdout
    assert sorted(out.split()) == ["GGML_CUDA=1", "PATH=/usr/bin:/bin"]


def test_platform_detection_reads_the_jetson_files(tmp_path):
    platform = detect_platform(_jetson_root(tmp_path / "root"), Path(sys.executable))
    assert platform.l4t is not None and platform.l4t.version == "36.4.3"
    assert platform.board == "NVIDIA Jetson Orin Nano Developer Kit"
    assert platform.cuda_version == "12.6.68" and platform.nvcc_found
    assert platform.python_version == sys.version_info[:2]
    assert platform.problems() == []
    assert native_build.default_jobs(platform) == min(3, platform.cpu_count)


# --- smoke verdicts -----------------------------------------------------------------------------------

ORIN_LLAMA_LOG = """\
ggml_cuda_init: GGML_CUDA_FORCE_MMQ:    no
ggml_cuda_init: GGML_CUDA_FORCE_CUBLAS: no
ggml_cuda_init: found 1 CUDA devices:
  Device 0: Orin, compute capability 8.7, VMM: yes
llama_model_load_from_file_impl: using device CUDA0 (Orin) - 6190 MiB free
load_tensors: offloading 28 repeating layers to GPU
load_tensors: offloading output layer to GPU
load_tensors: offloaded 29/29 layers to GPU
load_tensors:        CUDA0 model buffer size =   934.70 MiB
"""


def test_llama_verdict_needs_every_layer_on_the_gpu():
    verdict = llama_load_verdict(ORIN_LLAMA_LOG)
    assert verdict.ok and "29/29" in verdict.detail and "Orin" in verdict.detail and "8.7" in verdict.detail
    partial = llama_load_verdict(ORIN_LLAMA_LOG.replace("offloaded 29/29", "offloaded 12/29"))
    assert not partial.ok and "n_gpu_layers=-1" in partial.detail
    assert not llama_load_verdict("llama_model_loader: loaded meta data\n").ok


def test_whisper_verdict_on_the_real_cpu_build_says_no_gpu(fixture_file):
    """pywhispercpp here is the CPU wheel: its own load log must fail the smoke check."""
    stub = fixture_file("models/ggml-tiny-vocab-only-stub.bin")
    script = REPO / "build" / "smoke_whisper.py"
    result = subprocess.run([sys.executable, str(script), str(stub)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    log = result.stdout + result.stderr
    verdict = whisper_load_verdict(log)
    assert not verdict.ok and "no GPU" in verdict.detail
    info = system_info_verdict("whisper.cpp", result.stdout)
    assert not info.ok and "without CUDA" in info.detail
    assert whisper_load_verdict(log.replace("no GPU found", "using CUDA0 backend")).ok


def test_system_info_verdict_checks_the_architecture():
    info = "WHISPER : COREML = 0 | CPU : NEON = 1 | CUDA : ARCHS = 870 | USE_GRAPHS = 1 | PEER_MAX_BATCH_SIZE = 128 |"
    assert system_info_verdict("whisper.cpp", info).ok
    wrong = system_info_verdict("whisper.cpp", info.replace("870", "800,860"))
    assert not wrong.ok and "not sm_87" in wrong.detail


@pytest.mark.parametrize("script", ["smoke_whisper.py", "smoke_llama.py"])
def test_smoke_scripts_refuse_a_missing_model_instead_of_downloading(script, tmp_path):
    pytest.importorskip("pywhispercpp" if "whisper" in script else "llama_cpp")
    command = [sys.executable, str(REPO / "build" / script), str(tmp_path / "tiny")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "no such model file" in result.stderr


def test_check_on_this_machines_cpu_builds_fails_for_both_libraries():
    """`make native`'s last step, run against the real (CPU) libraries installed here."""
    pytest.importorskip("pywhispercpp")
    pytest.importorskip("llama_cpp")
    verdicts = native_build.check_libraries(Path(sys.prefix), "87")
    assert [v.ok for v in verdicts] == [False, False]
    assert all("built without CUDA" in v.detail for v in verdicts), verdicts
