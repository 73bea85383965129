"""Hardware profiles for the memory budget, and detection of the Jetson the box runs on.

Stdlib only: `edge.ops.native_build` runs this with JetPack's system Python before any venv exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType

GIB = 1024**3
MIB = 1024**2

PROFILE_NAMES = ("orin-nano-8gb", "orin-nx-16gb", "agx-orin-32gb", "agx-orin-64gb", "generic")


@dataclass(frozen=True)
class DeviceProfile:
    """What the memory budget may spend on one kind of board, and the models that fit it."""

    name: str
    description: str
    memory_bytes: int
    """Memory the kernel reports (MemTotal); CPU and GPU share it on a Jetson."""
    os_reserve_bytes: int
    """Kernel, JetPack services and the rest of a headless system."""
    default_asr: str
    """Manifest name of the whisper model that fits with headroom."""
    default_llm: str
    default_n_ctx: int
    gpu: bool = True
    headroom: float = 0.10
    """Share of the box's memory that must stay free after the estimate (fragmentation, leaks, growth)."""

    @property
    def available_bytes(self) -> int:
        return self.memory_bytes - self.os_reserve_bytes


# MemTotal values are what JetPack 6 reports on each module (less than the nominal size: carve-outs).
PROFILES: MappingProxyType[str, DeviceProfile] = MappingProxyType(
    {
        "orin-nano-8gb": DeviceProfile(
            name="orin-nano-8gb",
            description="Jetson Orin Nano 8 GB (also Orin NX 8 GB)",
            memory_bytes=7_650_336 * 1024,
            os_reserve_bytes=1 * GIB,
            default_asr="whisper-small-q5_1",
            default_llm="qwen2.5-1.5b-instruct-q4_k_m",
            default_n_ctx=4096,
        ),
        "orin-nx-16gb": DeviceProfile(
            name="orin-nx-16gb",
            description="Jetson Orin NX 16 GB",
            memory_bytes=15_660 * MIB,
            os_reserve_bytes=1 * GIB,
            default_asr="whisper-large-v3-turbo-q5_0",
            default_llm="qwen2.5-7b-instruct-q4_k_m",
            default_n_ctx=8192,
        ),
        "agx-orin-32gb": DeviceProfile(
            name="agx-orin-32gb",
            description="Jetson AGX Orin 32 GB",
            memory_bytes=31_300 * MIB,
            os_reserve_bytes=3 * GIB // 2,
            default_asr="whisper-large-v3-turbo",
            default_llm="qwen2.5-7b-instruct-q4_k_m",
            default_n_ctx=16384,
        ),
        "agx-orin-64gb": DeviceProfile(
            name="agx-orin-64gb",
            description="Jetson AGX Orin 64 GB",
            memory_bytes=62_800 * MIB,
            os_reserve_bytes=3 * GIB // 2,
            default_asr="whisper-large-v3",
            default_llm="qwen2.5-7b-instruct-q4_k_m",
            default_n_ctx=32768,
        ),
    }
)


def generic_profile(memory_bytes: int) -> DeviceProfile:
    """A development machine or an unknown board: the budget uses the memory this machine has."""
    return DeviceProfile(
        name="generic",
        description="generic machine (memory read from /proc/meminfo)",
        memory_bytes=memory_bytes,
        os_reserve_bytes=2 * GIB,
        default_asr="whisper-small-q5_1",
        default_llm="qwen2.5-1.5b-instruct-q4_k_m",
        default_n_ctx=4096,
        gpu=False,
    )


@dataclass(frozen=True)
class L4tRelease:
    """The Linux for Tegra release from /etc/nv_tegra_release, e.g. R36 revision 4.3 -> 36.4.3."""

    major: int
    minor: int
    patch: int

    @property
    def version(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    @property
    def jetpack(self) -> str:
        known = {(36, 2): "6.0 DP", (36, 3): "6.0", (36, 4): "6.1"}
        if (self.major, self.minor) == (36, 4) and self.patch >= 3:
            return "6.2.1" if self.patch >= 4 else "6.2"
        if (self.major, self.minor) in known:
            return known[(self.major, self.minor)]
        if self.major == 36:
            return "6.x"
        if self.major == 35:
            return "5.1.x"
        return "unknown"

    @property
    def supported(self) -> bool:
        """JetPack 6 (L4T R36) ships Python 3.10, CUDA 12 and TensorRT 8.6/10; JetPack 5 has Python 3.8."""
        return self.major >= 36


_RELEASE = re.compile(r"#\s*R(\d+)\s*\(release\),\s*REVISION:\s*(\d+)(?:\.(\d+))?")


def parse_l4t_release(text: str) -> L4tRelease | None:
    match = _RELEASE.search(text)
    if match is None:
        return None
    return L4tRelease(int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))


def read_l4t_release(root: Path = Path("/")) -> L4tRelease | None:
    path = root / "etc" / "nv_tegra_release"
    try:
        return parse_l4t_release(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return None


def read_board_model(root: Path = Path("/")) -> str | None:
    """The board name from the device tree, e.g. "NVIDIA Jetson Orin Nano Developer Kit"."""
    try:
        raw = (root / "proc" / "device-tree" / "model").read_bytes()
    except OSError:
        return None
    return raw.rstrip(b"\x00\n").decode("utf-8", errors="replace").strip() or None


def read_mem_total(root: Path = Path("/")) -> int | None:
    try:
        text = (root / "proc" / "meminfo").read_text(encoding="utf-8")
    except OSError:
        return None
    match = re.search(r"^MemTotal:\s+(\d+)\s+kB", text, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None


def is_jetson(root: Path = Path("/")) -> bool:
    return (root / "etc" / "nv_tegra_release").is_file()


def detect_profile(root: Path = Path("/")) -> DeviceProfile:
    """The profile of the board at `root`; a machine that is not a known Orin gets the generic profile."""
    memory = read_mem_total(root) or 8 * GIB
    model = (read_board_model(root) or "").lower()
    name: str | None = None
    if "orin" in model or is_jetson(root):
        if "agx" in model:
            name = "agx-orin-64gb" if memory > 40 * GIB else "agx-orin-32gb"
        elif "nx" in model:
            name = "orin-nx-16gb" if memory > 10 * GIB else "orin-nano-8gb"
        elif "nano" in model and memory > 5 * GIB:
            name = "orin-nano-8gb"
        elif "orin" in model:
            name = _by_memory(memory)
    if name is None:
        return generic_profile(memory)
    # The budget uses what this board really reports, not the nominal figure of its profile.
    return replace(PROFILES[name], memory_bytes=memory)


def _by_memory(memory: int) -> str | None:
    if memory > 40 * GIB:
        return "agx-orin-64gb"
    if memory > 20 * GIB:
        return "agx-orin-32gb"
    if memory > 10 * GIB:
        return "orin-nx-16gb"
    if memory > 5 * GIB:
        return "orin-nano-8gb"
    return None


def resolve_profile(name: str, root: Path = Path("/")) -> DeviceProfile:
    """`device.profile` -> a profile: "auto" detects the board, "generic" uses this machine's memory."""
    if name == "auto":
        return detect_profile(root)
    if name == "generic":
        return generic_profile(read_mem_total(root) or 8 * GIB)
    try:
        return PROFILES[name]
    except KeyError:
        from edge.core.errors import ConfigError

        raise ConfigError(
            f"device.profile = {name!r} is not a known profile; use auto or one of {', '.join(PROFILE_NAMES)}"
        ) from None
