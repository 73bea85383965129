from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from contextlib import ExitStack

from edge.commands.options import add_config_option
from edge.core.config import Config, load_config

# A stage that shows no progress for this long is hung: the systemd watchdog pings stop and the box is
# restarted. Well above the longest decode (a 30 s utterance with a large model on an Orin Nano).
STALL_SECONDS = 90.0

HELP = "Run the box: capture -> VAD -> whisper.cpp -> firewall -> SQLite, with MQTT and the API when enabled."

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)


def _serving(cfg: Config) -> bool:
    return (cfg.api.enabled or cfg.mqtt.enabled) and not cfg.meeting.exit_after_file


def run(args: argparse.Namespace) -> int:
    from edge.app import Box
    from edge.ops.notify import Notifier
    from edge.ops.watchdog import PipelineWatchdog

    cfg = load_config(args.config)
    notifier = Notifier.from_environment()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    box = Box(cfg)
    box.open()
    with ExitStack() as cleanup:
        cleanup.callback(box.close)
        cleanup.callback(notifier.stopping)
        if cfg.mqtt.enabled:
            from edge.publish.mqtt import MqttPublisher

            mqtt = MqttPublisher(cfg.mqtt, cfg.device, box.store, box.live, box)
            mqtt.start()
            box.store.add_outbox_listener(mqtt.notify)
            cleanup.callback(mqtt.stop)
        # Stops run in reverse: the API stops taking commands, the meeting is stopped (every utterance
        # committed), then MQTT publishes the final idle state and `offline`, then the box closes.
        cleanup.callback(_stop_recording, box)
        if cfg.api.enabled:
            _start_api(cfg, box, cleanup)
        if cfg.meeting.auto_start:
            box.start_meeting()
        notifier.ready()
        _supervise(cfg, box, stop, PipelineWatchdog(notifier, STALL_SECONDS))
        log.info("stopping")
    return 0


def _stop_recording(box) -> None:
    if box.recording is not None:
        box.stop_meeting()


def _start_api(cfg: Config, box, cleanup: ExitStack) -> None:
    from edge.api.app import create_app
    from edge.api.auth import load_or_create_token
    from edge.api.server import ApiServer
    from edge.api.tls import server_tls

    token, created = load_or_create_token(cfg.api.token_file)
    if created:
        print(f"API token (shown once, stored in {cfg.api.token_file}): {token}", file=sys.stderr, flush=True)
    tls = server_tls(cfg.api, cfg.device.id)
    if tls is not None and tls.created:
        print(f"TLS certificate made in {cfg.api.tls_dir}; trust {tls.ca_file} or check its SHA-256 fingerprint "
              f"{tls.ca_sha256} (server certificate {tls.cert_sha256})", file=sys.stderr, flush=True)
    app = create_app(box, cfg.api, token, device_id=cfg.device.id, tls=tls)
    server = ApiServer(app, cfg.api.host, cfg.api.port, tls=tls)
    server.start()
    cleanup.callback(server.stop)
    print(f"admin page: {server.url}/", file=sys.stderr, flush=True)


def _supervise(cfg: Config, box, stop: threading.Event, watchdog) -> None:
    """The pipeline loop: pings the watchdog while every stage progresses, and ends a replayed file's
    meeting when the file is done."""
    file_source = cfg.audio.source.startswith("file:")
    while not stop.wait(0.5):
        watchdog.observe(box.heartbeats())
        watchdog.tick()
        recording = box.recording
        if recording is not None and recording.failed_stage is not None:
            log.error("meeting %s: stopping it, its %s stage failed", recording.meeting.id, recording.failed_stage[0])
            box.stop_meeting(failed_stage=recording.failed_stage)
            continue
        if file_source and recording is not None and recording.source_done:
            box.stop_meeting()
            if not _serving(cfg):
                return
