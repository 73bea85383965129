"""One box per storage folder, and one MQTT client id per process (issue 17, finding 4): a second box on
the same storage refuses to start, naming the first; two publishers of one device never knock each other
off a real mosquitto."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mosquitto import Broker, MiniBox, mosquitto_binary, wait_until

from edge.app import Box
from edge.core.config import Config, DeviceConfig, MqttConfig
from edge.core.live import LiveBus
from edge.ops.storage_lock import StorageInUse, StorageLock
from edge.publish.mqtt import MqttPublisher
from edge.store import Store

HOLD = "import sys, time; from pathlib import Path; from edge.ops.storage_lock import StorageLock; " \
       "StorageLock(Path(sys.argv[1])).acquire(); print('held', flush=True); time.sleep(600)"


def _config(storage: Path) -> Config:
    return Config.model_validate({"storage": {"path": str(storage)}, "api": {"enabled": False},
                                  "mqtt": {"enabled": False}})


def test_a_second_box_on_the_same_storage_refuses_to_start_and_touches_nothing(tmp_path: Path) -> None:
    first = Box(_config(tmp_path / "data"))
    try:
        meeting = first.store.create_meeting(language="ko", source="test", title="진행 중인 회의")
        with pytest.raises(StorageInUse) as refused:
            Box(_config(tmp_path / "data"))
        assert f"pid {os.getpid()}" in str(refused.value)
        assert "storage.path" in str(refused.value)
        assert first.store.meeting(meeting.id).status == "recording"
    finally:
        first.close()
    second = Box(_config(tmp_path / "data"))  # the first one released it
    second.close()


def test_the_lock_names_another_process_and_dies_with_it(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                              env=env)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(StorageInUse, match=f"pid {holder.pid} "):
            StorageLock(tmp_path).acquire()
    finally:
        holder.kill()
        holder.wait()
    StorageLock(tmp_path).acquire().release()  # a killed holder holds nothing


def test_edge_run_on_a_storage_in_use_exits_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "edge.toml"
    config.write_text(f'[storage]\npath = "{tmp_path / "data"}"\n[api]\nenabled = false\n', encoding="utf-8")
    lock = StorageLock(tmp_path / "data").acquire()
    try:
        result = subprocess.run([sys.executable, "-m", "edge", "run", "--config", str(config)],
                                capture_output=True, text=True, timeout=120)
    finally:
        lock.release()
    assert result.returncode == 2, result.stderr
    assert "is in use by another box" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "data" / "edge.db").exists()


@pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto is not installed")
def test_two_publishers_of_one_device_stay_connected_side_by_side(broker: Broker, tmp_path: Path) -> None:
    cfg = MqttConfig(enabled=True, host="127.0.0.1", port=broker.port, keepalive=5,
                     reconnect_min_delay_s=0.2, reconnect_max_delay_s=1.0)
    stores = [Store(tmp_path / f"box{n}" / "edge.db") for n in range(2)]
    publishers = [MqttPublisher(cfg, DeviceConfig(id="room-1"), store, LiveBus(), MiniBox(store, LiveBus()))
                  for store in stores]
    try:
        for publisher in publishers:
            publisher.start()
            assert wait_until(lambda p=publisher: p.connected, 10)
        assert wait_until(lambda: all(p.connected for p in publishers), 10)
        assert "already connected" not in broker.log_file.read_text()
        assert [p.counters.connects for p in publishers] == [1, 1]
    finally:
        for publisher in publishers:
            publisher.stop()
        for store in stores:
            store.close()


def test_a_configured_client_id_is_used_as_given(broker: Broker, tmp_path: Path) -> None:
    store = Store(tmp_path / "edge.db")
    cfg = MqttConfig(enabled=True, host="127.0.0.1", port=broker.port, client_id="회의실-상자")
    publisher = MqttPublisher(cfg, DeviceConfig(id="room-1"), store, LiveBus(), MiniBox(store, LiveBus()))
    try:
        publisher.start()
        assert wait_until(lambda: publisher.connected, 10)
        assert wait_until(lambda: "as 회의실-상자" in broker.log_file.read_text(), 10)
    finally:
        publisher.stop()
        store.close()


