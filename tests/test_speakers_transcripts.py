"""Speakers in exported and imported transcripts (issue 11): WebVTT voices `<v Name>` (escaped), "Name: " in
SubRip, text and Markdown, `speaker`/`speaker_id` in JSON; an imported WebVTT's voices become the meeting's
named speakers (S1, S2, ... in order of appearance); an export read back keeps who said each segment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.core.errors import UserError
from edge.core.events import Segment
from edge.store import Store
from edge.transcripts.formats import render
from edge.transcripts.importing import import_transcript, parse_transcript

SEGMENTS = [
    Segment("m1", 0, 1000, 3500, "회의를 시작하겠습니다", "ko", speaker="S1", speaker_name="김민수"),
    Segment("m1", 1, 4000, 6000, "네 <좋습니다> & 진행하죠", "ko", speaker="S2"),
    Segment("m1", 2, 6500, 7000, "(박수)", "ko"),
    Segment("m1", 3, 8000, 9000, "Tom says hi", "en", speaker="S3", speaker_name="Tom <&> Jerry"),
]


def test_exports_lead_each_segment_with_its_speaker() -> None:
    vtt = render(SEGMENTS, "vtt")
    assert "00:00:01.000 --> 00:00:03.500\n<v 김민수>회의를 시작하겠습니다\n" in vtt
    assert "<v S2>네 &lt;좋습니다&gt; &amp; 진행하죠\n" in vtt
    assert "00:00:06.500 --> 00:00:07.000\n(박수)\n" in vtt  # no speaker: as before
    assert "<v Tom &lt;&amp;&gt; Jerry>Tom says hi\n" in vtt
    srt = render(SEGMENTS, "srt")
    assert "1\n00:00:01,000 --> 00:00:03,500\n김민수: 회의를 시작하겠습니다\n" in srt
    assert "3\n00:00:06,500 --> 00:00:07,000\n(박수)\n" in srt
    assert render(SEGMENTS, "txt").splitlines() == [
        "[00:00:01.000] 김민수: 회의를 시작하겠습니다", "[00:00:04.000] S2: 네 <좋습니다> & 진행하죠",
        "[00:00:06.500] (박수)", "[00:00:08.000] Tom <&> Jerry: Tom says hi",
    ]  # fmt: skip
    md = render(SEGMENTS, "md")
    assert "**00:00:01** 김민수: 회의를 시작하겠습니다  " in md
    assert "**00:00:08** Tom \\<&\\> Jerry: Tom says hi  " in md
    assert "**00:00:06** (박수)  " in md
    exported = json.loads(render(SEGMENTS, "json"))["segments"]
    assert [(s["speaker"], s["speaker_id"]) for s in exported] == [
        ("김민수", "S1"), ("S2", "S2"), (None, None), ("Tom <&> Jerry", "S3")
    ]  # fmt: skip


def test_webvtt_voices_become_labels_in_order_of_appearance_with_their_names(tmp_path: Path) -> None:
    vtt = (
        "WEBVTT\n\n"
        "00:00:01.000 --> 00:00:02.000\n<v 이지은>안녕하세요\n\n"
        "00:00:02.500 --> 00:00:03.000\n<v.loud 김민수>반갑습니다</v>\n\n"
        "00:00:03.500 --> 00:00:04.000\n그냥 자막\n\n"
        "00:00:04.500 --> 00:00:05.000\n<v   이지은  >제가 금요일까지 보고서 올리겠습니다\n\n"
        "00:00:05.500 --> 00:00:06.000\n<v Tom &amp; Jerry>Hi <i>all</i>\n"
    )
    store = Store(tmp_path / "edge.db")
    result = import_transcript(store, vtt, name="weekly.vtt")
    segments = store.segments(result.meeting.id)
    assert [(s.text_raw, s.speaker, s.speaker_display) for s in segments] == [
        ("안녕하세요", "S1", "이지은"), ("반갑습니다", "S2", "김민수"), ("그냥 자막", None, None),
        ("제가 금요일까지 보고서 올리겠습니다", "S1", "이지은"), ("Hi all", "S3", "Tom & Jerry"),
    ]  # fmt: skip
    assert [(s.label, s.name, s.segments) for s in store.speakers(result.meeting.id)] == [
        ("S1", "이지은", 2), ("S2", "김민수", 1), ("S3", "Tom & Jerry", 1)
    ]  # fmt: skip
    assert store.pending_outbox() == []  # imported: nothing published without mqtt.publish_imports


def test_a_voice_name_that_cannot_be_a_speaker_name_refuses_the_import_and_changes_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path / "edge.db")
    vtt = f"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v {'김' * 70}>안녕하세요\n"
    with pytest.raises(UserError, match=r"long.vtt: the speaker '김+' cannot be imported: .*at most 64"):
        import_transcript(store, vtt, name="long.vtt")
    assert store.meetings() == []


NAMES = st.text(
    st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs"), exclude_characters="\x85\xa0\u2028\u2029"),
    min_size=1, max_size=20,
).filter(str.strip)  # fmt: skip
TEXTS = st.text(st.characters(codec="utf-8", categories=("L", "N", "Zs")), min_size=1, max_size=30).filter(str.strip)


@settings(max_examples=40, deadline=None)
@given(said=st.lists(st.tuples(st.one_of(st.none(), NAMES), TEXTS), min_size=1, max_size=8))
def test_an_exported_webvtt_read_back_keeps_who_said_each_segment(said: list[tuple[str | None, str]]) -> None:
    labels: dict[str, str] = {}
    segments = []
    for seq, (name, text) in enumerate(said):
        label = labels.setdefault(" ".join(name.split()), f"S{len(labels) + 1}") if name else None
        segments.append(Segment("m", seq, seq * 2000, seq * 2000 + 1500, text, "ko", speaker=label,
                                speaker_name=" ".join(name.split()) if name else ""))  # fmt: skip
    parsed = parse_transcript(render(segments, "vtt"), name="x.vtt")
    assert [(s.get("voice"), s["text_raw"]) for s in parsed.segments] == [
        (s.speaker_display, " ".join(s.text_raw.split())) for s in segments
    ]


def test_vtt_and_json_round_trips_through_the_store_keep_names_per_segment(tmp_path: Path) -> None:
    store = Store(tmp_path / "edge.db")
    meeting = store.create_meeting(language="ko", source="pyaudio:test", title="원본")
    for seq, (label, text) in enumerate([("S1", "회의를 시작하겠습니다"), ("S2", "네"), (None, "(박수)"),
                                         ("S3", "Hi"), ("S1", "다음 안건입니다")]):  # fmt: skip
        store.add_segment(meeting.id, t0_ms=seq * 2000, t1_ms=seq * 2000 + 1500, text_raw=text, language="ko",
                          speaker=label)  # fmt: skip
    store.set_speaker_name(meeting.id, "S1", "김민수")
    store.set_speaker_name(meeting.id, "S3", "Alex Kim")
    original = store.segments(meeting.id)
    for fmt in ("vtt", "json"):
        result = import_transcript(store, render(original, fmt), name=f"again.{fmt}")
        copy = store.segments(result.meeting.id)
        assert [s.speaker_display for s in copy] == ["김민수", "S2", None, "Alex Kim", "김민수"], fmt
        assert [s.text_raw for s in copy] == [s.text_raw for s in original]
    # JSON keeps the labels themselves; WebVTT numbers the voices in order of appearance.
    assert [s.speaker for s in copy] == ["S1", "S2", None, "S3", "S1"]
