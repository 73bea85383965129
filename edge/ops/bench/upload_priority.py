"""The live meeting during a large upload (issue 17, finding 1): the box records a meeting replayed in
real time twice, once alone and once while a ~100 MB WAV uploaded through its API is being transcribed,
and compares live drops and end-of-speech -> commit latency. The goal: no live drop, and latency within
1.5x of the run without the upload. The upload's progress (audio decoded) shows what it got meanwhile:
it yields to the room, so in a busy one it may get little.

The upload is made of the fixtures' speech clips joined with pauses (a different seed for each pass),
written a pass at a time so its 50-odd minutes never sit in memory at once.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from edge.core.config import Config
from edge.core.events import SAMPLE_RATE, Utterance

LATENCY_RATIO_GOAL = 1.5
PCM16_BYTES_PER_S = SAMPLE_RATE * 2
JOBS_POLL_S = 5.0
WAIT_S = 600.0  # upper bound for the upload to start being transcribed


def write_speech_file(clips: Sequence[Path], path: Path, *, seconds: float, seed: int) -> float:
    """A 16 kHz mono 16-bit WAV of whole passes over the clips joined with pauses (each pass with its own
    seed), at least `seconds` long: never cut inside a clip, whose half word whisper may loop on. Returns
    its duration."""
    from edge.audio.files import wav_writer
    from edge.ops.synth.meeting_audio import build_meeting

    written = 0
    with wav_writer(path) as write:
        for number in range(10_000):
            audio = build_meeting(clips, seed=seed + number).audio
            write(audio)
            written += len(audio)
            if written >= seconds * SAMPLE_RATE:
                break
    return written / SAMPLE_RATE


def bench_upload_priority(
    base: Config, clips: Sequence[Path], workdir: Path, *, threads: int, live_s: float, upload_mb: float,
    progress: Callable[[str], None],
) -> dict:
    live_wav = workdir / "live-meeting.wav"
    live_audio_s = write_speech_file(clips, live_wav, seconds=live_s, seed=1)
    upload_wav = workdir / "upload.wav"
    upload_audio_s = write_speech_file(clips, upload_wav, seconds=upload_mb * 1_000_000 / PCM16_BYTES_PER_S, seed=100)
    size = upload_wav.stat().st_size
    progress(f"upload priority: live meeting {live_audio_s:.0f} s alone")
    alone = _live_run(base, live_wav, workdir / "alone", threads=threads, upload=None, progress=progress)
    progress(f"upload priority: the same live meeting while a {size / 1e6:.0f} MB upload ({upload_audio_s / 60:.0f} "
             "min) is transcribed")
    during = _live_run(base, live_wav, workdir / "during", threads=threads, upload=upload_wav, progress=progress)
    ratio = {
        q: round(during["latency_s"][q] / alone["latency_s"][q], 3)
        if during["latency_s"][q] and alone["latency_s"][q] else None
        for q in ("p50", "p95")
    }
    return {
        "threads": threads,
        "live_audio_s": round(live_audio_s, 1),
        "upload": {"bytes": size, "audio_s": round(upload_audio_s, 1)},
        "alone": alone,
        "during_upload": during,
        "latency_ratio": ratio,
        "goal": f"0 live drops during the upload; latency ratio <= {LATENCY_RATIO_GOAL}",
        "measured": "end of speech in the replayed file -> commit, live meeting's utterances only",
        "machine_note": "shared machine: a load average above its cores in either run makes the ratio noise",
    }


def _live_run(base: Config, live_wav: Path, storage: Path, *, threads: int, upload: Path | None,
              progress: Callable[[str], None]) -> dict:
    import httpx

    from edge.api.app import create_app
    from edge.api.server import ApiServer
    from edge.app import Box
    from edge.ops.bench.asr import percentile

    cfg = base.model_copy(deep=True)
    cfg.device.id = "bench"
    cfg.asr.threads = threads
    cfg.mqtt.enabled = False
    cfg.api.enabled = False  # served below, as `edge run` does
    cfg.storage.path = storage
    cfg.audio.source = f"file:{live_wav}"
    cfg.audio.realtime = True
    commits: list[tuple[Utterance, float]] = []
    box = Box(cfg)
    box.add_final_hook(lambda utterance: commits.append((utterance, time.monotonic())))
    box.open()
    token = secrets.token_hex(16)
    server = ApiServer(create_app(box, cfg.api, token), "127.0.0.1", 0)
    server.start()
    samples: list[dict] = []
    job_id = None
    result: dict = {"load_average_before": _load()}
    try:
        with httpx.Client(base_url=f"{server.url}/api/v1", headers={"Authorization": f"Bearer {token}"},
                          timeout=WAIT_S) as client:
            if upload is not None:
                sent = time.monotonic()
                with upload.open("rb") as body:
                    answer = client.post("/transcribe", files={"file": (upload.name, body, "audio/wav")})
                answer.raise_for_status()
                job_id = answer.json()["meeting"]["id"]
                result["upload_accepted_s"] = round(time.monotonic() - sent, 2)
                _wait_for_decoding(client)
            started = time.monotonic()
            meeting = box.start_meeting(title="bench")
            recording = box.recording
            assert recording is not None
            while not recording.wait_source_done(JOBS_POLL_S):
                if job_id is not None:
                    samples.append(_job_sample(client, started))
            health = box.health()
            result["load_average_at_end"] = _load()
            box.stop_meeting()
            result["live_wall_s"] = round(time.monotonic() - started, 1)
            if job_id is not None:
                last = _job_sample(client, started)
                samples.append(last)
                result["upload_in_progress_throughout"] = all(s["state"] == "running" for s in samples)
                result["upload_progress_at_end"] = {k: last[k] for k in ("decoded_s", "progress")}
                cancelled_at = time.monotonic()
                cancel = client.post(f"/jobs/{job_id}/cancel")
                cancel.raise_for_status()
                result["upload_cancel"] = {
                    "answered_s": round(time.monotonic() - cancelled_at, 2),
                    "status": cancel.json()["status"], "error": cancel.json()["error"],
                    "segments_kept": cancel.json()["segment_count"],
                    "uploads_left": len(list((storage / "uploads").iterdir())),
                }  # fmt: skip
    finally:
        server.stop()
        box.close()
    latencies = [committed - (started + (utt.speech_end_ms or utt.end_ms) / 1000)
                 for utt, committed in commits if utt.meeting_id == meeting.id]  # fmt: skip
    asr = health["asr"]
    progress(f"upload priority: {len(latencies)} live utterances, p50 {percentile(latencies, 50):.2f} s, "
             f"p95 {percentile(latencies, 95):.2f} s, live drops {asr['live_dropped']}")
    return {
        "live_utterances": len(latencies),
        "live_drops": asr["live_dropped"],
        "asr_dropped": asr["dropped"],
        "capture_drops": health["drops"],
        "latency_s": {
            "p50": _rounded(percentile(latencies, 50)),
            "p95": _rounded(percentile(latencies, 95)),
            "max": _rounded(max(latencies, default=None)),
        },
        **result,
        "upload_samples": samples,
    }


def _wait_for_decoding(client) -> None:
    """Until the upload's first utterances are through ASR: from then on it competes for the processor."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        jobs = client.get("/jobs").json()["items"]
        if jobs and jobs[0]["decoded_s"] > 0:
            return
        time.sleep(0.2)
    raise TimeoutError("the upload was not being transcribed")


def _job_sample(client, started: float) -> dict:
    jobs = client.get("/jobs").json()["items"]
    job = jobs[0] if jobs else {"state": "gone", "decoded_s": None, "progress": None}
    return {"t_s": round(time.monotonic() - started, 1), "state": job["state"], "decoded_s": job["decoded_s"],
            "progress": job["progress"]}


def _load() -> list[float]:
    """The machine's 1, 5 and 15 minute load averages: on a shared machine, how busy the others kept it."""
    return [round(value, 2) for value in os.getloadavg()]


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def upload_rows(figures: dict) -> list[tuple[str, object, str]]:
    """The table's rows for these figures."""
    alone, during = figures["alone"], figures["during_upload"]
    ratio = figures["latency_ratio"]
    end = during.get("upload_progress_at_end") or {}
    share = end.get("progress")
    return [
        ("live drops alone / during upload", f"{alone['live_drops']} / {during['live_drops']}", "goal 0 during"),
        ("live p50 / p95 s alone", f"{alone['latency_s']['p50']} / {alone['latency_s']['p95']}",
         f"{alone['live_utterances']} utterances"),
        ("live p50 / p95 s during upload", f"{during['latency_s']['p50']} / {during['latency_s']['p95']}",
         f"ratio {ratio['p50']} / {ratio['p95']}, goal <= {LATENCY_RATIO_GOAL}"),
        ("upload decoded during the live meeting", end.get("decoded_s"),
         f"s of {figures['upload']['audio_s']} s ({'-' if share is None else f'{100 * share:.1f}%'}), "
         f"{figures['upload']['bytes'] / 1e6:.0f} MB"),
    ]

