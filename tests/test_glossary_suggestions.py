"""Turning a person's edit of a segment into glossary suggestions (pure; no store)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.text.glossary import Glossary, GlossaryCorrector, GlossaryTerm
from edge.text.glossary_suggestions import MAX_SUGGESTIONS, suggest_from_edit

GLOSSARY = Glossary(
    [
        GlossaryTerm("Kubernetes", ("쿠버네티스", "k8s")),
        GlossaryTerm("sprint", ("스프린트",)),
        GlossaryTerm("Notion", ("노션",)),
        GlossaryTerm("포스트그레SQL"),
    ]
)
REPOSITORY_GLOSSARY = Glossary.from_csv(Path(__file__).parent / "data" / "glossary.csv")


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        # Korean: what was heard -> the term, the particle kept out of both sides
        ("쿠베 클러스터를 재시작했어요", "Kubernetes 클러스터를 재시작했어요", [("쿠베", "Kubernetes")]),
        ("쿠베를 재시작했어요", "Kubernetes를 재시작했어요", [("쿠베", "Kubernetes")]),
        ("쿠베를 재시작했어요", "Kubernetes 를 재시작했어요", [("쿠베", "Kubernetes")]),
        ("깃헙을 확인해 주세요", "GitHub를 확인해 주세요", [("깃헙", "GitHub")]),  # 을 -> 를 follows the sound
        ("깃헙을 확인해 주세요", "GitHub을 확인해 주세요", [("깃헙", "GitHub")]),
        ("깃허브로 옮겨요", "GitHub로 옮겨요", [("깃허브", "GitHub")]),
        ("지라에서 티켓 봤어요", "Jira에서 티켓 봤어요", [("지라", "Jira")]),
        ("젠킨스가 또 죽었네", "Jenkins가 또 죽었네", [("젠킨스", "Jenkins")]),
        ("큐에이팀에 넘길게요", "QA팀에 넘길게요", [("큐에이", "QA")]),
        ("롤빽해 주세요", "rollback해 주세요", [("롤빽", "rollback")]),
        ("씨아이씨디 파이프라인이 깨졌어요", "CI/CD 파이프라인이 깨졌어요", [("씨아이씨디", "CI/CD")]),
        ("노드 제이에스로 짰어요", "Node.js로 짰어요", [("노드 제이에스", "Node.js")]),
        ("쿠버 네티스 업그레이드", "Kubernetes 업그레이드", []),  # 쿠버네티스 is an alias already
        ("쿠버 네트 업그레이드", "Kubernetes 업그레이드", [("쿠버 네트", "Kubernetes")]),
        ("풀리퀘 올렸어요", "pull request 올렸어요", [("풀리퀘", "pull request")]),
        ("풀 리퀘 올렸어요", "PR 올렸어요", [("풀 리퀘", "PR")]),
        ('"쿠베"라고 부르죠', '"Kubernetes"라고 부르죠', [("쿠베", "Kubernetes")]),
        ("쿠베, 그리고 노드", "Kubernetes, 그리고 노드", [("쿠베", "Kubernetes")]),
        ("그 쿠베 말이에요", "그 Kubernetes 말이에요", [("쿠베", "Kubernetes")]),
        # a spelling of a term names the term
        ("쿠베는 좋아요.", "k8s는 좋아요.", [("쿠베", "Kubernetes")]),
        ("쿠베는 좋아요.", "kubernetes는 좋아요.", [("쿠베", "Kubernetes")]),
        # a Hangul or mixed term already in the glossary
        ("스프린 계획을 세워요", "스프린트 계획을 세워요", [("스프린", "sprint")]),
        ("스프린을 계획해요", "스프린트를 계획해요", [("스프린", "sprint")]),
        ("포스트그레스에서 조회", "포스트그레SQL에서 조회", [("포스트그레스", "포스트그레SQL")]),
        # word for word: only the names count
        ("쿠베 클러스터", "Kubernetes cluster", [("쿠베", "Kubernetes")]),
        ("회의 시작", "start meeting", []),
        # two terms in one edit
        (
            "쿠베 배포는 지라에 적어 두세요",
            "Kubernetes 배포는 Jira에 적어 두세요",
            [("쿠베", "Kubernetes"), ("지라", "Jira")],
        ),
        # English: a misrecognition that resembles the term
        ("we use Cooper Netties now", "we use Kubernetes now", [("Cooper Netties", "Kubernetes")]),
        ("push it to get hub", "push it to GitHub", [("get hub", "GitHub")]),
        ("open a jura ticket", "open a Jira ticket", [("jura", "Jira")]),
        ("run cube control apply", "run kubectl apply", [("cube control", "kubectl")]),
        ("we store it in post gress", "we store it in PostgreSQL", [("post gress", "PostgreSQL")]),
    ],
)
def test_a_term_correction_becomes_a_suggestion(before: str, after: str, expected: list[tuple[str, str]]) -> None:
    assert suggest_from_edit(before, after, GLOSSARY) == expected


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # ordinary Korean rewording
        ("재시작했어요", "재부팅했어요"),
        ("회의를 내일 합니다", "회의를 모레 합니다"),
        ("오늘 배포 했어요", "오늘 배포했어요"),
        ("이거 좀 봐 주세요", "이것 좀 봐 주세요"),
        ("네 알겠습니다", "네, 알겠습니다."),
        ("쿠베 클러스터를 재시작했어요", "쿠베 클러스터를 재부팅했어요"),
        # a rewrite of most of the segment is not a term fix
        ("오늘은 날씨가 좋네요 정말로 그렇죠", "Today the weather is really nice isnt it"),
        ("쿠베 지라 노드 배포 다 했어요", "Kubernetes Jira node deploy all done"),
        # ordinary English rewording and spelling
        ("the meeting is tomorrow", "the meeting is on Friday"),
        ("there house is big", "their house is big"),
        ("we can ask him", "we can task him"),
        ("ship it on friday", "ship it on monday"),
        ("그거 맞아요", "the 맞아요"),
        # the same spelling, or only case and spacing
        ("Github 링크 주세요", "GitHub 링크 주세요"),
        ("kubernetes 클러스터", "Kubernetes 클러스터"),
        ("Git Hub 링크", "GitHub 링크"),
        ("CI CD 파이프라인", "CI/CD 파이프라인"),
        # already a spelling of the term, or of another term
        ("쿠버네티스 클러스터", "Kubernetes 클러스터"),
        ("노션에 적어요", "Confluence에 적어요"),
        ("Notion에 적어요", "Confluence에 적어요"),
        # a particle the old side does not end in
        ("쿠베 재시작", "Kubernetes를 재시작"),
        # insertions and deletions only
        ("클러스터를 재시작했어요", "Kubernetes 클러스터를 재시작했어요"),
        ("Kubernetes 클러스터를 재시작했어요", "클러스터를 재시작했어요"),
        # long spans
        ("하나 둘 셋 넷 다섯 여섯 일곱 여덟 아홉 열", "하나 둘 셋 넷 one two three four 아홉 열"),
        # nothing there
        ("", "Kubernetes"),
        ("쿠베", ""),
        ("...", "Kubernetes"),
        ("쿠베", "!!"),
    ],
)
def test_rewording_gives_no_suggestion(before: str, after: str) -> None:
    assert suggest_from_edit(before, after, GLOSSARY) == []


def test_works_without_a_glossary() -> None:
    assert suggest_from_edit("쿠베 노드가 죽었어요", "Kubernetes 노드가 죽었어요", None) == [("쿠베", "Kubernetes")]
    assert suggest_from_edit("쿠베 노드가 죽었어요", "Kubernetes 노드가 죽었어요", Glossary()) == [
        ("쿠베", "Kubernetes")
    ]


def test_repeats_are_suggested_once_and_the_count_is_bounded() -> None:
    before = "쿠베 쿠베 얘기를 했고 지라 얘기를 했고"
    after = "Kubernetes Kubernetes 얘기를 했고 Jira 얘기를 했고"
    assert suggest_from_edit(before, after, GLOSSARY) == [("쿠베", "Kubernetes"), ("지라", "Jira")]
    words = [f"단어{n}" for n in range(40)]
    fixed = [f"Term{n}" if n % 4 == 0 else word for n, word in enumerate(words)]
    assert len(suggest_from_edit(" ".join(words), " ".join(fixed), None)) == MAX_SUGGESTIONS


def test_with_the_repository_glossary_known_spellings_are_not_suggested_again() -> None:
    # 깃헙 and 풀리퀘 are aliases in the repository's glossary: layer b already corrects them.
    assert suggest_from_edit("깃헙에 풀리퀘 올렸어요", "GitHub에 pull request 올렸어요", REPOSITORY_GLOSSARY) == []
    assert suggest_from_edit("깃헙스에 올렸어요", "GitHub에 올렸어요", REPOSITORY_GLOSSARY) == [("깃헙스", "GitHub")]


def test_an_accepted_suggestion_corrects_the_next_segment() -> None:
    [(alias, term)] = suggest_from_edit("쿠베를 재시작", "Kubernetes를 재시작", GLOSSARY)
    entry = GLOSSARY.get(term)
    assert entry is not None
    learned = Glossary(
        [GlossaryTerm(t.term, (*t.aliases, alias), t.note) if t is entry else t for t in GLOSSARY]
    )
    assert GlossaryCorrector(GLOSSARY).correct("쿠베가 죽었어요")[0] == "쿠베가 죽었어요"
    assert GlossaryCorrector(learned).correct("쿠베가 죽었어요")[0] == "Kubernetes가 죽었어요"
