"""File jobs yield to the live meeting and can be followed and cancelled (issue 17, finding 1), and `edge
transcribe` shows transcription, not reading (finding 14): the API over the fake box for its answers and
auth, the real box (Whisper base through whisper.cpp) for progress that follows decoding and a cancel
that keeps what was committed and frees the speech recognizer."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fake_box import API_TOKEN, AUTH, FakeBox, serving
from mosquitto import wait_until

from edge.api.app import create_app
from edge.api.server import ApiServer
from edge.app import Box
from edge.audio.files import write_wav
from edge.core.config import ApiConfig, Config
from edge.core.events import Utterance
from edge.ops.synth.meeting_audio import build_meeting
from edge.pipeline.file_jobs import CANCELLED

WAIT_S = 300  # an upper bound for a stuck job, not a performance expectation
# English speech clips joined into a file a little over a minute long.
CLIPS = ("audio/jfk.wav", "audio/leopard/test.wav") * 4
# A segment ends where whisper hears the words end, its utterance where the VAD's padding ends.
PADDING_MS = 2000
MAX_BACKGROUND_UTTERANCE_S = 10.5  # a file's utterance: at most ten seconds, and the VAD's padding


@pytest.fixture(scope="module")
def long_file(tmp_path_factory: pytest.TempPathFactory, fixture_file: Callable[[str], Path]) -> Path:
    meeting = build_meeting([fixture_file(clip) for clip in CLIPS], seed=17)
    assert meeting.duration_s > 60
    return write_wav(tmp_path_factory.mktemp("jobs") / "weekly-sync.wav", meeting.audio)


def real_config(tmp_path: Path, fixture_file: Callable[[str], Path], dev_model: Callable[[str], Path]) -> Config:
    return Config.model_validate({
        "storage": {"path": str(tmp_path / "data")}, "api": {"enabled": False}, "mqtt": {"enabled": False},
        "asr": {"model_path": str(dev_model("ggml-base.bin")), "threads": 2, "language": "en"},
        "vad": {"model_path": str(fixture_file("models/silero_vad_v6.2.onnx"))},
    })  # fmt: skip


def test_jobs_and_cancel_need_the_token(server: ApiServer, box: FakeBox) -> None:
    meeting = box.store.create_meeting(
        language="ko", source="file:주간회의.wav", title="주간 회의", status="processing"
    )
    with httpx.Client(base_url=server.url + "/api/v1", timeout=10) as anonymous:
        assert anonymous.get("/jobs").status_code == 401
        assert anonymous.post(f"/jobs/{meeting.id}/cancel").status_code == 401
        wrong = {"Authorization": "Bearer wrong"}
        assert anonymous.post(f"/jobs/{meeting.id}/cancel", headers=wrong).status_code == 401
    assert box.store.meeting(meeting.id).status == "processing"


def test_a_job_is_listed_with_its_progress_and_cancelled_once(client: httpx.Client, box: FakeBox) -> None:
    response = client.post("/transcribe", files={"file": ("주간회의.wav", _tiny_wav(), "audio/wav")},
                           data={"title": "주간 회의"})  # fmt: skip
    assert response.status_code == 202, response.text
    meeting_id = response.json()["meeting"]["id"]
    box.set_job_progress(meeting_id, decoded_s=30.0, duration_s=120.0)
    assert client.get("/jobs").json() == {"items": [{
        "meeting_id": meeting_id, "title": "주간 회의", "state": "running", "duration_s": 120.0, "decoded_s": 30.0,
        "progress": 0.25,
    }]}  # fmt: skip
    cancelled = client.post(f"/jobs/{meeting_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["status"], cancelled.json()["error"]) == ("failed", CANCELLED)
    again = client.post(f"/jobs/{meeting_id}/cancel")
    assert again.status_code == 409 and "not being transcribed" in again.json()["detail"]
    assert client.post("/jobs/no-such-meeting/cancel").status_code == 404
    assert client.get("/jobs").json() == {"items": []}


def test_edge_jobs_lists_and_cancels_through_the_running_box(
    box: FakeBox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from edge.commands.cli import main

    upload = tmp_path / "주간회의.wav"
    upload.write_bytes(_tiny_wav())
    meeting = box.submit_file(upload, title="주간 회의")
    box.set_job_progress(meeting.id, decoded_s=45.0, duration_s=180.0)
    token_file = tmp_path / "api-token"
    token_file.write_text(API_TOKEN + "\n")
    with serving(box, API_TOKEN) as server:
        config = tmp_path / "edge.toml"
        config.write_text(f'[api]\nport = {server.port}\ntoken_file = "{token_file}"\n')
        assert main(["jobs", "list", "--config", str(config)]) == 0
        assert capsys.readouterr().out == f"{meeting.id}\trunning\t25%\t45/180 s\t주간 회의\n"
        assert main(["jobs", "cancel", meeting.id, "--config", str(config)]) == 0
        assert capsys.readouterr().out.startswith(f"{meeting.id}\tfailed\t{CANCELLED}\t0 segments\t")
        assert main(["jobs", "cancel", meeting.id, "--config", str(config)]) != 0
        assert "the box refused" in capsys.readouterr().err
        assert main(["jobs", "cancel", "--config", str(config)]) != 0
        assert "needs the job's meeting id" in capsys.readouterr().err
        assert main(["jobs", "list", "--config", str(config)]) == 0 and capsys.readouterr().out == ""
    assert box.store.meeting(meeting.id).status == "failed"


def _tiny_wav() -> bytes:
    import io

    import numpy as np
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(16000, dtype=np.float32), 16000, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def test_the_real_box_reports_decoded_progress_and_a_cancel_keeps_what_was_committed(
    tmp_path: Path, long_file: Path, fixture_file: Callable[[str], Path], dev_model: Callable[[str], Path]
) -> None:
    box = Box(real_config(tmp_path, fixture_file, dev_model))
    box.open()
    server = ApiServer(create_app(box, ApiConfig(), API_TOKEN), "127.0.0.1", 0)
    server.start()
    try:
        with httpx.Client(base_url=server.url + "/api/v1", headers=AUTH, timeout=WAIT_S) as client:
            with long_file.open("rb") as audio:
                response = client.post("/transcribe", files={"file": ("weekly-sync.wav", audio, "audio/wav")})
            assert response.status_code == 202, response.text
            meeting_id = response.json()["meeting"]["id"]
            job = _first_decoded(client)
            segments = client.get(f"/meetings/{meeting_id}/segments").json()["items"]
            # What the job calls decoded is committed: reading runs ahead, progress does not.
            assert job["state"] == "running" and 0 < job["progress"] < 1, job
            assert job["duration_s"] == pytest.approx(sf_duration(long_file), abs=0.1)
            committed_ms = max((s["t1_ms"] for s in segments), default=0)
            assert committed_ms >= job["decoded_s"] * 1000 - PADDING_MS, (job, segments)
            cancelled = client.post(f"/jobs/{meeting_id}/cancel")
            assert cancelled.status_code == 200, cancelled.text
            meeting = cancelled.json()
            assert (meeting["status"], meeting["error"]) == ("failed", CANCELLED)
            assert meeting["segment_count"] >= len(segments)
            assert client.get("/jobs").json() == {"items": []}
            kept = client.get(f"/meetings/{meeting_id}/segments").json()["items"]
            assert len(kept) == meeting["segment_count"]
            assert "fellow americans" in " ".join(s["text"] for s in kept).lower()
        uploads = box.store.path.parent / "uploads"
        assert not any(uploads.iterdir())
        assert box.asr.pending() == 0 and box.asr.stats.dropped == 0
        assert box.state()["state"] == "idle"
        # The recognizer is free: the meeting after the cancel is transcribed in full.
        box.submit_file(_copy(fixture_file("audio/jfk.wav"), uploads / "again.wav"), title="again")
        assert wait_until(lambda: not box.jobs() and box.state()["state"] == "idle", WAIT_S)
    finally:
        server.stop()
        box.close()


def _first_decoded(client: httpx.Client) -> dict:
    """The running job as listed once some of its audio is decoded."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        jobs = client.get("/jobs").json()["items"]
        if jobs and jobs[0]["decoded_s"] > 0:
            return jobs[0]
        time.sleep(0.2)
    raise AssertionError("no progress")


def sf_duration(path: Path) -> float:
    import soundfile as sf

    return sf.info(str(path)).duration


def _copy(source: Path, target: Path) -> Path:
    target.write_bytes(source.read_bytes())
    return target


def test_edge_transcribe_shows_how_much_is_decoded_not_read(
    tmp_path: Path, long_file: Path, fixture_file: Callable[[str], Path], dev_model: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Finding 14: a 131 s file sat at 76% for 55 s, the share read; each figure shown must now be audio
    whose every utterance was committed when it was shown."""
    from edge.commands import transcribe

    commits: list[tuple[float, int]] = []  # (when, utterance end) of each final committed
    shown: list[tuple[float, float]] = []  # (when, position) of each progress figure
    opened = Box.open

    def open_and_watch(box: Box) -> None:
        box.add_final_hook(lambda utt: commits.append((time.monotonic(), _end_ms(utt))))
        opened(box)

    monkeypatch.setattr(Box, "open", open_and_watch)
    monkeypatch.setattr(transcribe, "_show_progress", lambda position_s, duration_s: shown.append(
        (time.monotonic(), position_s)))
    segments, _ = transcribe.transcribe_file(real_config(tmp_path, fixture_file, dev_model), long_file)
    assert segments and len(commits) >= 8
    duration_s = sf_duration(long_file)
    assert len(shown) >= 3 and shown[-1][1] == pytest.approx(duration_s)
    positions = [position for _, position in shown]
    assert positions == sorted(positions)
    for when, position in shown[:-1]:
        late = [end for committed, end in commits if end <= position * 1000 and committed > when]
        assert not late, f"{position:.1f} s shown before utterances ending at {late} ms were committed"


def _end_ms(utterance: Utterance) -> int:
    return utterance.end_ms


@pytest.mark.browser
def test_the_page_shows_a_jobs_progress_and_cancels_it(driver, box: FakeBox, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, 20)  # an upper bound for the page to react, not a performance expectation
    upload = tmp_path / "주간회의.wav"
    upload.write_bytes(_tiny_wav())
    meeting = box.submit_file(upload, title="주간 인프라 회의 녹음")
    box.set_job_progress(meeting.id, decoded_s=30.0, duration_s=120.0)
    with serving(box, API_TOKEN) as server:
        driver.get(server.url + "/#meetings")
        wait.until(ec.visibility_of_element_located((By.ID, "token-input"))).send_keys(API_TOKEN, Keys.ENTER)
        wait.until(ec.text_to_be_present_in_element((By.ID, "meetings-list"), meeting.title))
        driver.find_element(By.XPATH, "//ul[@id='meetings-list']//button[contains(., '주간 인프라 회의 녹음')]").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "job-label"), "전사 중 25% (30/120초)"))
        assert driver.find_element(By.ID, "job-progress").get_attribute("value") == "0.25"
        box.set_job_progress(meeting.id, decoded_s=90.0, duration_s=120.0)  # the page follows it
        wait.until(ec.text_to_be_present_in_element((By.ID, "job-label"), "전사 중 75% (90/120초)"))
        button = driver.find_element(By.ID, "job-cancel")
        assert button.text == "전사 취소"
        button.click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "detail-meta"), "사용자가 취소함"))
        assert not driver.find_element(By.ID, "job-row").is_displayed()
        assert driver.find_element(By.ID, "detail-error").text == ""
    assert box.jobs() == [] and box.store.meeting(meeting.id).status == "failed"


class _FeedRecorder:
    """Stands in for the ASR feed in a unit test of FileJobs: records what the job hands over."""

    def __init__(self) -> None:
        self.submitted: list[tuple[Utterance, bool]] = []
        self.closed: list[str] = []

    def submit(self, utterance: Utterance, background: bool = False) -> None:
        self.submitted.append((utterance, background))

    def close_meeting(self, meeting_id: str) -> None:
        self.closed.append(meeting_id)

    def decoded_ms(self, meeting_id: str, heard_ms: int, hearing_speech: bool) -> int:
        return 0

    def cancel(self, meeting_id: str) -> None: ...


def test_a_file_job_hands_its_speech_over_as_short_background_utterances(
    tmp_path: Path, fixture_file: Callable[[str], Path], dev_model: Callable[[str], Path]
) -> None:
    """Behind one of a file's utterances a live final waits for the whole decode: they are kept short."""
    from edge.pipeline.file_jobs import FileJobs
    from edge.store import Store

    cfg = real_config(tmp_path, fixture_file, dev_model)
    cfg.vad.min_silence_ms = 3000  # a speaker's pauses do not end the utterance: only its length does
    assert cfg.vad.max_segment_s > MAX_BACKGROUND_UTTERANCE_S
    store = Store(cfg.database_path)
    feed = _FeedRecorder()
    ended: list[str] = []
    jobs = FileJobs(cfg, store, feed, then=ended.append, after=lambda: None)  # type: ignore[arg-type]
    jobs.start()
    try:
        clips = [fixture_file(clip) for clip in ("audio/leopard/diarization_test.wav", "audio/jfk.wav")] * 2
        upload = write_wav(tmp_path / "uploads" / "long-speech.wav", build_meeting(clips, seed=3).audio)
        meeting = jobs.submit(upload, title="긴 발화")
        assert wait_until(lambda: ended == [meeting.id], WAIT_S)
    finally:
        jobs.close()
        store.close()
    lengths_s = [(utt.end_ms - utt.start_ms) / 1000 for utt, _ in feed.submitted]
    assert len(lengths_s) >= 3 and all(background for _, background in feed.submitted)
    assert max(lengths_s) <= MAX_BACKGROUND_UTTERANCE_S, lengths_s
    assert sum(lengths_s) > 40  # the speech is all there, in pieces
