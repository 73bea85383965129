"""MQTT publisher: the only module that imports paho-mqtt (lazily, in `start()`).

Delivery, in short (../shared/design/RELIABILITY.md has the measurements behind it):
- SQLite is the source of truth. The sender publishes outbox rows in id order at QoS 1 with a bounded
  number in flight and marks a row sent only when its PUBACK reports success (MQTT 5 also reports
  failures, such as 0x87 not authorized, through on_publish). Rows the broker refused are retried on the
  next reconnect or resend sweep; a killed process republishes every unmarked row when it starts again.
  This is at-least-once: consumers de-duplicate on (meeting_id, seq).
- State is re-published, never queued: on every (re)connect the box publishes retained `online`, its
  state, `recording/state` and Home Assistant discovery, then subscribes to `recording/set` and
  `speakers/set`.
- Partials are QoS 0 and dropped while offline, by design.
- Nothing here blocks or raises on an absent broker: paho connects and reconnects in its own thread.

Threads: paho's network thread (callbacks only queue work and wake the others), `mqtt-sender` (connect
duties, outbox, acks, state, stats), `mqtt-live` (live bus: partials, state changes) and
`mqtt-commands` (runs `recording/set` and `speakers/set` against the box, so a slow start or stop never stalls paho).
"""

from __future__ import annotations

import logging
import secrets
import ssl
import threading
import time
from collections import deque
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from typing import Any

import edge
from edge.core.config import DeviceConfig, MqttConfig
from edge.core.errors import ConfigError, UserError
from edge.core.events import BoxState, HealthChanged, LiveEvent, Partial
from edge.core.live import LiveBus
from edge.core.queues import DropOldestQueue, Empty, QueueClosed
from edge.pipeline.control import BoxControl, MeetingAlreadyRunning, NoMeetingRunning
from edge.publish.ha_discovery import discovery_messages
from edge.publish.rate_limit import TokenBucket
from edge.publish.topics import (
    CommandError,
    Topics,
    encode,
    error_payload,
    health_error_payload,
    idle_state,
    info_payload,
    parse_recording_command,
    parse_rename_speaker_command,
    recording_state_payload,
    stats_payload,
)
from edge.store import OutboxMessage, Store

log = logging.getLogger(__name__)

# Room in paho's own in-flight window for the state, availability and discovery messages that are
# published next to the outbox, so outbox messages are never held back in paho's queue.
PAHO_INFLIGHT_EXTRA = 64
# Bad commands are answered on `error` and logged up to this burst, then one a second; the rest are
# counted and told in one summary line (a flood of them once gave one WARNING each).
REFUSALS_BURST = 20
REFUSALS_PER_S = 1.0
LIMITED_SUMMARY_EVERY_S = 60.0
MINUTES_EXPIRY_EVERY_S = 3600.0  # retained minutes are looked over at each connect and then hourly


@dataclass
class MqttCounters:
    connects: int = 0
    connect_failures: int = 0  # unreachable broker or refused CONNACK, since the last success
    last_connect_error: str = ""
    published: int = 0  # outbox messages handed to paho, republications included
    acked: int = 0  # outbox rows marked sent after a successful PUBACK
    rejected: int = 0  # failed PUBACKs (the row stays unsent)
    unroutable: int = 0  # rows that cannot be published at all (bad kind or meeting id)
    last_reject: str = ""
    partials: int = 0
    partials_dropped: int = 0  # while offline, by design
    commands: int = 0
    command_errors: int = 0
    commands_limited: int = 0  # ignored unanswered: over the rate limit
    commands_dropped: int = 0  # pushed out of the full command queue before they were read


@dataclass
class _InFlight:
    row_id: int
    since: float


class MqttPublisher:
    """Publishes the box to an MQTT broker; `start()` and `stop()` from the composition root, `notify()`
    after every commit that wrote outbox rows."""

    def __init__(
        self,
        cfg: MqttConfig,
        device: DeviceConfig,
        store: Store,
        live: LiveBus,
        control: BoxControl | None = None,
        *,
        poll_interval_s: float = 5.0,
        resend_interval_s: float = 60.0,
        stop_timeout_s: float = 5.0,
    ) -> None:
        self.cfg = cfg
        self.device = device
        self.store = store
        self.live = live
        self.control = control
        self.topics = Topics(cfg.topic_prefix, device.id)
        self.counters = MqttCounters()
        self._poll_interval_s = poll_interval_s
        self._resend_interval_s = resend_interval_s
        self._stop_timeout_s = stop_timeout_s
        self._client: Any = None
        self._threads: list[threading.Thread] = []
        self._live_subscription = ExitStack()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._connected = threading.Event()
        self._stats_now = threading.Event()  # the health verdict changed: stats are published without waiting
        self._epoch = 0  # incremented by every successful CONNACK (paho thread)
        self._acks: deque[tuple[int, bool, str]] = deque()  # (mid, failed, reason) from on_publish
        self._commands: DropOldestQueue[tuple[str, bytes, bool]] = DropOldestQueue(100, name="mqtt-commands")
        self._actions = TokenBucket(cfg.command_burst, 1 / cfg.command_interval_s)
        self._refusals = TokenBucket(REFUSALS_BURST, REFUSALS_PER_S)
        self._limited_logged = 0  # commands_limited (with queue drops) already told in a summary line
        self._limited_since = 0.0
        self._state_lock = threading.Lock()
        self._state: dict = idle_state()
        self._state_dirty = False
        # Owned by the sender thread:
        self._handled_epoch = 0
        self._connected_at = 0.0
        self._cursor = 0  # highest outbox id handed to paho since the last sweep
        self._inflight: dict[int, _InFlight] = {}  # paho mid -> row
        self._inflight_rows: set[int] = set()
        self._stale_state_mids: set[int] = set()
        self._last_segment: dict | None = None
        self._last_segment_dirty = False
        self._unroutable_logged: set[int] = set()
        self._instance = secrets.token_hex(4)

    # lifecycle

    def start(self) -> None:
        """Start publishing; returns at once, whether or not the broker is reachable. Raises ConfigError
        for settings that can never work (unreadable password file, bad TLS files)."""
        if not self.cfg.enabled:
            log.info("MQTT is disabled (mqtt.enabled = false)")
            return
        if self._client is not None or self._stopping.is_set():
            raise RuntimeError("MqttPublisher is started once; create a new one after stop()")
        client = self._build_client()
        self._client = client
        self._set_state(self._current_state())
        queue = self._live_subscription.enter_context(self.live.subscribe())
        self._threads = [
            threading.Thread(target=self._sender_loop, name="mqtt-sender", daemon=True),
            threading.Thread(target=self._live_loop, args=(queue,), name="mqtt-live", daemon=True),
            threading.Thread(target=self._command_loop, name="mqtt-commands", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        client.connect_async(self.cfg.host, self.cfg.port, keepalive=self.cfg.keepalive)
        client.loop_start()
        log.info("MQTT: connecting to %s:%s as %s", self.cfg.host, self.cfg.port, self._client_id)

    def stop(self) -> None:
        """Planned stop: settle in-flight rows, publish the final state and an explicit `offline` (a clean
        disconnect suppresses the last will), wait for them (bounded), disconnect."""
        client = self._client
        if client is None:
            return
        self._stopping.set()
        self._wake.set()
        self._live_subscription.close()
        self._commands.close()
        deadline = time.monotonic() + self._stop_timeout_s
        for thread in self._threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        if self._connected.is_set():
            state = self._current_state()
            infos = [
                client.publish(self.topics.state, encode(state), qos=1, retain=True),
                client.publish(self.topics.recording_state, recording_state_payload(state), qos=1, retain=True),
                client.publish(self.topics.available, "offline", qos=1, retain=True),
            ]
            for info in infos:
                try:
                    info.wait_for_publish(max(0.1, deadline - time.monotonic()))
                except (RuntimeError, ValueError) as exc:
                    log.warning("MQTT: final state not confirmed before disconnecting: %s", exc)
                    break
        client.disconnect()
        client.loop_stop()
        self._client = None
        log.info("MQTT: stopped (%s)", ", ".join(f"{k}={v}" for k, v in asdict(self.counters).items()))

    def notify(self) -> None:
        """New outbox rows were committed: wake the sender."""
        self._wake.set()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def status(self) -> dict:
        return {"connected": self.connected, "inflight": len(self._inflight), **asdict(self.counters)}

    # paho client

    @property
    def _client_id(self) -> str:
        # A broker drops the older of two connections with one client id: two processes of one device
        # (a restart overlapping the old one, a `kill -9` not yet noticed) would knock each other off.
        return self.cfg.client_id or f"edge-{self.device.id}-{self._instance}"

    def _build_client(self) -> Any:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        cfg = self.cfg
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self._client_id, protocol=mqtt.MQTTv5)
        # An exception in a callback must never end paho's network thread; it is logged instead.
        client.suppress_exceptions = True
        client.on_log = self._on_paho_log
        configure_client(client, cfg)
        client.will_set(self.topics.available, "offline", qos=1, retain=True)
        client.reconnect_delay_set(cfg.reconnect_min_delay_s, cfg.reconnect_max_delay_s)  # type: ignore[arg-type]
        client.max_inflight_messages_set(cfg.max_inflight + PAHO_INFLIGHT_EXTRA)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return client

    # paho callbacks (paho's network thread): record and wake, never raise, never block

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if reason_code.is_failure:
            self._connect_failed(f"refused the connection: {reason_code}")
            return
        self.counters.connect_failures = 0
        self._epoch += 1
        self._connected.set()
        self._wake.set()
        log.info("MQTT: connected to %s:%s", self.cfg.host, self.cfg.port)

    def _on_paho_log(self, client: Any, userdata: Any, level: int, message: str) -> None:
        import paho.mqtt.client as mqtt

        # paho 2.2 reports every reconnect attempt as "Client is not connected" at error level; an
        # unreachable broker is reported once per outage by _connect_failed instead.
        if level == mqtt.MQTT_LOG_ERR and not message.startswith("Client is not connected"):
            log.error("MQTT (paho): %s", message)
        elif level == mqtt.MQTT_LOG_WARNING:
            log.warning("MQTT (paho): %s", message)
        elif log.isEnabledFor(logging.DEBUG):
            log.debug("MQTT (paho): %s", message)

    def _on_connect_fail(self, client: Any, userdata: Any) -> None:
        self._connect_failed("is unreachable")

    def _connect_failed(self, error: str) -> None:
        self.counters.connect_failures += 1
        self.counters.last_connect_error = error
        # Once at warning per outage; the retries that follow (with backoff) at debug.
        level = logging.WARNING if self.counters.connect_failures == 1 else logging.DEBUG
        log.log(level, "MQTT: broker %s:%s %s; retrying with backoff", self.cfg.host, self.cfg.port, error)

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        if was_connected and not self._stopping.is_set():
            log.warning("MQTT: connection lost (%s); reconnecting with backoff", reason_code)

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason_code: Any, properties: Any) -> None:
        self._acks.append((mid, bool(reason_code.is_failure), str(reason_code)))
        self._wake.set()

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        try:
            if message.topic not in (self.topics.recording_set, self.topics.speakers_set):
                return
            self._commands.put((message.topic, bytes(message.payload), bool(message.retain)))
        except QueueClosed:
            pass
        except Exception:
            log.exception("MQTT: incoming message on %s not queued", getattr(message, "topic", "?"))

    # sender thread

    def _sender_loop(self) -> None:
        next_stats = time.monotonic() + self.cfg.stats_interval_s
        next_sweep = time.monotonic() + self._resend_interval_s
        next_expiry = time.monotonic()
        while not self._stopping.is_set():
            self._wake.wait(max(0.0, min(next_stats, next_sweep, time.monotonic() + self._poll_interval_s)
                                - time.monotonic()))
            self._wake.clear()
            if self._stopping.is_set():
                break
            now = time.monotonic()
            sweep_due, stats_due = now >= next_sweep, now >= next_stats or self._stats_now.is_set()
            if sweep_due:
                next_sweep = now + self._resend_interval_s
            if stats_due:
                next_stats = now + self.cfg.stats_interval_s
            try:
                self._process_acks()
                if not self._connected.is_set():
                    continue
                if self._handled_epoch != self._epoch:
                    self._handled_epoch = self._epoch
                    self._after_connect()
                    next_expiry = now
                if now >= next_expiry:
                    next_expiry = now + MINUTES_EXPIRY_EVERY_S
                    self._expire_retained_minutes()
                if sweep_due:
                    self._sweep(now)
                self._publish_state_if_dirty()
                if stats_due:
                    self._stats_now.clear()
                    self._publish_stats()
                self._drain()
            except Exception:
                log.exception("MQTT: sender step failed; retrying")
                self._cursor = 0
                self._stopping.wait(1.0)
        self._settle(time.monotonic() + self._stop_timeout_s / 2)

    def _after_connect(self) -> None:
        """Everything retained is re-published on every connect; then the outbox is re-read from the start."""
        self.counters.connects += 1
        self._connected_at = time.monotonic()
        self._cursor = 0
        # Subscribe before announcing `online`: the broker handles one connection's packets in order, so a
        # panel that sends a command as soon as it sees `online` is never missed.
        self._client.subscribe([(self.topics.recording_set, 1), (self.topics.speakers_set, 1)])
        self._publish(self.topics.available, "online", qos=1, retain=True)
        info = info_payload(self.device.id, self.device.room, edge.__version__, self.cfg.configuration_url)
        self._publish(self.topics.info, encode(info), qos=1, retain=True)
        self._set_state(self._current_state())
        self._publish_state_if_dirty()
        if self.cfg.discovery:
            for message in discovery_messages(
                self.topics,
                discovery_prefix=self.cfg.discovery_prefix,
                device_name=self.device.room or self.device.id,
                sw_version=edge.__version__,
                room=self.device.room,
                configuration_url=self.cfg.configuration_url,
                last_segment=self.cfg.discovery_last_segment,
            ):
                payload = b"" if message.payload is None else encode(message.payload)
                self._publish(message.topic, payload, qos=1, retain=True)
        if self._last_segment is not None:
            self._last_segment_dirty = True

    def _sweep(self, now: float) -> None:
        """Retry refused rows and forget rows whose PUBACK never came while connected (they are published
        again; paho's own copy is only resent after a reconnect)."""
        self._cursor = 0
        for mid, entry in list(self._inflight.items()):
            if now - max(entry.since, self._connected_at) > self._resend_interval_s:
                del self._inflight[mid]
                self._inflight_rows.discard(entry.row_id)

    def _process_acks(self) -> None:
        delivered: list[int] = []
        while self._acks:
            mid, failed, reason = self._acks.popleft()
            if mid in self._stale_state_mids:
                # A state queued while offline was just delivered after the fresh one: publish the current again.
                self._stale_state_mids.discard(mid)
                with self._state_lock:
                    self._state_dirty = True
            entry = self._inflight.pop(mid, None)
            if entry is None:
                continue
            self._inflight_rows.discard(entry.row_id)
            if failed:
                self.counters.rejected += 1
                self.counters.last_reject = reason
                log.warning("MQTT: broker refused outbox row %d (%s); it stays unsent and is retried", entry.row_id,
                            reason)
            else:
                delivered.append(entry.row_id)
        if delivered:
            self.store.mark_sent(delivered)
            self.counters.acked += len(delivered)

    def _drain(self) -> None:
        while self._connected.is_set():
            room = self.cfg.max_inflight - len(self._inflight)
            if room <= 0:
                break
            rows = self.store.pending_outbox(after_id=self._cursor, limit=room + len(self._inflight))
            rows = [row for row in rows if row.id not in self._inflight_rows][:room]
            if not rows:
                break
            for row in rows:
                if not self._send_row(row):
                    return
                self._cursor = row.id
        if self._last_segment_dirty and self._connected.is_set():
            self._last_segment_dirty = False
            last = b"" if self._last_segment is None else encode(self._last_segment)  # b"": cleared
            self._publish(self.topics.last_segment, last, qos=0, retain=True)

    def _send_row(self, row: OutboxMessage) -> bool:
        """Hand one row to paho; False when paho refused it (the drain stops and retries later)."""
        import paho.mqtt.client as mqtt

        try:
            route = self.topics.outbox_route(row.kind, row.meeting_id)
            payload = b"" if row.payload is None else encode(row.payload)
            info = self._client.publish(route.topic, payload, qos=route.qos, retain=route.retain)
        except ValueError as exc:
            self.counters.unroutable += 1
            if row.id not in self._unroutable_logged:
                self._unroutable_logged.add(row.id)
                log.error("MQTT: outbox row %d (%s) cannot be published: %s; it stays unsent", row.id, row.kind, exc)
            return True
        # NO_CONN: paho keeps the QoS 1 message and sends it when the connection is back.
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            log.warning("MQTT: paho did not take outbox row %d: %s", row.id, mqtt.error_string(info.rc))
            return False
        self._inflight[info.mid] = _InFlight(row.id, time.monotonic())
        self._inflight_rows.add(row.id)
        self.counters.published += 1
        if row.kind == "segment":
            self._last_segment = row.payload
            self._last_segment_dirty = True
        elif row.kind == "deleted" and (self._last_segment or {}).get("meeting_id") in (None, row.meeting_id):
            # A deleted meeting's words must not stay retained: the newest segment of another takes its place.
            self._last_segment = self.store.latest_published_segment()
            self._last_segment_dirty = True
        return True

    def _settle(self, deadline: float) -> None:
        """At a planned stop, give in-flight and pending rows a bounded time to be delivered and marked."""
        while self._connected.is_set() and time.monotonic() < deadline:
            try:
                self._process_acks()
                self._drain()
            except Exception:
                log.exception("MQTT: outbox not settled before stopping")
                return
            if not self._inflight:
                return
            self._wake.wait(0.05)
            self._wake.clear()

    # state and stats

    def _current_state(self) -> dict:
        if self.control is None:
            with self._state_lock:
                return dict(self._state)
        try:
            return self.control.state()
        except Exception:
            log.exception("MQTT: the box's state could not be read")
            with self._state_lock:
                return dict(self._state)

    def _set_state(self, state: dict) -> None:
        with self._state_lock:
            self._state = dict(state)
            self._state_dirty = True
        self._wake.set()

    def _publish_state_if_dirty(self) -> None:
        import paho.mqtt.client as mqtt

        with self._state_lock:
            if not self._state_dirty:
                return
            self._state_dirty = False
            state = dict(self._state)
        for topic, payload in (
            (self.topics.state, encode(state)),
            (self.topics.recording_state, recording_state_payload(state)),
        ):
            info = self._publish(topic, payload, qos=1, retain=True)
            if info is not None and info.rc == mqtt.MQTT_ERR_NO_CONN:
                self._stale_state_mids.add(info.mid)

    def _expire_retained_minutes(self) -> None:
        if not self.cfg.minutes_retain_days or not self.store.outbox_enabled:
            return
        expired = self.store.expire_retained_minutes(self.cfg.minutes_retain_days)
        if expired:
            log.info("MQTT: clearing the retained minutes of %d meeting(s) published more than %g days ago",
                     len(expired), self.cfg.minutes_retain_days)  # fmt: skip

    def _publish_stats(self) -> None:
        health: dict = {}
        if self.control is not None:
            try:
                health = self.control.health()
            except Exception:
                log.exception("MQTT: the box's health could not be read")
        backlog = self.store.outbox_backlog() if self.store.outbox_enabled else None
        stats = stats_payload(health, backlog, self.store.clock.now().isoformat(timespec="seconds"))
        stats["mqtt"] = self.status()
        # Retained: a building view that starts later sees every box's last health at once.
        self._publish(self.topics.stats, encode(stats), qos=0, retain=True)

    def _publish(self, topic: str, payload: bytes | str, *, qos: int, retain: bool) -> Any:
        try:
            return self._client.publish(topic, payload, qos=qos, retain=retain)
        except ValueError as exc:
            log.error("MQTT: %s not published: %s", topic, exc)
            return None

    # live thread

    def _live_loop(self, queue: DropOldestQueue[LiveEvent]) -> None:
        while True:
            try:
                event = queue.get(timeout=0.5)
            except Empty:
                if self._stopping.is_set():
                    return
                continue
            except QueueClosed:
                return
            try:
                self._on_live_event(event)
            except Exception:
                log.exception("MQTT: live event %s not published", event.kind)

    def _on_live_event(self, event: LiveEvent) -> None:
        if isinstance(event, Partial):
            if not self._connected.is_set() or not isinstance(event.meeting_id, str):
                self.counters.partials_dropped += 1
                return
            self._publish(self.topics.partial(event.meeting_id), encode(event.to_payload()), qos=0, retain=False)
            self.counters.partials += 1
        elif isinstance(event, BoxState):
            self._set_state(event.to_payload())
        elif isinstance(event, HealthChanged):
            message = health_error_payload(event.status, list(event.problems))
            self._publish(self.topics.error, encode(message), qos=1, retain=False)
            self._stats_now.set()
            self._wake.set()
        else:
            self.notify()

    # command thread

    def _command_loop(self) -> None:
        while True:
            try:
                topic, payload, retained = self._commands.get(timeout=0.5)
            except Empty:
                self.counters.commands_dropped = self._commands.dropped
                self._summarize_limited()
                if self._stopping.is_set():
                    return
                continue
            except QueueClosed:
                return
            try:
                if topic == self.topics.speakers_set:
                    self._rename_speaker(payload, retained=retained)
                else:
                    self._run_command(payload, retained=retained)
            except Exception:
                log.exception("MQTT: command %r on %s failed", payload[:100], topic)

    def _run_command(self, payload: bytes, *, retained: bool = False) -> None:
        try:
            self._take_command(payload, retained=retained)
        finally:
            # Home Assistant's switch shows the new position as soon as it is flipped; the state published
            # after every command, taken or not, puts it back where the box really is.
            self._set_state(self._current_state())

    def _take_command(self, payload: bytes, *, retained: bool) -> None:
        if retained:
            # A retained command would run again on every reconnect.
            self._refuse_command(payload, "retained commands are ignored; publish without the retain flag "
                                 "and clear the retained message")
            return
        try:
            command = parse_recording_command(payload)
        except CommandError as exc:
            self._refuse_command(payload, str(exc))
            return
        if self.control is None:
            self._refuse_command(payload, "this box does not take commands")
            return
        if not self._actions.take():
            self._limited()
            return
        try:
            if command.action == "start":
                meeting = self.control.start_meeting(title=command.title, language=command.language)
            else:
                meeting = self.control.stop_meeting()
        except (MeetingAlreadyRunning, NoMeetingRunning, UserError) as exc:
            self._refuse_command(payload, str(exc) or (type(exc).__doc__ or type(exc).__name__).strip())
            return
        except Exception as exc:
            log.exception("MQTT: %s failed", command.action)
            self._refuse_command(payload, f"{command.action} failed: {exc}")
            return
        self.counters.commands += 1
        log.info("MQTT: %s meeting %s on command", "started" if command.action == "start" else "stopped", meeting.id)

    def _rename_speaker(self, payload: bytes, *, retained: bool) -> None:
        """A `speakers/set` command: name a speaker of a meeting, as PUT .../speakers/{label} does."""
        topic = self.topics.speakers_set
        if retained:
            self._refuse_command(payload, "retained commands are ignored; publish without the retain flag "
                                 "and clear the retained message", topic)
            return
        try:
            command = parse_rename_speaker_command(payload)
        except CommandError as exc:
            self._refuse_command(payload, str(exc), topic)
            return
        if self.control is None:
            self._refuse_command(payload, "this box does not take commands", topic)
            return
        if not self._actions.take():
            self._limited()
            return
        try:
            speaker = self.control.editing.set_speaker_name(command.meeting_id, command.speaker, command.name)
        except (UserError, LookupError) as exc:
            self._refuse_command(payload, str(exc) or (type(exc).__doc__ or type(exc).__name__).strip(), topic)
            return
        self.counters.commands += 1
        log.info("MQTT: speaker %s of meeting %s named %r on command", speaker.label, command.meeting_id, speaker.name)

    def _refuse_command(self, payload: bytes, reason: str, topic: str | None = None) -> None:
        if not self._refusals.take():
            self._limited()
            return
        topic = topic or self.topics.recording_set
        self.counters.command_errors += 1
        log.warning("MQTT: ignored %s: %s", topic, reason)
        if self._connected.is_set() and self._client is not None:
            message = error_payload(topic, reason, payload)
            self._publish(self.topics.error, encode(message), qos=1, retain=False)

    def _limited(self) -> None:
        if self._limited_total() == self._limited_logged:
            self._limited_since = time.monotonic()
        self.counters.commands_limited += 1
        if time.monotonic() - self._limited_since >= LIMITED_SUMMARY_EVERY_S:
            self._summarize_limited()

    def _limited_total(self) -> int:
        return self.counters.commands_limited + self.counters.commands_dropped

    def _summarize_limited(self) -> None:
        """One line for a flood of commands, when it ends (or each minute while it lasts), not one per command."""
        total = self._limited_total()
        if total == self._limited_logged:
            return
        log.warning(
            "MQTT: ignored %d commands on %s in the last %.0f s without answering: more than %d start/stop commands "
            "at once or one per %g s (mqtt.command_burst, mqtt.command_interval_s), or more than %d bad commands at "
            "once (stats: commands_limited)",
            total - self._limited_logged, self.topics.recording_set, time.monotonic() - self._limited_since,
            self.cfg.command_burst, self.cfg.command_interval_s, REFUSALS_BURST,
        )  # fmt: skip
        self._limited_logged = total
        self._limited_since = time.monotonic()


def read_password(cfg: MqttConfig) -> str | None:
    path = cfg.password_file
    if path is None:
        return None
    if not cfg.username:
        raise ConfigError(f"mqtt.password_file is set ({path}) but mqtt.username is not; set mqtt.username")
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(
            f"mqtt.password_file {path} cannot be read ({reason}); put the broker password in it "
            "or fix its permissions"
        ) from None


def configure_client(client: Any, cfg: MqttConfig) -> None:
    """Credentials and TLS from `cfg`; ConfigError for settings that can never work."""
    password = read_password(cfg)
    if cfg.username:
        client.username_pw_set(cfg.username, password)
    files = {"ca_file": cfg.ca_file, "cert_file": cfg.cert_file, "key_file": cfg.key_file}
    if not cfg.tls:
        given = [f"mqtt.{name}" for name, path in files.items() if path is not None]
        if given:
            raise ConfigError(f"{', '.join(given)} set but mqtt.tls is false; set mqtt.tls = true to use TLS")
        return
    for name, path in files.items():
        if path is not None and not path.is_file():
            raise ConfigError(f"mqtt.{name} {path} does not exist; point it at a PEM file")
    if cfg.key_file is not None and cfg.cert_file is None:
        raise ConfigError("mqtt.key_file is set without mqtt.cert_file; set both for mutual TLS")
    try:
        client.tls_set(
            ca_certs=str(cfg.ca_file) if cfg.ca_file else None,
            certfile=str(cfg.cert_file) if cfg.cert_file else None,
            keyfile=str(cfg.key_file) if cfg.key_file else None,
        )
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise ConfigError(
            f"mqtt TLS files cannot be loaded ({exc}); check mqtt.ca_file, mqtt.cert_file and mqtt.key_file"
        ) from None
    if cfg.tls_insecure:
        client.tls_insecure_set(True)


def read_retained(cfg: MqttConfig, filters: Sequence[str], *, wait_s: float = 2.0) -> list[tuple[str, bytes]]:
    """The retained messages under `filters` (topic, payload), as a new client sees them within `wait_s`
    of subscribing. Raises UserError when the broker cannot be reached or refuses the connection."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"edge-building-{secrets.token_hex(4)}", protocol=mqtt.MQTTv5
    )
    configure_client(client, cfg)
    retained: list[tuple[str, bytes]] = []
    connected, subscribed = threading.Event(), threading.Event()
    refusal: list[str] = []

    def on_connect(client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if reason_code.is_failure:
            refusal.append(str(reason_code))
        connected.set()

    def on_message(client: Any, userdata: Any, message: Any) -> None:
        if message.retain:
            retained.append((message.topic, bytes(message.payload)))

    client.on_connect = on_connect
    client.on_subscribe = lambda *args: subscribed.set()
    client.on_message = on_message
    where = f"the MQTT broker at {cfg.host}:{cfg.port}"
    try:
        client.connect(cfg.host, cfg.port, keepalive=cfg.keepalive)
    except (OSError, ValueError) as exc:
        raise UserError(f"{where} cannot be reached ({exc}); check mqtt.host, mqtt.port and mqtt.tls") from None
    client.loop_start()
    try:
        if not connected.wait(max(wait_s, 5.0)) or refusal:
            raise UserError(f"{where} refused the connection ({', '.join(refusal) or 'no answer'}); check "
                            "mqtt.username, mqtt.password_file and the broker's ACL")  # fmt: skip
        client.subscribe([(topic_filter, 0) for topic_filter in filters])
        subscribed.wait(wait_s)
        time.sleep(wait_s)  # retained messages follow the SUBACK; this is how long they may take
    finally:
        client.disconnect()
        client.loop_stop()
    return list(retained)
