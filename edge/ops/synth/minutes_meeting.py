"""A composite two-hour Korean meeting transcript with planted action items and decisions whose owners
and due dates are known, for measuring minutes (`edge eval minutes`). It is composed from sentence
templates, not recorded: ordinary talk (discussion with technical terms, short replies, procedural
lines such as "잠시만 기다려 주세요" or "제가 화면 공유할게요", past plans, wishes) surrounds the planted
items, which take the forms people use: a request to a named person and their reply, a promise by
the speaker, an open request someone takes on, with deadlines said as "이번 주 금요일까지", "다음 주
수요일", "내일 오전", "월말", "3월 20일" or not at all.

The document is an edge JSON transcript (`edge import` reads it) with a `truth` section: each planted
action item's seqs, owner and due date (ISO, or null), and each decision's seq. Each segment's text
starts with "이름: " (as an imported transcript with speaker names does) and carries `speaker` too.
The same seed gives the same document.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

MEETING_DAY = date(2026, 3, 4)  # a Wednesday
STARTED_AT = "2026-03-04T10:00:00+09:00"
SPEAKERS = ("김민수", "이지은", "박지훈", "최영호", "정수진", "한서연")
CHAIR = "김민수"
GIVEN = {name: name[1:] for name in SPEAKERS}
TERMS = (
    "Kubernetes", "GitHub", "Jira", "PostgreSQL", "Grafana", "CI/CD", "Slack", "Redis", "Terraform", "Sentry",
)  # fmt: skip
TOPICS = (
    "배포 파이프라인 개선", "모니터링 대시보드", "데이터베이스 마이그레이션", "고객 문의 대응", "다음 분기 로드맵",
    "보안 점검", "온보딩 문서", "장애 회고", "API 버전 관리", "비용 최적화",
)  # fmt: skip
# (said, days after the meeting day or None when the words name no day)
DUES: tuple[tuple[str, int | None], ...] = (
    ("이번 주 금요일까지", 2), ("다음 주 수요일까지", 7), ("내일 오전까지", 1), ("다음 주 월요일까지", 5),
    ("월말까지", 27), ("3월 20일까지", 16), ("모레까지", 2), ("다음 주 중으로", 9), ("금요일까지", 2),
    ("이번 주 목요일까지", 1), ("다다음 주 화요일까지", 13), ("오늘 퇴근 전까지", 0), ("4월 3일까지", 30),
    ("다음 스프린트 시작 전까지", None),
)  # fmt: skip
# (object with its particle, the verb stem)
TASKS = (
    ("배포 체크리스트를", "업데이트"), ("장애 보고서를", "작성"), ("Grafana 알림 규칙을", "정리"),
    ("Jira 티켓을", "정리"), ("PostgreSQL 백업 스크립트를", "수정"), ("고객사 견적서를", "준비"),
    ("온보딩 문서를", "보완"), ("보안 점검 결과를", "정리"), ("Terraform 모듈을", "리뷰"),
    ("비용 분석 자료를", "준비"), ("API 변경 공지를", "작성"), ("회고 문서를", "작성"),
    ("Sentry 에러 분류를", "정리"), ("Redis 캐시 설정안을", "검토"), ("CI/CD 파이프라인 개선안을", "정리"),
    ("테스트 계획서를", "작성"), ("릴리스 노트를", "정리"), ("접근 권한 목록을", "점검"),
)  # fmt: skip
DECISIONS = (
    "그럼 {topic_topic} {term} 기반으로 가죠.",
    "{topic} 관련해서 {term} 도입은 다음 분기로 미루기로 하죠.",
    "좋습니다 {topic_topic} {term} 쪽으로 먼저 진행하는 걸로 하겠습니다.",
    "논의한 대로 {term} 설정은 지금 버전으로 유지하기로 했습니다.",
    "최종적으로 {topic} 일정은 2주 늦추는 걸로 결정하겠습니다.",
    "{term} 로그 보관 기간은 90일로 가겠습니다.",
)
DISCUSSION = (
    "{term} 쪽은 지난주에 설정을 한 번 바꿨는데 아직 지표가 안정적이지 않아요.",
    "제가 보기에는 {term} 설정보다 쿼리 쪽 문제가 더 큰 것 같습니다.",
    "{given} 씨가 어제 공유해 준 자료를 보면 {term} 사용량이 두 배 정도 늘었어요.",
    "혹시 {term} 로그는 어디까지 보관하고 있는지 아시는 분 있나요?",
    "그건 {term} 문서에 정리되어 있는데 최신 내용은 아닐 수도 있어요.",
    "지난번 회의에서 이야기했던 {topic} 건이랑 연결되는 이야기 같아요.",
    "{given}님 말씀처럼 우선순위를 먼저 정하는 게 좋겠습니다.",
    "네 맞아요 그래서 {term} 대신 다른 방법도 같이 검토하고 있어요.",
    "고객 쪽에서는 {topic} 일정이 언제쯤 확정되는지 계속 물어보고 있습니다.",
    "테스트 환경에서는 문제가 없었는데 운영 환경에서만 재현이 돼요.",
    "{term} 버전을 올리면 호환성 문제가 생길 수도 있어서 조심해야 합니다.",
    "숫자로 보면 응답 시간이 평균 이백 밀리초 정도 늘었습니다.",
    "이건 좀 더 데이터를 모아서 다음 회의 때 다시 보면 좋겠어요.",
    "작년에는 이걸 월말까지 끝내자고 했는데 결국 못 했죠.",
    "다음 주에 휴가라서 금요일에는 자리에 없어요.",
    "예전에 {term} 도입은 미루기로 했었는데 상황이 좀 바뀌었어요.",
    "{term} 대시보드에서 보면 새벽 세 시쯤 트래픽이 튀어요.",
    "그 이슈는 {given} 씨가 지난달에 이미 정리해 줬던 걸로 기억해요.",
    "비용 측면에서는 {term} 쪽이 조금 더 유리해 보입니다.",
    "이 부분은 보안팀 의견도 들어 봐야 할 것 같아요.",
)
# Procedural and conversational lines that look like requests or promises but are not tasks.
PROCEDURAL = (
    "잠시만 기다려 주세요 연결이 좀 끊겼네요.",
    "제가 화면 공유할게요 잘 보이시나요?",
    "조금만 천천히 말해 주세요 메모하고 있어서요.",
    "그 부분은 제가 나중에 다시 말씀드리겠습니다.",
    "음 그건 좀 더 생각해 보겠습니다.",
    "그럼 이 안건은 여기까지 하겠습니다.",
    "네 그럼 다음 안건으로 넘어가겠습니다.",
    "잠깐 마이크 좀 꺼 주세요 소리가 울려요.",
    "음 그 부분은 저도 잘 모르겠네요.",
    "다시 한 번 말씀해 주시겠어요?",
    "누가 창문 좀 열어 주세요 좀 덥네요.",
    "다들 의견 있으시면 편하게 말씀해 주세요.",
    "제가 예전에 그 문서 정리하겠다고 했었는데 아직 못 했어요.",
    "오늘 점심은 다 같이 드실래요?",
)
BACKCHANNEL = (
    "네", "네 맞아요", "음 그렇죠", "아 그래요?", "좋습니다", "잠시만요", "그렇네요", "네네", "오케이",
    "확인했습니다", "음", "맞습니다", "아 네", "그쵸",
)  # fmt: skip
QUESTIONS = (
    "{term} 라이선스 비용은 누가 승인해야 하는지 아직 정해지지 않았죠?",
    "{topic} 관련해서 법무팀 검토가 필요한지 확인된 게 있나요?",
)


@dataclass(frozen=True)
class PlantedAction:
    seqs: tuple[int, ...]  # the request or promise first, then the reply
    owner: str
    due: date | None
    due_said: str | None
    form: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "seqs": list(self.seqs), "owner": self.owner, "due": self.due.isoformat() if self.due else None,
            "due_said": self.due_said, "form": self.form,
        }  # fmt: skip


@dataclass
class _Composer:
    rng: random.Random
    segments: list[dict[str, Any]] = field(default_factory=list)
    actions: list[PlantedAction] = field(default_factory=list)
    decisions: list[int] = field(default_factory=list)
    clock: int = 0

    def say(self, speaker: str, text: str) -> int:
        # About seven characters a second (Korean speech), at least a second, then a pause.
        length = max(1000, len(text) * 130 + self.rng.randint(0, 800))
        seq = len(self.segments)
        self.segments.append(
            {"t0_ms": self.clock, "t1_ms": self.clock + length, "text": f"{speaker}: {text}", "speaker": speaker}
        )
        self.clock += length + self.rng.randint(300, 1800)
        return seq

    def values(self, speaker: str, topic: str) -> dict[str, str]:
        other = self.rng.choice([s for s in SPEAKERS if s != speaker])
        particle = "은" if (ord(topic[-1]) - 0xAC00) % 28 else "는"  # after a final consonant, or not
        return {"term": self.rng.choice(TERMS), "topic": topic, "topic_topic": topic + particle, "given": GIVEN[other]}

    def filler(self, topic: str, count: int) -> None:
        for _ in range(count):
            speaker = self.rng.choice(SPEAKERS)
            roll = self.rng.random()
            if roll < 0.36:
                self.say(speaker, self.rng.choice(BACKCHANNEL))
            elif roll < 0.42:
                self.say(speaker, self.rng.choice(PROCEDURAL))
            elif roll < 0.44:
                self.say(speaker, self.rng.choice(QUESTIONS).format(**self.values(speaker, topic)))
            else:
                self.say(speaker, self.rng.choice(DISCUSSION).format(**self.values(speaker, topic)))

    def action(self, form: str) -> None:
        rng = self.rng
        obj, verb = rng.choice(TASKS)
        said, days = rng.choice(DUES) if rng.random() < 0.85 else (None, None)
        due = MEETING_DAY + timedelta(days=days) if days is not None else None
        asker = rng.choice(SPEAKERS)
        owner = rng.choice([s for s in SPEAKERS if s != asker])
        when = f"{said} " if said else ""
        address = rng.choice([f"{GIVEN[owner]} 씨", f"{GIVEN[owner]}님", f"{owner} 님"])
        subject = address + ("이" if address.endswith("님") else "가")
        if form == "request":
            text = rng.choice((
                f"{address}, {obj} {when}{verb}해 주실 수 있을까요?",
                f"{subject} {obj} {when}{verb}해 주세요.",
                f"{address}, {obj} {when}좀 {verb} 부탁드립니다.",
                f"{address}, {obj} {when}{verb}해 줄 수 있어요?",
                f"{address}, {obj} {when}{verb} 가능할까요?",
            ))  # fmt: skip
            first = self.say(asker, text)
            if rng.random() < 0.2:
                self.actions.append(PlantedAction((first,), owner, due, said, form))
                return
            reply = rng.choice(
                ("네 알겠습니다.", f"네 {said} {verb}하겠습니다." if said else "네 제가 할게요.", "네 제가 맡을게요.")
            )
            self.actions.append(PlantedAction((first, self.say(owner, reply)), owner, due, said, form))
        elif form == "promise":
            text = rng.choice((
                f"제가 {when}{obj} {verb}하겠습니다.",
                f"{obj} 제가 {when}{verb}해서 공유드릴게요.",
                f"그건 제가 맡을게요 {when}{verb}해 두겠습니다.",
                f"{obj} 제 쪽에서 {when}{verb}해서 챙길게요.",
                f"{when}{obj} {verb}해 놓을게요." if said else f"제가 {obj} {verb}해 놓을게요.",
            ))  # fmt: skip
            self.actions.append(PlantedAction((self.say(owner, text),), owner, due, said, form))
        else:  # an open request someone takes on
            first = self.say(asker, f"{obj} 누가 {when}{verb}해 주세요.")
            self.filler_short()
            reply = self.say(owner, rng.choice(("제가 할게요.", "네 그건 제가 맡겠습니다.", "제가 해 볼게요.")))
            self.actions.append(PlantedAction((first, reply), owner, due, said, form))

    def filler_short(self) -> None:
        if self.rng.random() < 0.5:
            self.say(self.rng.choice(SPEAKERS), self.rng.choice(("음", "네", "잠시만요")))

    def decision(self, topic: str) -> None:
        speaker = self.rng.choice((CHAIR, CHAIR, *SPEAKERS))
        text = self.rng.choice(DECISIONS).format(**self.values(speaker, topic))
        self.decisions.append(self.say(speaker, text))


def compose_meeting(*, seed: int = 13, segments: int = 1600, actions: int = 30, decisions: int = 12) -> dict[str, Any]:
    """The composite meeting document (see the module docstring)."""
    rng = random.Random(seed)
    composer = _Composer(rng)
    per_topic = max(1, segments // len(TOPICS))
    forms = ["request"] * (actions * 5 // 10) + ["promise"] * (actions * 3 // 10)
    forms += ["open"] * (actions - len(forms))
    rng.shuffle(forms)
    planted_decisions = [i % len(TOPICS) for i in range(decisions)]
    composer.say(CHAIR, f"네 그럼 시작하겠습니다 오늘 안건은 모두 {len(TOPICS)}개입니다.")
    for index, topic in enumerate(TOPICS):
        ordinal = "다음" if index else "첫 번째"
        composer.say(CHAIR, f"{ordinal} 안건은 {topic}입니다.")
        mine = forms[index::len(TOPICS)]
        plan = ["action:" + form for form in mine] + ["decision"] * planted_decisions.count(index)
        rng.shuffle(plan)
        start = len(composer.segments)
        budget = per_topic - 2 if index < len(TOPICS) - 1 else segments - start - 2
        gaps = len(plan) + 1
        for item in plan:
            composer.filler(topic, max(1, rng.randint(budget // gaps // 2, budget // gaps)))
            if item == "decision":
                composer.decision(topic)
            else:
                composer.action(item.split(":", 1)[1])
        used = len(composer.segments) - start
        composer.filler(topic, max(0, budget - used))
    composer.say(CHAIR, "네 오늘 회의는 여기까지 하겠습니다 다들 수고 많으셨습니다.")
    return {
        "v": 1,
        "meeting": {"title": "주간 개발팀 회의 (합성)", "language": "ko", "started_at": STARTED_AT},
        "composite": "composed from sentence templates by `edge synth transcript`; not a recorded meeting",
        "segments": composer.segments,
        "truth": {
            "meeting_day": MEETING_DAY.isoformat(),
            "action_items": [action.to_dict() for action in composer.actions],
            "decisions": [{"seq": seq} for seq in composer.decisions],
        },
    }
