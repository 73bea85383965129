"""The box's live side, one way: the store's change events (segments committed, revised by the LLM or a
person, dropped by the firewall) and the ASR stage's partials go onto the live bus, which the API's
stream and the MQTT publisher read. Nothing on the bus flows back into the pipeline."""

from __future__ import annotations

from contextlib import AbstractContextManager

from edge.core.events import LiveEvent, Partial, Utterance
from edge.core.live import LiveBus
from edge.core.queues import DropOldestQueue
from edge.store import Store


class LiveRelay:
    def __init__(self, store: Store, bus: LiveBus | None = None) -> None:
        self.bus = bus or LiveBus()
        store.add_change_listener(self.bus.publish)

    def publish(self, event: LiveEvent) -> None:
        self.bus.publish(event)

    def subscribe(self) -> AbstractContextManager[DropOldestQueue[LiveEvent]]:
        """A bounded subscription to the live events (a slow reader loses its oldest)."""
        return self.bus.subscribe()

    def partials_wanted(self) -> bool:
        """Does anyone listen? Partials cost ASR time, so the stage skips them when nobody does."""
        return self.bus.subscriber_count > 0

    def partial(self, utterance: Utterance, stable: str, unstable: str) -> None:
        """The ASR stage's live text of the utterance in progress (its owner thread)."""
        meeting_id, utterance_id = utterance.meeting_id, utterance.utterance_id
        self.bus.publish(Partial(meeting_id, utterance_id, utterance.start_ms, utterance.end_ms, stable, unstable))


