"""A reproducible synthetic Korean meeting, for the minutes tests.

There is no long multi-speaker Korean meeting recording among the fixtures, so the tests make one
from sentence templates: agenda items, discussion with English technical terms (the glossary's),
names in the forms people use (김민수, 민수 씨, 지은님), dates, decisions, action items, and the short
replies that make up much of real speech. A segment lasts about 0.13 s per character (at least 1 s)
and pauses are 0.3-1.8 s, so 1,600 segments are about two hours. The same seed gives the same meeting.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

ATTENDEES = ("김민수", "이지은", "박지훈", "최영호", "정수진")
GIVEN = {"김민수": "민수", "이지은": "지은", "박지훈": "지훈", "최영호": "영호", "정수진": "수진"}
TERMS = ("Kubernetes", "GitHub", "Jira", "PostgreSQL", "Grafana", "CI/CD", "Slack", "Redis", "Terraform", "Sentry")
TOPICS = (
    "배포 파이프라인 개선", "모니터링 대시보드", "데이터베이스 마이그레이션", "고객 문의 대응", "다음 분기 로드맵",
    "보안 점검", "온보딩 문서", "장애 회고", "API 버전 관리", "비용 최적화",
)  # fmt: skip
DUES = ("다음 주 금요일", "이번 주 수요일", "3월 15일", "월말", "내일 오전", "다음 스프린트 시작 전")
DISCUSSION = (
    "{term} 쪽은 지난주에 설정을 한 번 바꿨는데 아직 지표가 안정적이지 않아요.",
    "제가 보기에는 {term} 설정보다 쿼리 쪽 문제가 더 큰 것 같습니다.",
    "{name} 씨가 어제 공유해 준 자료를 보면 {term} 사용량이 두 배 정도 늘었어요.",
    "혹시 {term} 로그는 어디까지 보관하고 있는지 아시는 분 있나요?",
    "그건 {term} 문서에 정리되어 있는데 최신 내용은 아닐 수도 있어요.",
    "음 그 부분은 저도 잘 모르겠네요 확인해 보겠습니다.",
    "지난번 회의에서 이야기했던 {topic} 건이랑 연결되는 이야기 같아요.",
    "{name}님 말씀처럼 우선순위를 먼저 정하는 게 좋겠습니다.",
    "네 맞아요 그래서 {term} 대신 다른 방법도 같이 검토하고 있어요.",
    "고객 쪽에서는 {topic} 일정이 언제쯤 확정되는지 계속 물어보고 있습니다.",
    "테스트 환경에서는 문제가 없었는데 운영 환경에서만 재현이 돼요.",
    "{term} 버전을 올리면 호환성 문제가 생길 수도 있어서 조심해야 합니다.",
    "숫자로 보면 응답 시간이 평균 이백 밀리초 정도 늘었습니다.",
    "이건 좀 더 데이터를 모아서 다음 회의 때 다시 보면 좋겠어요.",
    "잠깐만요 화면 공유가 잘 보이시나요?",
    "네 잘 보입니다 계속 진행하시면 될 것 같아요.",
)
# Short utterances make up much of real speech (and of whisper's segments).
BACKCHANNEL = (
    "네", "네 맞아요", "음 그렇죠", "아 그래요?", "좋습니다", "잠시만요", "그렇네요", "네네", "오케이",
    "확인했습니다", "음", "맞습니다", "아 네", "그쵸", "다음으로 넘어가죠",
)  # fmt: skip
QUESTIONS = (
    "{term} 라이선스 비용은 누가 승인해야 하는지 아직 정해지지 않았죠?",
    "{topic} 관련해서 법무팀 검토가 필요한지 확인된 게 있나요?",
)
DECISIONS = (
    "그럼 {topic}은 {term} 기반으로 진행하는 걸로 결정하겠습니다.",
    "좋습니다 {term} 도입은 다음 분기로 미루기로 하죠.",
    "{topic} 담당은 {name} 씨로 정하고 진행하겠습니다.",
)
ACTIONS = (
    "{name} 씨, {term} 설정 변경안을 {due}까지 정리해 주실 수 있을까요?",
    "{name}님이 {topic} 관련 문서를 {due}까지 {term}에 올려 주세요.",
    "제가 {due}까지 {term} 대시보드 초안을 만들어서 공유하겠습니다.",
)
REPLIES = ("네 {due}까지 하겠습니다.", "네 알겠습니다 제가 맡을게요.", "좋아요 그렇게 할게요.")


@dataclass(frozen=True)
class SyntheticSegment:
    t0_ms: int
    t1_ms: int
    text: str
    speaker: str

    def as_store_fields(self, language: str = "ko") -> dict:
        return {"t0_ms": self.t0_ms, "t1_ms": self.t1_ms, "text_raw": self.text, "language": language}


def korean_meeting(n_segments: int = 1600, *, seed: int = 7) -> list[SyntheticSegment]:
    """`n_segments` segments of a Korean meeting, reproducible by `seed`."""
    rng = random.Random(seed)
    segments: list[SyntheticSegment] = []
    clock = 0
    topic = TOPICS[0]
    topic_index = 0

    def say(text: str, speaker: str) -> None:
        nonlocal clock
        # About seven characters a second (Korean speech), at least a second, then a pause.
        length = max(1000, len(text) * 130 + rng.randint(0, 800))
        segments.append(SyntheticSegment(clock, clock + length, text, speaker))
        clock += length + rng.randint(300, 1800)

    say("네 그럼 시작하겠습니다 오늘 안건은 모두 열 개입니다.", ATTENDEES[0])
    while len(segments) < n_segments:
        if len(segments) % 160 == 1:
            topic = TOPICS[topic_index % len(TOPICS)]
            topic_index += 1
            say(f"다음 안건은 {topic}입니다.", ATTENDEES[0])
            continue
        speaker = rng.choice(ATTENDEES)
        other = rng.choice([a for a in ATTENDEES if a != speaker])
        values = {
            "term": rng.choice(TERMS),
            "topic": topic,
            "name": GIVEN[other],
            "due": rng.choice(DUES),
        }
        roll = rng.random()
        if roll < 0.04:
            say(rng.choice(DECISIONS).format(**values), speaker)
        elif roll < 0.08:
            say(rng.choice(ACTIONS).format(**values), speaker)
            say(rng.choice(REPLIES).format(**values), other)
        elif roll < 0.10:
            say(rng.choice(QUESTIONS).format(**values), speaker)
        elif roll < 0.45:
            say(rng.choice(BACKCHANNEL), speaker)
        else:
            say(rng.choice(DISCUSSION).format(**values), speaker)
    return segments[:n_segments]


# A short meeting for the Markdown example and the owner tests: (speaker, seconds, text).
SMALL_MEETING = (
    ("김민수", 0, "네 그럼 주간 인프라 회의 시작하겠습니다."),
    ("김민수", 4, "첫 번째 안건은 Kubernetes 클러스터 업그레이드입니다."),
    ("박지훈", 9, "스테이징은 어제 1.30으로 올렸고 파드 재시작 문제는 아직 남아 있습니다."),
    ("이지은", 16, "Grafana 대시보드를 보면 메모리 사용량이 업그레이드 이후로 늘었어요."),
    ("김민수", 23, "그럼 운영 클러스터 업그레이드는 재시작 문제를 해결한 다음에 진행하는 걸로 하겠습니다."),
    ("김민수", 30, "지훈 씨, 파드 재시작 원인을 다음 주 수요일까지 정리해 주실 수 있을까요?"),
    ("박지훈", 36, "네 다음 주 수요일까지 정리해서 GitHub 이슈로 올리겠습니다."),
    ("이지은", 41, "모니터링 알림 기준도 같이 바꿔야 할 것 같아요."),
    ("김민수", 46, "알림 기준은 누가 볼지 아직 정하지 않았죠?"),
    ("이지은", 51, "그 부분은 다음 회의에서 정하면 좋겠습니다."),
    ("김민수", 56, "두 번째 안건은 Jira 티켓 정리입니다 지은님이 이번 주 금요일까지 정리해 주세요."),
    ("이지은", 62, "네 알겠습니다 금요일까지 할게요."),
)


def small_meeting_fields(language: str = "ko") -> list[dict]:
    """SMALL_MEETING as `Store.add_segments` fields, each about 4 s long."""
    return [
        {"t0_ms": s * 1000, "t1_ms": s * 1000 + 4000, "text_raw": text, "language": language}
        for _, s, text in SMALL_MEETING
    ]
