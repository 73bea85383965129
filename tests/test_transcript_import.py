"""Transcript import: WebVTT, SRT and our JSON export parsed into segments; errors name the line;
`edge import` creates an 'imported' meeting with segments and outbox rows in one transaction."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.commands.cli import main
from edge.core.errors import UserError
from edge.core.events import Segment
from edge.store import Store
from edge.text.glossary import Glossary
from edge.transcripts.formats import render
from edge.transcripts.importing import import_transcript, parse_transcript, parse_vtt

VTT = """WEBVTT - exported by another recorder
Kind: captions

NOTE this block is a comment
spanning two lines

STYLE
::cue { color: yellow }

intro
00:00:01.000 --> 00:00:03.500 align:start position:10%
<v 김민수>쿠버네티스 클러스터를
업그레이드합니다</v>

00:04.250 --> 00:06.000
Tom &amp; Jerry <b>agree</b> &lt;finally&gt;

00:00:07.000 --> 00:00:08.000
<c.yellow></c>
"""

SRT = """1
00:00:01,000 --> 00:00:02,500
<i>Hello</i> {\\an8}world

2
00:00:03,000 --> 00:00:04,000
둘째 줄
이어지는 줄
"""


def test_webvtt_cues_with_identifiers_settings_voices_and_entities() -> None:
    cues = parse_vtt(VTT, "meeting.vtt")
    assert cues == [
        {"t0_ms": 1000, "t1_ms": 3500, "text_raw": "쿠버네티스 클러스터를 업그레이드합니다", "voice": "김민수"},
        {"t0_ms": 4250, "t1_ms": 6000, "text_raw": "Tom & Jerry agree <finally>"},
    ]  # the third cue has only markup: no text, no segment


def test_srt_cues_with_markup_crlf_and_bom() -> None:
    data = ("\ufeff" + SRT).replace("\n", "\r\n").encode("utf-8")
    parsed = parse_transcript(data, name="talk.srt")
    assert parsed.format == "srt"
    assert parsed.segments == [
        {"t0_ms": 1000, "t1_ms": 2500, "text_raw": "Hello world"},
        {"t0_ms": 3000, "t1_ms": 4000, "text_raw": "둘째 줄 이어지는 줄"},
    ]


def test_cp949_subtitles_from_korean_windows_are_read() -> None:
    parsed = parse_transcript(SRT.encode("cp949"), name="old.srt")
    assert parsed.segments[1]["text_raw"] == "둘째 줄 이어지는 줄"


def test_format_is_sniffed_when_the_name_has_no_known_suffix() -> None:
    assert parse_transcript(VTT, name="upload").format == "vtt"
    assert parse_transcript(SRT, name="upload").format == "srt"


@pytest.mark.parametrize(
    ("text", "name", "expected"),
    [
        ("1\n00:00:01,000 -> 00:00:02,000\nhi\n", "a.srt", "a.srt line 1: expected a SubRip cue"),
        ("1\n00:00:01,000 --> 00:00:02,000\nhi\n\n2\n00:00:03,000 --> 00:0x:04,000\nyo\n", "a.srt", "a.srt line 6:"),
        ("1\n00:00:05,000 --> 00:00:02,000\nhi\n", "a.srt", "a.srt line 2: the cue ends"),
        ("WEBVTT\n\n00:00:01.000 --> 00:00:02,000\nhi\n", "a.vtt", "a.vtt line 3: '00:00:02,000' is not a cue time"),
        ("WEBVTT\n\njust some words\nmore words\n", "a.vtt", "a.vtt line 3: expected a cue"),
        ("1\n00:00:01,000 --> 00:00:02,000\nhi\n", "a.vtt", "a.vtt line 1: a WebVTT file starts with"),
        ('{"v": 1, "segments": [\n  {"t0_ms": 0, "t1_ms": 1, "text": "a"},\n  {"t0_ms": 5}\n]}', "a.json",
         "a.json: segments[1].t1_ms: Field required"),
        ('{"v": 1, "segments": [\n  {"t0_ms": 0, "t1_ms": 1, "text": "a"},\n]}', "a.json",
         "a.json line 3 column 1: invalid JSON"),
        ('{"v": 2, "segments": []}', "a.json", "a.json: v: unsupported version"),
        ("WEBVTT\n\nNOTE nothing else\n", "a.vtt", "a.vtt has no cues with text"),
        ("just a text file", "notes.txt", "cannot tell the format of notes.txt"),
    ],
)
def test_malformed_input_names_the_line_and_the_fix(text: str, name: str, expected: str) -> None:
    with pytest.raises(UserError) as caught:
        parse_transcript(text, name=name)
    assert str(caught.value).startswith(expected) or expected in str(caught.value), str(caught.value)


def test_binary_and_undecodable_files_are_refused_clearly() -> None:
    with pytest.raises(UserError, match="binary file"):
        parse_transcript(b"RIFF\x00\x00\x00\x00WAVEfmt ", name="x.srt")
    with pytest.raises(UserError, match="not UTF-8"):
        parse_transcript(b"\xff\xfe\xfa\xfb" * 10, name="x.srt")


def _segments(texts: list[str]) -> list[Segment]:
    return [
        Segment("m1", i, i * 2000 + 7, i * 2000 + 1507, text, "ko", 0.5 + i / 100, None)
        for i, text in enumerate(texts)
    ]


PLAIN_TEXT = st.text(
    st.characters(codec="utf-8", categories=("L", "N", "Zs"), exclude_characters="\x85\xa0\u2028\u2029"),
    min_size=1,
    max_size=40,
).filter(str.strip)


@settings(max_examples=60, deadline=None)
@given(texts=st.lists(PLAIN_TEXT, min_size=1, max_size=8), fmt=st.sampled_from(["srt", "vtt"]))
def test_our_srt_and_vtt_exports_read_back_unchanged(texts: list[str], fmt: str) -> None:
    segments = _segments(texts)
    parsed = parse_transcript(render(segments, fmt), name=f"x.{fmt}")
    assert [(s["t0_ms"], s["t1_ms"], s["text_raw"]) for s in parsed.segments] == [
        (s.t0_ms, s.t1_ms, " ".join(s.text_raw.split())) for s in segments
    ]


@settings(max_examples=60, deadline=None)
@given(texts=st.lists(st.text(min_size=1, max_size=40).filter(str.strip), min_size=1, max_size=8))
def test_our_json_export_reads_back_losslessly_including_markup_and_corrections(texts: list[str]) -> None:
    segments = [
        Segment("m1", 0, 0, 900, texts[0], "en", None, "corrected", [{"rule": "glossary", "from": "x"}]),
        *_segments(texts)[1:],
    ]
    parsed = parse_transcript(render(segments, "json", meeting={"title": "주간 회의", "language": "ko"}), name="x.json")
    assert parsed.title == "주간 회의"
    assert parsed.language == "ko"
    assert [(s["text_raw"], s["text"], s["language"], s["confidence"]) for s in parsed.segments] == [
        (s.text_raw, s.text, s.language, s.confidence) for s in segments
    ]
    assert parsed.segments[0]["corrections"] == [{"rule": "glossary", "from": "x"}]


def test_import_creates_an_imported_meeting_with_segments_and_no_live_segment_messages(tmp_path: Path) -> None:
    store = Store(tmp_path / "edge.db")
    result = import_transcript(store, SRT, name="weekly.srt")
    meeting = store.meeting(result.meeting.id)
    assert (meeting.status, meeting.title, meeting.source, meeting.language) == (
        "imported", "weekly", "import:weekly.srt", "ko"  # Hangul in the text: Korean
    )
    assert meeting.ended_at is not None
    segments = store.segments(meeting.id)
    assert [(s.seq, s.t0_ms, s.text_raw) for s in segments] == [
        (0, 1000, "Hello world"), (1, 3000, "둘째 줄 이어지는 줄")
    ]
    assert store.pending_outbox() == []  # not live speech: nothing for MQTT
    store.close()


def test_imports_are_published_marked_as_imported_when_asked(tmp_path: Path) -> None:
    store = Store(tmp_path / "edge.db", publish_imports=True)
    result = import_transcript(store, SRT, name="weekly.srt")
    outbox = store.pending_outbox()
    assert [(m.kind, m.payload["seq"], m.payload["imported"]) for m in outbox if m.payload] == [
        ("segment", 0, True), ("segment", 1, True)
    ]
    assert all(m.meeting_id == result.meeting.id for m in outbox)
    store.close()


def test_a_failed_import_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path / "edge.db")
    with pytest.raises(UserError):
        import_transcript(store, SRT, name="weekly.srt", language="Korean")
    with pytest.raises(UserError):
        import_transcript(store, SRT + "\n3\nbroken\n", name="weekly.srt")
    with pytest.raises(UserError, match="less than or equal"):
        huge = '{"v": 1, "segments": [{"t0_ms": 0, "t1_ms": 100000000000000000000, "text": "a"}]}'
        import_transcript(store, huge, name="x.json")
    # A failure after the meeting and the first segment were written rolls all of it back.
    add_segment = store.add_segment
    calls = []

    def failing_second_segment(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise OSError("disk full")
        return add_segment(*args, **kwargs)

    monkeypatch.setattr(store, "add_segment", failing_second_segment)
    with pytest.raises(OSError):
        import_transcript(store, SRT, name="weekly.srt")
    assert len(calls) == 2
    assert store.meetings() == []
    assert store.pending_outbox() == []
    store.close()


def test_edge_import_command_prints_the_meeting_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "edge.toml"
    config.write_text('[storage]\npath = "data"\n\n[mqtt]\nenabled = true\n', encoding="utf-8")
    transcript = tmp_path / "board.vtt"
    transcript.write_text(VTT, encoding="utf-8")
    monkeypatch.delenv("EDGE_CONFIG", raising=False)
    assert main(["import", str(transcript), "--title", "Board", "--language", "ko", "--config", str(config)]) == 0
    meeting_id = capsys.readouterr().out.strip()
    store = Store(tmp_path / "data" / "edge.db")
    meeting = store.meeting(meeting_id)
    assert (meeting.title, meeting.status, meeting.language) == ("Board", "imported", "ko")
    assert store.segment_count(meeting_id) == 2
    assert store.pending_outbox() == []  # mqtt enabled, but an import is not live speech
    store.close()


def test_edge_import_reports_a_bad_file_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDGE_STORAGE__PATH", str(tmp_path / "data"))
    monkeypatch.delenv("EDGE_CONFIG", raising=False)
    bad = tmp_path / "bad.srt"
    bad.write_text("1\n00:00:01,000 --> nonsense\nhi\n", encoding="utf-8")
    assert main(["import", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.srt line 2: 'nonsense' is not a cue time" in err
    assert "Traceback" not in err
    assert main(["import", str(tmp_path / "missing.vtt")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_an_import_goes_through_the_team_glossary_before_storage(tmp_path: Path) -> None:
    store = Store(tmp_path / "edge.db")
    store.import_glossary(
        Glossary.loads(
            "term,aliases,note\nKubernetes,쿠버네티스,\nJira,지라,\nGitHub,깃허브|깃헙,\n"
            "pull request,풀리퀘|풀 리퀘스트,\n회의,会议,\n"
        )
    )
    srt = (
        "1\n00:00:01,000 --> 00:00:03,000\n쿠버네티스 업그레이드는 지라에 올렸어요\n\n"
        "2\n00:00:03,000 --> 00:00:05,000\n깃허브 풀리퀘 확인해 주세요\n\n"
        "3\n00:00:05,000 --> 00:00:06,000\n오늘 会议는 配置 얘기만 해요\n\n"
        "4\n00:00:06,000 --> 00:00:07,000\n네 알겠습니다\n"
    )
    meeting = import_transcript(store, srt, name="weekly.srt").meeting
    segments = store.segments(meeting.id)
    assert [s.display_text for s in segments] == [
        "Kubernetes 업그레이드는 Jira에 올렸어요",
        "GitHub pull request 확인해 주세요",
        "오늘 회의는 配置 얘기만 해요",
        "네 알겠습니다",
    ]
    assert segments[0].text_raw == "쿠버네티스 업그레이드는 지라에 올렸어요"  # the file's words are kept
    assert [c["term"] for c in segments[0].corrections] == ["Kubernetes", "Jira"]
    assert [c["rule"] for c in segments[2].corrections] == ["alias", "han_flagged"]
    assert segments[2].corrections[1]["original"] == "配置"
    assert (segments[3].text, segments[3].corrections) == (None, [])
    store.close()
