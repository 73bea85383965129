"""Native CUDA builds for the Jetson: whisper.cpp (pywhispercpp) and llama.cpp (llama-cpp-python) for Orin.

    python3 -m edge.ops.native_build [--dry-run]          # `make native`: venv, CUDA builds, the project, checks
    python3 -m edge.ops.native_build smoke --whisper-model M --llm-model M   # GPU offload from the load logs

Run with JetPack's system Python (3.10 on JetPack 6): the venv is made from it with
--system-site-packages so JetPack's TensorRT bindings resolve inside it. Both native packages are
built from source with CUDA for sm_87 in a clean environment (`env -i`): pywhispercpp's setup.py turns
every environment variable into a CMake define, and a stray CMAKE_ARGS, CFLAGS or CUDA_HOME from a
login shell would silently change what is built. GGML_NATIVE=OFF keeps the build reproducible (no
-mcpu=native), with the Orin CPU's features named explicitly. `--dry-run` prints every command.
Stdlib only, Python 3.10.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import re
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from edge.ops.device_profiles import GIB, L4tRelease, read_board_model, read_l4t_release, read_mem_total

PYWHISPERCPP_VERSION = "1.5.1"
LLAMA_CPP_PYTHON_VERSION = "0.3.36"
ORIN_CUDA_ARCH = "87"
ORIN_CPU_ARCH = "armv8.2-a+dotprod+fp16"
"""Cortex-A78AE features, named because GGML_NATIVE=OFF would otherwise build for plain armv8-a."""

REPO_ROOT = Path(__file__).resolve().parents[2]
SMOKE_DIR = REPO_ROOT / "build"
CLEAN_PATH = "/usr/local/cuda/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Passed through env -i when set: pip needs them to reach the package index through a proxy; none of
# them changes what the compilers produce.
NETWORK_VARIABLES = (
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_TRUSTED_HOST",
    "SSL_CERT_FILE",
)


class BuildError(Exception):
    """A precondition of the build is not met; the message says what to do."""


@dataclass(frozen=True)
class Platform:
    l4t: L4tRelease | None
    board: str | None
    machine: str
    python: Path
    python_version: tuple[int, int] | None
    cuda_home: Path
    cuda_version: str | None
    nvcc: Path
    tensorrt: str | None
    mem_total: int | None
    cpu_count: int

    @property
    def nvcc_found(self) -> bool:
        return self.nvcc.is_file()

    def problems(self) -> list[str]:
        """Why a real build cannot run here (empty on a ready Jetson)."""
        found = []
        if self.l4t is None:
            found.append("this is not a Jetson (no /etc/nv_tegra_release): `make native` runs on the device")
        elif not self.l4t.supported:
            found.append(
                f"L4T R{self.l4t.version} is JetPack {self.l4t.jetpack}, whose Python is 3.8; "
                "flash JetPack 6 (L4T R36, Python 3.10, CUDA 12)"
            )
        if self.python_version is None:
            found.append(f"no Python at {self.python}")
        elif self.python_version < (3, 10):
            major, minor = self.python_version
            found.append(f"{self.python} is Python {major}.{minor}; the box needs 3.10+")
        if not self.nvcc_found:
            found.append(f"nvcc not found at {self.nvcc}: sudo apt install nvidia-jetpack (or cuda-toolkit-12-6)")
        return found

    def describe(self) -> list[str]:
        if self.l4t is not None:
            board = self.board or "unknown board"
            jetson = f"{board}, L4T R{self.l4t.version} (JetPack {self.l4t.jetpack})"
        else:
            jetson = f"not a Jetson ({self.machine}); the plan below assumes JetPack 6 on an Orin"
        memory = f"{self.mem_total / GIB:.1f} GiB" if self.mem_total else "unknown"
        version = ".".join(map(str, self.python_version)) if self.python_version else "missing"
        return [
            f"device: {jetson}; memory {memory}; {self.cpu_count} CPUs",
            f"system Python: {self.python} ({version}); the venv is made from it so TensorRT's bindings resolve",
            f"CUDA: {self.cuda_home} ({self.cuda_version or 'version unknown'}), nvcc "
            f"{'found' if self.nvcc_found else 'MISSING'} at {self.nvcc}",
            f"TensorRT Python bindings: {self.tensorrt or 'not found for this Python'}",
        ]


def detect_platform(root: Path = Path("/"), python: Path = Path("/usr/bin/python3")) -> Platform:
    cuda_home = root / "usr" / "local" / "cuda"
    return Platform(
        l4t=read_l4t_release(root),
        board=read_board_model(root),
        machine=os.uname().machine,
        python=python,
        python_version=_python_version(python),
        cuda_home=cuda_home,
        cuda_version=_cuda_version(cuda_home),
        nvcc=cuda_home / "bin" / "nvcc",
        tensorrt=_tensorrt_version(python) if read_l4t_release(root) is not None else None,
        mem_total=read_mem_total(root),
        cpu_count=os.cpu_count() or 1,
    )


def _python_version(python: Path) -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            [str(python), "-c", "import sys; print(sys.version_info[0], sys.version_info[1])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.split()
        return int(out[0]), int(out[1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def _cuda_version(cuda_home: Path) -> str | None:
    try:
        data = json.loads((cuda_home / "version.json").read_text())
        return str(data["cuda"]["version"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _tensorrt_version(python: Path) -> str | None:
    # Asks the system Python without importing tensorrt: find_spec plus the package metadata.
    script = (
        "import importlib.util, importlib.metadata as m\n"
        "if importlib.util.find_spec('tensorrt') is None: raise SystemExit(1)\n"
        "for d in ('tensorrt', 'tensorrt-cu12'):\n"
        "    try: print(m.version(d)); break\n"
        "    except m.PackageNotFoundError: pass\n"
        "else: print('present')\n"
    )
    try:
        result = subprocess.run([str(python), "-c", script], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


@dataclass(frozen=True)
class Step:
    title: str
    argv: tuple[str, ...]
    why: str = ""
    cwd: Path | None = None

    def shell(self) -> str:
        return shlex.join(self.argv)


def clean_env_argv(env: Mapping[str, str], argv: Sequence[str]) -> tuple[str, ...]:
    """`env -i K=V ... argv`: the command runs with exactly `env`, whatever the caller's environment."""
    return ("env", "-i", *(f"{key}={value}" for key, value in env.items()), *argv)


@dataclass(frozen=True)
class BuildOptions:
    venv: Path
    arch: str = ORIN_CUDA_ARCH
    jobs: int = 2
    home: str = "/root"
    passthrough: Mapping[str, str] = field(default_factory=dict)
    repo: Path = REPO_ROOT
    extras: str = "jetson"


def default_jobs(platform: Platform) -> int:
    """Parallel compile jobs: nvcc on ggml's CUDA kernels needs up to ~2 GB per job (8 GB Nano: 3)."""
    by_memory = max(1, int((platform.mem_total or 4 * GIB) / GIB) // 2)
    return max(1, min(platform.cpu_count, by_memory))


def base_build_env(platform: Platform, options: BuildOptions) -> dict[str, str]:
    nvcc = str(platform.nvcc) if platform.nvcc_found else "/usr/local/cuda/bin/nvcc"
    env = {"PATH": CLEAN_PATH, "HOME": options.home, "LANG": "C.UTF-8", "CUDACXX": nvcc}
    env["CMAKE_BUILD_PARALLEL_LEVEL"] = str(options.jobs)
    env.update(options.passthrough)
    return env


def whisper_env(platform: Platform, options: BuildOptions) -> dict[str, str]:
    """pywhispercpp passes each variable to CMake as -D<NAME>=<value>."""
    env = base_build_env(platform, options)
    env.update(
        {
            "GGML_CUDA": "1",
            "CMAKE_CUDA_ARCHITECTURES": options.arch,
            "GGML_NATIVE": "OFF",
            "GGML_CPU_ARM_ARCH": ORIN_CPU_ARCH,
        }
    )
    return env


def llama_env(platform: Platform, options: BuildOptions) -> dict[str, str]:
    """llama-cpp-python's build (scikit-build-core) reads CMake options from CMAKE_ARGS."""
    env = base_build_env(platform, options)
    cmake_args = [
        "-DGGML_CUDA=on",
        f"-DCMAKE_CUDA_ARCHITECTURES={options.arch}",
        "-DGGML_NATIVE=OFF",
        f"-DGGML_CPU_ARM_ARCH={ORIN_CPU_ARCH}",
        f"-DCMAKE_CUDA_COMPILER={env['CUDACXX']}",
    ]
    env.update({"CMAKE_ARGS": " ".join(cmake_args), "FORCE_CMAKE": "1"})
    return env


def build_plan(platform: Platform, options: BuildOptions) -> list[Step]:
    venv_python = str(options.venv / "bin" / "python")
    pip_source_build = (venv_python, "-m", "pip", "install", "--verbose", "--no-cache-dir", "--force-reinstall")
    return [
        Step(
            "create the venv from the system Python",
            (str(platform.python), "-m", "venv", "--system-site-packages", "--upgrade-deps", str(options.venv)),
            why="--system-site-packages: JetPack installs TensorRT's bindings for the system Python only",
        ),
        Step(
            f"build pywhispercpp {PYWHISPERCPP_VERSION} (whisper.cpp) with CUDA for sm_{options.arch}",
            clean_env_argv(
                whisper_env(platform, options),
                (
                    *pip_source_build,
                    "--no-deps",
                    "--no-binary",
                    "pywhispercpp",
                    f"pywhispercpp=={PYWHISPERCPP_VERSION}",
                ),
            ),
            why="from source (--no-binary): the published wheels are CPU-only",
        ),
        Step(
            f"build llama-cpp-python {LLAMA_CPP_PYTHON_VERSION} (llama.cpp) with CUDA for sm_{options.arch}",
            clean_env_argv(
                llama_env(platform, options),
                (
                    *pip_source_build,
                    "--no-deps",
                    "--no-binary",
                    "llama-cpp-python",
                    f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}",
                ),
            ),
            why="the same pinned version as pyproject.toml, so the next step keeps this build",
        ),
        Step(
            "install the box and its remaining dependencies",
            (venv_python, "-m", "pip", "install", "--editable", f"{options.repo}[{options.extras}]"),
            why="the CUDA builds above already satisfy the pins, so pip keeps them",
        ),
        Step(
            "check both libraries were built with CUDA for this GPU",
            (venv_python, "-m", "edge.ops.native_build", "check", "--arch", options.arch),
            cwd=options.repo,
        ),
    ]


# --- smoke checks: what the libraries themselves report -------------------------------------------


@dataclass(frozen=True)
class Verdict:
    ok: bool
    detail: str


def system_info_verdict(library: str, info: str, arch: str = ORIN_CUDA_ARCH) -> Verdict:
    """From a ggml library's system info ("... CUDA : ARCHS = 870 | ..."): built with CUDA for `arch`?"""
    match = re.search(r"CUDA\s*:\s*ARCHS\s*=\s*([0-9,]+)", info)
    if match is None:
        return Verdict(False, f"{library} was built without CUDA (its system info lists no CUDA backend)")
    archs = match.group(1).split(",")
    if f"{arch}0" not in archs and arch not in archs:
        return Verdict(False, f"{library} was built with CUDA for {','.join(archs)}, not sm_{arch}")
    return Verdict(True, f"{library}: CUDA backend compiled for {','.join(archs)}")


def whisper_load_verdict(log: str) -> Verdict:
    """From whisper.cpp's model-load log: did it pick a CUDA backend?"""
    match = re.search(r"whisper_backend_init_gpu: using (CUDA\d*) backend", log)
    if match:
        return Verdict(True, f"whisper.cpp uses the {match.group(1)} backend")
    if "no GPU found" in log:
        return Verdict(False, "whisper.cpp found no GPU and runs on the CPU")
    if re.search(r"use gpu\s*=\s*0", log):
        return Verdict(False, "whisper.cpp was told not to use the GPU (use_gpu = 0)")
    return Verdict(False, "whisper.cpp's load log does not show a GPU backend")


def llama_load_verdict(log: str) -> Verdict:
    """From llama.cpp's load log: were all layers offloaded to a CUDA device?"""
    device = re.search(r"Device 0: (.+?), compute capability (\d+\.\d+)", log)
    offload = re.search(r"offloaded (\d+)/(\d+) layers to GPU", log)
    if offload is None:
        return Verdict(False, "llama.cpp's load log shows no GPU offload (a CPU-only build?)")
    done, total = int(offload.group(1)), int(offload.group(2))
    where = f" on {device.group(1)} (compute capability {device.group(2)})" if device else ""
    if done == 0 or done < total:
        return Verdict(False, f"llama.cpp offloaded only {done}/{total} layers{where}; use n_gpu_layers=-1")
    return Verdict(True, f"llama.cpp offloaded {done}/{total} layers{where}")


def default_models(models_dir: Path) -> tuple[Path, Path]:
    """The detected board's default whisper and LLM files in `models_dir` (needs the venv: tomllib)."""
    from edge.ops.device_profiles import detect_profile
    from edge.ops.model_manifest import load_manifest

    profile = detect_profile()
    manifest = load_manifest()
    whisper = manifest.get(profile.default_asr).primary.filename
    llm = manifest.get(profile.default_llm).primary.filename
    return models_dir / whisper, models_dir / llm


def _run_smoke(venv: Path, script: str, *args: str) -> tuple[int, str]:
    python = venv / "bin" / "python"
    result = subprocess.run(
        [str(python), str(SMOKE_DIR / script), *args], capture_output=True, text=True, timeout=900
    )
    return result.returncode, result.stdout + result.stderr


def check_libraries(venv: Path, arch: str) -> list[Verdict]:
    verdicts = []
    for library, script in (("whisper.cpp", "smoke_whisper.py"), ("llama.cpp", "smoke_llama.py")):
        code, output = _run_smoke(venv, script)
        if code != 0:
            verdicts.append(Verdict(False, f"{library}: the check script failed: {output.strip()[-500:]}"))
        else:
            verdicts.append(system_info_verdict(library, output, arch))
    return verdicts


def smoke(venv: Path, whisper_model: Path | None, llm_model: Path | None) -> list[Verdict]:
    verdicts = []
    if whisper_model is not None:
        code, output = _run_smoke(venv, "smoke_whisper.py", str(whisper_model))
        verdicts.append(whisper_load_verdict(output) if code == 0 else Verdict(False, output.strip()[-500:]))
    if llm_model is not None:
        code, output = _run_smoke(venv, "smoke_llama.py", str(llm_model))
        verdicts.append(llama_load_verdict(output) if code == 0 else Verdict(False, output.strip()[-500:]))
    return verdicts


# --- command line ----------------------------------------------------------------------------------


def _home() -> str:
    try:
        return os.environ.get("HOME") or pwd.getpwuid(os.getuid()).pw_dir
    except KeyError:
        return "/root"


def _report(verdicts: list[Verdict]) -> int:
    for verdict in verdicts:
        print(f"{'OK  ' if verdict.ok else 'FAIL'} {verdict.detail}")
    return 0 if verdicts and all(v.ok for v in verdicts) else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m edge.ops.native_build", description=__doc__.split("\n")[0])
    parser.add_argument("action", nargs="?", default="build", choices=("build", "check", "smoke"))
    parser.add_argument("--dry-run", action="store_true", help="Print every command and flag; run nothing.")
    parser.add_argument("--venv", type=Path, default=REPO_ROOT / ".venv", help="Virtual environment to create.")
    parser.add_argument("--python", type=Path, default=Path("/usr/bin/python3"), help="JetPack's system Python.")
    parser.add_argument("--arch", default=ORIN_CUDA_ARCH, help="CUDA architecture (87 = Orin).")
    parser.add_argument("--jobs", type=int, default=None, help="Parallel compile jobs (default: by memory).")
    parser.add_argument("--root", type=Path, default=Path("/"), help=argparse.SUPPRESS)
    parser.add_argument("--whisper-model", type=Path, default=None, help="smoke: a whisper ggml model to load.")
    parser.add_argument("--llm-model", type=Path, default=None, help="smoke: a GGUF model to load.")
    parser.add_argument(
        "--models-dir", type=Path, default=None, help="smoke: use this board's default models from this directory."
    )
    args = parser.parse_args(argv)

    if args.action == "check":
        return _report(check_libraries(Path(sys.prefix), args.arch))
    if args.action == "smoke":
        if args.models_dir is not None and args.whisper_model is None and args.llm_model is None:
            args.whisper_model, args.llm_model = default_models(args.models_dir)
        if args.whisper_model is None and args.llm_model is None:
            print("smoke needs --whisper-model and/or --llm-model (`edge models fetch` them)", file=sys.stderr)
            return 2
        return _report(smoke(args.venv, args.whisper_model, args.llm_model))

    platform = detect_platform(args.root, args.python)
    options = BuildOptions(
        venv=args.venv.absolute(),
        arch=args.arch,
        jobs=args.jobs or default_jobs(platform),
        home=_home(),
        passthrough={name: os.environ[name] for name in NETWORK_VARIABLES if name in os.environ},
    )
    for line in platform.describe():
        print(f"# {line}")
    problems = platform.problems()
    if args.dry_run:
        for problem in problems:
            print(f"# would stop here: {problem}")
    elif problems:
        for problem in problems:
            print(f"native build: {problem}", file=sys.stderr)
        return 2
    steps = build_plan(platform, options)
    for number, step in enumerate(steps, 1):
        print(f"\n# {number}/{len(steps)} {step.title}" + (f"  ({step.why})" if step.why else ""))
        print(step.shell())
        if not args.dry_run:
            sys.stdout.flush()
            result = subprocess.run(list(step.argv), cwd=step.cwd)
            if result.returncode != 0:
                print(f"native build: step {number} failed with exit code {result.returncode}", file=sys.stderr)
                return result.returncode
    if not args.dry_run:
        print("\nnative build done; after `make models`, prove GPU offload with `make smoke`")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
