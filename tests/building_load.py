"""A building of boxes on one broker, measured: N box processes (tests/mosquitto.py's publisher harness:
the box's own store, outbox and MqttPublisher, committing a live meeting's segments at a steady pace
instead of decoding speech, since N whisper decoders do not fit this machine), each publishing to its own
mosquitto that bridges to the building broker with the shipped example (config/mosquitto-box-bridge.conf).
In the middle the building broker is stopped for `cut_s` seconds (the building link is cut), then started
again. A subscriber on the building broker with a persistent session counts every (meeting_id, seq,
revision) and its delay; `edge building`'s view is read from retained topics at the end.

    python tests/building_load.py --boxes 20 --minutes 10 --cut-s 30 [--out figures.json]

prints the figures as JSON; tests/test_building.py runs a small one."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mosquitto import Broker, Subscriber, spawn_publisher_harness, wait_until

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BRIDGE_EXAMPLE = PROJECT_ROOT / "config" / "mosquitto-box-bridge.conf"
ROOMS = ("대회의실", "소회의실", "Board room", "세미나실", "Huddle")


def bridge_lines(device_id: str, building: Broker) -> str:
    """The example's bridge section for one box and this building broker (its listener and persistence
    lines are the test broker's own)."""
    text = BRIDGE_EXAMPLE.read_text(encoding="utf-8")
    section = text[text.index("connection building-DEVICE_ID"):]
    return (section.replace("DEVICE_ID", device_id).replace("BUILDING_HOST", "127.0.0.1")
            .replace("BUILDING_PORT", str(building.port)))  # fmt: skip


def committed_times(log: Path) -> dict[int, float]:
    times = {}
    for line in log.read_text(errors="replace").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "committed":
            times[int(parts[1])] = float(parts[2])
    return times


def run_building(workdir: Path, *, boxes: int, seconds: float, cut_s: float, pace_ms: float = 3000) -> dict:
    from edge.core.config import MqttConfig
    from edge.publish.building import building_view, topic_filters
    from edge.publish.mqtt import read_retained

    per_box = max(1, int(seconds * 1000 / pace_ms))
    building = Broker(workdir / "building")
    building.start()
    subscriber = Subscriber(building, ["edge/+/meeting/+/segment"], client_id="building-archive").start()
    assert building.wait_saved()  # the archive's session must survive the cut
    devices = [f"room-{n:02d}" for n in range(boxes)]
    local = {d: Broker(workdir / d, extra=bridge_lines(d, building)) for d in devices}
    meeting = {d: f"20260305-090000-{n:04x}" for n, d in enumerate(devices)}
    logs = {d: workdir / f"{d}.log" for d in devices}
    processes = []
    try:
        for device in devices:
            local[device].start()
        started = time.time()
        for n, device in enumerate(devices):
            processes.append(spawn_publisher_harness(
                workdir / f"{device}.db", local[device], device_id=device, meeting_id=meeting[device],
                commit_until=per_box, pace_ms=pace_ms, log_file=logs[device], room=ROOMS[n % len(ROOMS)],
            ))  # fmt: skip
        time.sleep(max(0.0, seconds / 2 - cut_s / 2))
        cut_at = time.time()
        building.stop()  # the building link is cut (a clean stop: the archive's session is saved)
        time.sleep(cut_s)
        building.start()
        back_at = time.time()
        total = boxes * per_box
        wait_until(lambda: sum(len(subscriber.segments(meeting[d])) for d in devices) >= total,
                   seconds + cut_s + 120, interval=0.5)  # fmt: skip
        time.sleep(2)  # late duplicates, if any, are counted too
        finished = time.time()
        cfg = MqttConfig(enabled=True, host="127.0.0.1", port=building.port)
        view = building_view(read_retained(cfg, topic_filters("edge"), wait_s=2.0), "edge")
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        subscriber.stop()
        for broker in local.values():
            broker.stop()
        building.stop()
    received = {d: subscriber.segments(meeting[d]) for d in devices}
    arrivals: dict[tuple[str, int], float] = {}
    for message in subscriber.received():
        body = message.json()
        arrivals.setdefault((body["meeting_id"], body["seq"]), message.at)
    delays, after_cut = [], []
    for device in devices:
        for seq, at in committed_times(logs[device]).items():
            arrived = arrivals.get((meeting[device], seq))
            if arrived is None:
                continue
            delays.append(arrived - at)
            if at < back_at:
                after_cut.append(arrived - back_at)
    missing = sum(per_box - len(received[d]) for d in devices)
    duplicates = sum(sum(c.values()) - len(c) for c in received.values())
    rooms_right = all(box.room == ROOMS[n % len(ROOMS)] for n, box in enumerate(view))
    return {
        "boxes": boxes, "seconds": round(finished - started, 1), "cut_s": round(back_at - cut_at, 1),
        "segments_committed": boxes * per_box, "segments_received_distinct": sum(len(c) for c in received.values()),
        "missing": missing, "duplicates": duplicates,
        "delivery_delay_s": {"p50": _pct(delays, 50), "p95": _pct(delays, 95), "max": round(max(delays), 2)
                             if delays else None},
        "max_delay_after_the_link_returned_s": round(max(after_cut), 2) if after_cut else None,
        "building_view": {"boxes_seen": len(view), "online": sum(b.available == "online" for b in view),
                          "rooms_right": rooms_right, "with_health": sum(b.stats_at is not None for b in view)},
    }  # fmt: skip


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))], 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--boxes", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--cut-s", type=float, default=30)
    parser.add_argument("--pace-ms", type=float, default=3000, help="One segment per box every this many ms.")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        figures = run_building(Path(workdir), boxes=args.boxes, seconds=args.minutes * 60, cut_s=args.cut_s,
                               pace_ms=args.pace_ms)  # fmt: skip
    text = json.dumps(figures, ensure_ascii=False, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
