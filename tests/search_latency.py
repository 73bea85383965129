"""Search latency over many generated meetings (a benchmark, not a test): `python tests/search_latency.py
[--meetings 200] [--db FILE]` fills a database with meetings of an hour each (one segment every 4 s, Korean
sentences with English terms, seeded) through the store, then times the search the API runs, per query:
Korean words with and without particles, English terms in another case, and words shorter than three
characters (a scan). Prints p50 and p95 per kind of query."""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge.pipeline.search import search
from edge.store import Store

SEGMENTS_PER_HOUR = 900
TERMS = ("쿠버네티스", "Jira", "Grafana", "슬랙", "배포", "데이터베이스", "PR", "Kafka", "대시보드", "알림")
PARTICLES = ("를", "가", "는", "에서", "로", "의", "")
OPENINGS = ("다음 주까지", "오늘 회의에서", "지난번에 말씀드린", "이번 스프린트에", "금요일 전에", "내일 오전에")
ENDINGS = (
    "정리해 주세요", "확인해 보겠습니다", "업그레이드합니다", "검토가 필요합니다", "다시 논의하죠", "공유드릴게요",
)  # fmt: skip
QUERIES = {
    "korean": ("쿠버네티스", "쿠버네티스를", "데이터베이스에서", "대시보드", "업그레이드"),
    "english": ("jira", "GRAFANA", "kafka", "Jira 정리"),
    "short": ("PR", "배포", "슬랙", "없음"),
}


def sentence(rng: random.Random) -> str:
    term = rng.choice(TERMS) + rng.choice(PARTICLES)
    return f"{rng.choice(OPENINGS)} {term} {rng.choice(ENDINGS)}"


def fill(store: Store, meetings: int, rng: random.Random) -> None:
    for number in range(meetings):
        meeting = store.create_meeting(language="ko", source="import:bench", title=f"회의 {number}", status="imported")
        store.add_segments(meeting.id, [{"t0_ms": i * 4000, "t1_ms": i * 4000 + 3500, "text_raw": sentence(rng),
                                         "language": "ko"} for i in range(SEGMENTS_PER_HOUR)])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meetings", type=int, default=200)
    parser.add_argument("--db", type=Path, help="keep the database here (default: a temporary folder)")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = args.db or Path(folder) / "edge.db"
        store = Store(path, outbox=False)
        try:
            if not store.meetings(limit=1):
                started = time.perf_counter()
                fill(store, args.meetings, random.Random(12))
                print(f"filled {args.meetings} meetings x {SEGMENTS_PER_HOUR} segments in "
                      f"{time.perf_counter() - started:.1f} s")  # fmt: skip
            for kind, queries in QUERIES.items():
                times: list[float] = []
                hits = 0
                for _ in range(args.rounds):
                    for query in queries:
                        started = time.perf_counter()
                        hits += len(search(store, query, limit=20))
                        times.append((time.perf_counter() - started) * 1000)
                p95 = statistics.quantiles(times, n=20)[-1]
                print(f"{kind:8} {len(times)} searches: p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms "
                      f"({hits // args.rounds} hits per round)")  # fmt: skip
        finally:
            store.close()


if __name__ == "__main__":
    main()
