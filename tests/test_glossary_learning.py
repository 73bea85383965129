"""The box learns from people: an edit of a segment in the admin API turns into a glossary suggestion,
and accepting it changes how the next segment with that word is corrected, in the same meeting and in
later ones. The real Box (no models loaded: open() is not called), its real Store, the real API server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from edge.api.app import create_app
from edge.api.server import ApiServer
from edge.app import Box
from edge.core.config import ApiConfig, Config
from edge.core.events import AsrSegment

TOKEN = "glossary-learning-token-0123456789"


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Box]:
    cfg = Config.model_validate(
        {"storage": {"path": str(tmp_path / "data")}, "api": {"enabled": False}, "mqtt": {"enabled": False}}
    )
    real = Box(cfg)
    yield real
    real.close()


@pytest.fixture
def api(box: Box) -> Iterator[httpx.Client]:
    server = ApiServer(create_app(box, ApiConfig(), TOKEN), "127.0.0.1", 0)
    server.start()
    try:
        with httpx.Client(
            base_url=server.url + "/api/v1", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        ) as client:
            yield client
    finally:
        server.stop()


def _commit(box: Box, meeting_id: str, text: str):
    t0 = box.store.segment_count(meeting_id) * 3000
    box.committer.commit(meeting_id, [AsrSegment(t0, t0 + 2500, text, "ko")])
    return box.store.segments(meeting_id)[-1]


def test_an_edit_becomes_a_suggestion_and_accepting_it_corrects_the_next_segment(
    box: Box, api: httpx.Client
) -> None:
    meeting = box.store.create_meeting(language="ko", source="test")
    first = _commit(box, meeting.id, "쿠베 클러스터를 재시작했어요")
    assert (first.seq, first.display_text, first.corrections) == (0, "쿠베 클러스터를 재시작했어요", [])

    # A person fixes the term in the admin page.
    edited = api.patch(f"/meetings/{meeting.id}/segments/0", json={"text": "Kubernetes 클러스터를 재시작했어요"})
    assert edited.status_code == 200, edited.text
    [suggestion] = api.get("/glossary/suggestions").json()["items"]
    assert (suggestion["alias"], suggestion["term"], suggestion["meeting_id"], suggestion["seq"]) == (
        "쿠베", "Kubernetes", meeting.id, 0
    )

    # Not accepted yet: the word still comes out as it was heard.
    before = _commit(box, meeting.id, "쿠베 로그부터 볼게요")
    assert (before.display_text, before.corrections) == ("쿠베 로그부터 볼게요", [])

    accepted = api.post(f"/glossary/suggestions/{suggestion['id']}/accept")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["term"]["aliases"] == ["쿠베"]

    # Accepted: the next segment with that word is corrected, the raw text kept, the change recorded.
    after = _commit(box, meeting.id, "쿠베 노드가 죽었어요")
    assert after.text_raw == "쿠베 노드가 죽었어요"
    assert after.display_text == "Kubernetes 노드가 죽었어요"
    [correction] = after.corrections
    assert {key: correction[key] for key in ("original", "replacement", "term", "start", "end")} == {
        "original": "쿠베", "replacement": "Kubernetes", "term": "Kubernetes", "start": 0, "end": 2
    }
    assert correction["rule"] == "exact"
    assert correction["score"] == 1.0
    listed = api.get(f"/meetings/{meeting.id}/segments").json()["items"]
    assert [s["text"] for s in listed] == [
        "Kubernetes 클러스터를 재시작했어요", "쿠베 로그부터 볼게요", "Kubernetes 노드가 죽었어요"
    ]

    # And in a later meeting, with the particle made to agree with the term's reading.
    later = box.store.create_meeting(language="ko", source="test")
    assert _commit(box, later.id, "쿠베를 다시 배포했어요").display_text == "Kubernetes를 다시 배포했어요"


def test_a_rejected_suggestion_changes_nothing(box: Box, api: httpx.Client) -> None:
    meeting = box.store.create_meeting(language="ko", source="test")
    _commit(box, meeting.id, "지라에 적어 둘게요")
    api.patch(f"/meetings/{meeting.id}/segments/0", json={"text": "Jira에 적어 둘게요"})
    [suggestion] = api.get("/glossary/suggestions").json()["items"]
    assert (suggestion["alias"], suggestion["term"]) == ("지라", "Jira")
    assert api.post(f"/glossary/suggestions/{suggestion['id']}/reject").status_code == 200
    assert _commit(box, meeting.id, "지라 보드를 정리했어요").display_text == "지라 보드를 정리했어요"
    assert len(box.store.glossary()) == 0
