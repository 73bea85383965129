"""Text post-processing: the pipeline's TextPostprocessor and `edge postprocess`."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from edge.commands.postprocess import process_stream
from edge.core.errors import UserError
from edge.text.glossary import Glossary, GlossaryTerm
from edge.text.postprocess import TextPostprocessor

PROJECT_ROOT = Path(__file__).resolve().parent.parent
GLOSSARY_CSV = PROJECT_ROOT / "tests" / "data" / "glossary.csv"
# Runs the real CLI entry point with only the command under test registered, so this test does not
# depend on the other command modules.
CLI = (
    "import sys; from edge.commands import cli; "
    "cli.COMMANDS = {'postprocess': cli.COMMANDS['postprocess']}; sys.exit(cli.main(sys.argv[1:]))"
)


def test_processor_drops_keeps_and_corrects() -> None:
    processor = TextPostprocessor("ko", Glossary.from_csv(GLOSSARY_CSV))
    dropped = processor.process("시청해주셔서 감사합니다.")
    assert (dropped.dropped, dropped.reason, dropped.text, dropped.corrections) == (
        True,
        "stock_phrase",
        "시청해주셔서 감사합니다.",
        (),
    )
    kept = processor.process("깃헙에 풀리퀘 올렸어요")
    assert (kept.dropped, kept.reason, kept.text) == (False, None, "GitHub에 pull request 올렸어요")
    assert [c["term"] for c in kept.corrections] == ["GitHub", "pull request"]
    assert json.loads(json.dumps(kept.corrections)) == list(kept.corrections)  # storable as JSON
    assert processor.process("감사합니다").dropped is False


def test_processor_remembers_previous_segments_until_reset() -> None:
    processor = TextPostprocessor("ko")
    sentence = "다음 주 화요일까지 기획서 초안을 공유하겠습니다"
    assert not processor.process(sentence).dropped
    assert processor.process(sentence).reason == "repeat_of_previous"
    processor.reset()
    assert not processor.process(sentence).dropped


def test_processor_normalizes_to_nfc_and_swaps_glossaries() -> None:
    processor = TextPostprocessor("ko")
    decomposed = "\u1100\u1175\u11ba\u1112\u1165\u11b8에 올렸어요"  # 깃헙 as conjoining jamo
    assert processor.process(decomposed).text == "깃헙에 올렸어요"
    processor.set_glossary(Glossary([GlossaryTerm("GitHub", ("깃헙",))]))
    assert processor.process(decomposed).text == "GitHub에 올렸어요"
    processor.set_glossary(None)
    assert processor.process("깃헙이요 깃헙").text == "깃헙이요 깃헙"


def test_process_stream_writes_one_json_line_per_input_line() -> None:
    source = io.BytesIO("\ufeff[음악]\r\n쿠버네티스를 올렸어요\n\nThanks for watching!".encode())
    sink = io.BytesIO()
    assert process_stream(TextPostprocessor("ko", Glossary.from_csv(GLOSSARY_CSV)), source, sink) == 0
    rows = [json.loads(line) for line in sink.getvalue().decode("utf-8").splitlines()]
    assert [(row["dropped"], row["reason"]) for row in rows] == [
        (True, "non_speech"),
        (False, None),
        (True, "empty"),
        (True, "stock_phrase"),
    ]
    assert rows[0]["text"] == "[음악]"
    assert rows[1]["text"] == "Kubernetes를 올렸어요"
    assert rows[1]["corrections"] == [
        {
            "start": 0,
            "end": 5,
            "original": "쿠버네티스",
            "replacement": "Kubernetes",
            "term": "Kubernetes",
            "rule": "exact",
            "score": 1.0,
            "cost": 0.0,
        }
    ]
    assert '"Kubernetes를 올렸어요"' in sink.getvalue().decode("utf-8")  # UTF-8, not \u escapes


def test_process_stream_rejects_invalid_utf8_naming_the_line() -> None:
    source = io.BytesIO("네\n".encode() + b"\xff\xfe bad\n")
    with pytest.raises(UserError, match="stdin line 2 is not valid UTF-8"):
        process_stream(TextPostprocessor("ko"), source, io.BytesIO())


def _cli(args: list[str], stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-c", CLI, "postprocess", *args],
        input=stdin,
        capture_output=True,
        cwd=PROJECT_ROOT,
        timeout=60,
        check=False,
    )


def test_cli_end_to_end() -> None:
    result = _cli(
        ["--language", "ko", "--glossary", str(GLOSSARY_CSV)],
        "깃헙을 보세요\nMBC 뉴스 이덕영입니다.\n".encode(),
    )
    assert result.returncode == 0, result.stderr.decode()
    lines = result.stdout.decode("utf-8").splitlines()
    assert lines[0].startswith(
        '{"text": "GitHub를 보세요", "dropped": false, "reason": null, "corrections": [{'
    )
    assert json.loads(lines[1]) == {
        "text": "MBC 뉴스 이덕영입니다.",
        "dropped": True,
        "reason": "stock_phrase",
        "corrections": [],
    }


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        ([], b"ok\n\xc3\x28\n", "stdin line 2 is not valid UTF-8"),
        (["--glossary", "no-such-glossary.csv"], b"", "no-such-glossary.csv does not exist"),
        (["--language", "Korean"], b"", "--language 'Korean' is not a whisper language code"),
    ],
)
def test_cli_errors_are_one_line_and_exit_2(args: list[str], stdin: bytes, message: str) -> None:
    result = _cli(args, stdin)
    assert result.returncode == 2
    stderr = result.stderr.decode("utf-8").strip()
    assert len(stderr.splitlines()) == 1
    assert stderr.startswith("edge postprocess: error: ")
    assert message in stderr


def test_a_cut_loop_is_in_the_corrections_before_the_glossary() -> None:
    glossary = Glossary([GlossaryTerm("Terraform", ("테라폼",))])
    processed = TextPostprocessor("ko", glossary).process("테라폼, 뱅뒷와 음룸, 룸, 룸, 룸, 룸, 룸, 룸, 룸.")
    assert (processed.dropped, processed.text) == (False, "Terraform, 뱅뒷와 음룸")
    cut, fix = processed.corrections
    assert (cut["rule"], cut["unit"], cut["repeats"], cut["replacement"]) == ("repetition_loop", "룸", 8, "")
    assert (fix["rule"], fix["original"], fix["term"]) == ("exact", "테라폼", "Terraform")


def test_han_in_a_korean_meeting_is_transliterated_by_the_glossary_or_flagged() -> None:
    glossary = Glossary([GlossaryTerm("회의", ("会议",))])
    processed = TextPostprocessor("ko", glossary).process("오늘 会议는 配置 얘기만 해요")
    assert processed.text == "오늘 회의는 配置 얘기만 해요"
    assert [(c["rule"], c["original"]) for c in processed.corrections] == [("alias", "会议"), ("han_flagged", "配置")]
    assert TextPostprocessor("en").process("配置 is Chinese").corrections == ()  # only Korean meetings flag
