"""Speakers through the whole live box, with real parts only: `edge run` replays, in real time, a meeting of three
fixture voices taking turns (a composite made here: JFK, the Korean leopard reader, the LibriSpeech reader), with
the real Whisper base and the real speaker encoder, a real mosquitto and the admin page in headless Chromium.

A person starts the meeting in the Korean page, sees a speaker chip per line, names the second voice 이지은 in
the speakers panel while the meeting goes on; from then on her segments reach MQTT with "speaker": "이지은". When
the replay ends, the WebVTT export gives her lines as `<v 이지은>`. A member corrects one of her lines to a
promise (the fixtures hold none), and the extractive minutes make 이지은 its owner.

EDGE_SCREENSHOT_DIR keeps the screenshot and the subscriber's log of segment payloads.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import httpx
import pytest
from mosquitto import Subscriber

from edge.audio.files import decode_audio, write_wav
from edge.audio.vad import detect_speech, load_vad_model
from edge.core.config import VadConfig
from edge.ops.synth.speaker_meeting import build_speaker_meeting, phrases

pytestmark = [pytest.mark.slow, pytest.mark.browser]

VOICES = (("jfk", "audio/jfk.wav"), ("ko", "audio/leopard/test_ko.wav"), ("librispeech", "audio/leopard/test.wav"))
TURNS = 12
WAIT_S = 300  # an upper bound for the replay and the page, not a performance expectation
NAME = "이지은"
PROMISE = "제가 금요일까지 보고서 올리겠습니다"


def write_meeting(tmp_path: Path, fixture_file) -> tuple[Path, float]:
    vad_cfg = VadConfig(model_path=fixture_file("models/silero_vad_v6.2.onnx"), speech_pad_ms=0)
    model = load_vad_model(vad_cfg)
    voices = []
    for name, clip in VOICES:
        audio = decode_audio(fixture_file(clip))
        voices.append((name, phrases(audio, detect_speech(audio, vad_cfg, model))))
    meeting = build_speaker_meeting(voices, turns=TURNS, pause_s=(0.9, 1.6), seed=3)
    return write_wav(tmp_path / "speakers-meeting.wav", meeting.audio), meeting.duration_s


def write_config(box, *, audio: Path, vad_model: Path, whisper: Path, speaker_model: Path, mqtt_port: int) -> None:
    box.config.write_text(
        f"""
[device]
id = "speakers-real"
[audio]
source = "file:{audio}"
realtime = true
[vad]
model_path = "{vad_model}"
[asr]
model_path = "{whisper}"
languages = ["ko", "en"]
threads = 2
[meeting]
auto_start = false
[storage]
path = "{box.data}"
[api]
port = {box.port}
token_file = "{box.token_file}"
[mqtt]
enabled = true
port = {mqtt_port}
[speaker]
enabled = true
model_path = "{speaker_model}"
""",
        encoding="utf-8",
    )


def test_a_replayed_meeting_names_a_speaker_everywhere(driver, broker, fixture_file, dev_model, tmp_path, request):
    from box_process import BoxProcess
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    audio, duration_s = write_meeting(tmp_path, fixture_file)
    vad_model = fixture_file("models/silero_vad_v6.2.onnx")
    box = BoxProcess(tmp_path, device="speakers-real", vad_model=vad_model, whisper=dev_model("ggml-base.bin"),
                     mqtt_port=None)  # fmt: skip
    write_config(box, audio=audio, vad_model=vad_model, whisper=dev_model("ggml-base.bin"),
                 speaker_model=dev_model("speaker_resemblyzer.onnx"), mqtt_port=broker.port)  # fmt: skip
    subscriber = Subscriber(broker, ["edge/speakers-real/#"], client_id="speakers-log").start()
    request.addfinalizer(subscriber.stop)
    box.start()
    request.addfinalizer(box.kill)
    wait = WebDriverWait(driver, WAIT_S)

    def chips() -> list[list[str]]:
        return driver.execute_script(
            "return [...document.querySelectorAll('#detail-segments li')].map((li) => {"
            " const chip = li.querySelector('.speaker');"
            " return [li.dataset.seq, chip ? chip.dataset.speaker : '', chip ? chip.textContent : ''] })"
        )

    def open_first_meeting() -> None:
        # The list is replaced when the meeting starts or ends: a row found just before may be gone.
        def click(_: object) -> bool:
            driver.find_element(By.CSS_SELECTOR, "#meetings-list button.meeting").click()
            return True

        WebDriverWait(driver, WAIT_S, ignored_exceptions=[StaleElementReferenceException]).until(click)

    driver.get(f"http://127.0.0.1:{box.port}/")
    wait.until(ec.visibility_of_element_located((By.ID, "token-input"))).send_keys(box.token_file.read_text().strip())
    driver.find_element(By.ID, "login-button").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "live-connection"), "연결됨"))
    driver.find_element(By.ID, "meeting-title-input").send_keys("화자 구분 회의 (실제 모델)")
    driver.find_element(By.ID, "start-button").click()
    with box.client() as api:
        wait.until(lambda _: api.get("/state").json().get("meeting_id"))
        meeting_id = api.get("/state").json()["meeting_id"]
    driver.get(f"http://127.0.0.1:{box.port}/#meetings")
    wait.until(ec.text_to_be_present_in_element((By.ID, "meetings-list"), "화자 구분 회의"))
    open_first_meeting()

    # Name the second voice as soon as the box has heard it.
    wait.until(lambda _: len({label for _, label, _ in chips() if label}) >= 2)
    second = (By.CSS_SELECTOR, "#speakers form.speaker-row[data-speaker='S2']")
    row = wait.until(ec.visibility_of_element_located(second))
    row.find_element(By.TAG_NAME, "input").send_keys(NAME, Keys.ENTER)
    wait.until(ec.text_to_be_present_in_element((By.ID, "speakers-result"), "S2의 이름을 저장했습니다."))
    named_at = time.time()
    wait.until(lambda _: any(shown == NAME for _, label, shown in chips() if label == "S2"))

    # The replay ends: the box stops the meeting by itself when the file is through.
    with box.client() as api:
        deadline = time.monotonic() + duration_s + WAIT_S
        while time.monotonic() < deadline and api.get(f"/meetings/{meeting_id}").json()["status"] == "recording":
            time.sleep(1)
        meeting = api.get(f"/meetings/{meeting_id}").json()
        if meeting["status"] == "recording":
            api.post(f"/meetings/{meeting_id}/stop")
        segments = api.get(f"/meetings/{meeting_id}/segments").json()["items"]
        speakers = api.get(f"/meetings/{meeting_id}/speakers").json()
        vtt = api.get(f"/meetings/{meeting_id}/export", params={"format": "vtt"}).text
    log = box.log.read_text()
    labels = {s["speaker_id"] for s in segments}
    assert None not in labels and len(labels) >= 2, (segments, log[-3000:])
    hers = [s for s in segments if s["speaker_id"] == "S2"]
    assert hers and all(s["speaker"] == NAME for s in hers), segments
    assert f"<v {NAME}>" in vtt, vtt
    assert any(entry["label"] == "S2" and entry["name"] == NAME for entry in speakers["items"]), speakers

    # MQTT: her segments committed after the naming carry the name; the speakers topic holds it, retained.
    base = f"edge/speakers-real/meeting/{meeting_id}"
    assert subscriber.wait_for(lambda got: any(m.topic == f"{base}/speakers" for m in got), 10)
    published = [m for m in subscriber.received() if m.topic in (f"{base}/segment", f"{base}/segment_update")]
    after = [m.json() for m in published if m.at > named_at and m.json().get("speaker_id") == "S2"]
    assert after and all(p["speaker"] == NAME for p in after), [m.json() for m in published]
    names = json.loads(next(m.payload for m in reversed(subscriber.received()) if m.topic == f"{base}/speakers"))
    assert NAME in json.dumps(names, ensure_ascii=False)

    # A member corrects one of her lines; the extractive minutes give her the action item.
    with box.client() as api:
        edited = api.patch(f"/meetings/{meeting_id}/segments/{hers[0]['seq']}", json={"text": PROMISE})
        assert edited.status_code == 200, edited.text
        assert api.post(f"/meetings/{meeting_id}/minutes").status_code == 202
        minutes = api.get(f"/meetings/{meeting_id}/minutes").json()
    items = minutes["minutes"]["action_items"]
    assert any(item["owner"] == NAME for item in items), minutes

    driver.get(f"http://127.0.0.1:{box.port}/#meetings")
    wait.until(ec.text_to_be_present_in_element((By.ID, "meetings-list"), "화자 구분 회의"))
    open_first_meeting()
    wait.until(lambda _: any(shown == NAME for _, _, shown in chips()))
    wait.until(ec.text_to_be_present_in_element((By.ID, "meeting-detail"), PROMISE))
    # The list followed the meeting's end by itself (the page was open on it).
    assert "녹음 중" not in driver.find_element(By.ID, "meetings-list").text
    shots = []
    for name, scroll in (("admin-speakers-minutes.png", "window.scrollTo(0, 0)"),
                         ("admin-speakers-replay.png", "document.getElementById('speakers').scrollIntoView()")):
        driver.execute_script(scroll)
        shots.append(tmp_path / name)
        assert driver.save_screenshot(str(shots[-1])) and shots[-1].stat().st_size > 10_000
    keep = os.environ.get("EDGE_SCREENSHOT_DIR")
    if keep:
        for shot in shots:
            shutil.copy(shot, Path(keep) / shot.name)
        lines = [f"{m.topic} {m.payload.decode('utf-8')}" for m in subscriber.received()
                 if m.topic.endswith(("/segment", "/segment_update", "/speakers"))]  # fmt: skip
        (Path(keep) / "speakers-mqtt.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert httpx.get(f"http://127.0.0.1:{box.port}/api/v1/health", timeout=30).json()["speakers"]["stretches"] > 0
