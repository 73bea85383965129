"""The speaker stage as the box runs it: built from the configuration, and its end-of-meeting labels stored as
new revisions of the segments they change."""

from __future__ import annotations

import logging

from edge.core.config import SpeakerConfig
from edge.speaker.attribution import SpeakerAttribution
from edge.speaker.clustering import MeetingSpeakers
from edge.store import Store, StoreWriteFailed

log = logging.getLogger(__name__)


def speaker_attribution(cfg: SpeakerConfig) -> SpeakerAttribution:
    from edge.speaker.encoder import SpeakerEncoder

    return SpeakerAttribution(
        lambda: SpeakerEncoder(cfg.model_path),
        meeting_speakers=lambda: MeetingSpeakers(
            assign_similarity=cfg.assign_similarity,
            merge_similarity=cfg.merge_similarity,
            max_speakers=cfg.max_speakers,
        ),
    )


def store_refined_speakers(
    store: Store, attribution: SpeakerAttribution, meeting_id: str, labels: dict[tuple[int, int], str]
) -> int:
    """Give each stored segment of the meeting its end-of-meeting speaker; returns how many changed."""
    changed = {
        segment.seq: labels[(segment.t0_ms, segment.t1_ms)]
        for segment in store.segments(meeting_id, limit=1_000_000)
        if labels.get((segment.t0_ms, segment.t1_ms), segment.speaker) != segment.speaker
    }
    if not changed:
        return 0
    try:
        count = store.relabel_segments(meeting_id, changed)
    except StoreWriteFailed as exc:  # the online labels stand; nothing said is lost
        log.error("meeting %s: the end-of-meeting speakers of %d segments not stored: %s",
                  meeting_id, len(changed), exc)  # fmt: skip
        return 0
    attribution.stats.relabelled += count
    log.info("meeting %s: the end-of-meeting speaker pass relabelled %d segments", meeting_id, count)
    return count
