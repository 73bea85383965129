"""Owners are resolved to known people or left unassigned, never guessed (Korean name forms)."""

from __future__ import annotations

import pytest

from edge.minutes.owners import (
    Person,
    known_people,
    names_in_transcript,
    parse_person,
    resolve_owner,
    split_korean_name,
)

TRANSCRIPT = [
    "민수 씨, 배포 스크립트를 다음 주 금요일까지 정리해 주실 수 있을까요?",
    "네 제가 할게요.",
    "지은님이 API 문서를 맡아 주세요.",
    "고객님 요청은 다음 주에 다시 보죠. 아저씨가 오셨네요. 날씨가 좋네요.",
    "박지훈: 저는 금요일까지 테스트를 끝낼게요.",
    "최영호 과장님 의견도 들어 봐야겠어요.",
    "영호 씨는 오늘 안 오셨죠?",
]


@pytest.mark.parametrize(
    ("name", "surname", "given"),
    [
        ("김민수", "김", "민수"),
        ("남궁민수", "남궁", "민수"),
        ("남궁민", "남궁", "민"),
        ("민수", "", "민수"),
        ("Kim", "", "Kim"),
    ],
)
def test_split_korean_name(name: str, surname: str, given: str) -> None:
    assert split_korean_name(name) == (surname, given)


def test_attendee_entries_are_parsed_with_titles_and_honorifics() -> None:
    assert parse_person("김민수 팀장") == Person("김민수", "민수", "김", frozenset({"팀장"}))
    assert parse_person("이지은님") == Person("이지은", "지은", "이")
    assert parse_person("Alex Kim") == Person("Alex Kim", "Alex", "Kim")
    for nobody in ("제가", "팀장님", "", "unassigned", "우리 팀"):
        assert parse_person(nobody) is None, nobody


def test_names_come_from_honorifics_titles_and_speaker_labels_not_from_ordinary_words() -> None:
    names = {person.name for person in names_in_transcript(TRANSCRIPT)}
    assert names == {"민수", "지은", "박지훈", "최영호", "영호"}


def test_given_names_merge_into_the_full_name_they_belong_to() -> None:
    people = known_people(["김민수", "이지은 팀장"], TRANSCRIPT)
    by_name = {p.name: p for p in people}
    assert set(by_name) == {"김민수", "이지은", "박지훈", "최영호"}
    assert by_name["이지은"].titles == {"팀장"}
    assert by_name["최영호"].titles == {"과장"}
    # Two people called 민수: a bare "민수" belongs to neither, so it creates no third person.
    ambiguous = known_people(["김민수", "이민수"], ["민수 씨 부탁해요"])
    assert sorted(p.name for p in ambiguous) == ["김민수", "이민수"]


PEOPLE = known_people(["김민수", "이지은 팀장", "Alex Kim"], TRANSCRIPT)


@pytest.mark.parametrize(
    ("proposed", "evidence", "owner"),
    [
        ("민수 씨", TRANSCRIPT[0:2], "김민수"),
        ("민수님", TRANSCRIPT[0:1], "김민수"),
        ("김민수", TRANSCRIPT[0:1], "김민수"),
        ("김민수 팀장님", TRANSCRIPT[0:1], "김민수"),
        ("지은님", TRANSCRIPT[2:3], "이지은"),
        ("이 팀장님", TRANSCRIPT[2:3], "이지은"),
        ("박지훈", TRANSCRIPT[4:5], "박지훈"),
        ("최 과장", TRANSCRIPT[5:6], "최영호"),
        ("alex", ["Alex will send the report"], "Alex Kim"),
        ("민수 씨와 지은 씨", TRANSCRIPT[0:3], "김민수, 이지은"),
    ],
)
def test_clear_assignments_resolve_to_one_known_person(proposed: str, evidence: list[str], owner: str) -> None:
    assert resolve_owner(proposed, PEOPLE, evidence) == owner


@pytest.mark.parametrize(
    ("proposed", "evidence"),
    [
        (None, TRANSCRIPT),
        ("", TRANSCRIPT),
        ("제가", TRANSCRIPT[1:2]),
        ("저희 팀", TRANSCRIPT),
        ("unassigned", TRANSCRIPT),
        ("홍길동", TRANSCRIPT),  # not a known person
        ("김민수", TRANSCRIPT[2:3]),  # known, but the cited text does not mention them
        ("김 팀장", ["김 팀장님 확인 부탁드립니다"]),  # no known 김 is a 팀장
        ("김", TRANSCRIPT),  # a surname alone names nobody
        ("민수 씨와 홍길동", TRANSCRIPT),  # one of several does not resolve
        ("Kim", ["Kim will do it"]),  # surname without a title
    ],
)
def test_unclear_assignments_stay_unassigned(proposed: str | None, evidence: list[str]) -> None:
    assert resolve_owner(proposed, PEOPLE, evidence) == "unassigned"


def test_same_given_name_is_ambiguous() -> None:
    people = known_people(["김민수", "이민수"])
    assert resolve_owner("민수 씨", people, ["민수 씨가 할게요"]) == "unassigned"
    assert resolve_owner("이민수", people, ["이민수 씨가 할게요"]) == "이민수"


def test_mentions_need_a_word_boundary() -> None:
    people = known_people(["이수진"])
    # 수진 inside another word is not a mention of 수진.
    assert resolve_owner("수진 씨", people, ["이번 개선안은 보수진영에서 나왔어요"]) == "unassigned"
    assert resolve_owner("수진 씨", people, ["수진이가 맡기로 했어요"]) == "이수진"
