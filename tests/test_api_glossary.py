"""The glossary API against a real uvicorn server, a real Store and the in-memory box: terms, CSV
import/export, suggestions from segment edits, their decisions, and telling the box about changes."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fake_box import AUTH, FakeBox

from edge.api.server import ApiServer
from edge.text.glossary import Glossary, GlossaryTerm


@pytest.fixture
def client(server: ApiServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url + "/api/v1/glossary", headers=AUTH, timeout=10) as http:
        yield http


def test_every_glossary_endpoint_needs_the_token(server: ApiServer) -> None:
    base = server.url + "/api/v1/glossary"
    for method, path in [
        ("GET", "/terms"),
        ("PUT", "/terms/Kubernetes"),
        ("DELETE", "/terms/Kubernetes"),
        ("GET", "/export.csv"),
        ("POST", "/import"),
        ("GET", "/suggestions"),
        ("POST", "/suggestions/1/accept"),
        ("POST", "/suggestions/1/reject"),
    ]:
        response = httpx.request(method, base + path, json={}, timeout=10)
        assert response.status_code == 401, (method, path)
        wrong = httpx.request(method, base + path, headers={"Authorization": "Bearer nope"}, timeout=10)
        assert wrong.status_code == 401, (method, path)


def test_terms_are_added_listed_edited_and_deleted(client: httpx.Client, box: FakeBox) -> None:
    assert client.get("/terms").json() == {"items": [], "count": 0}
    put = client.put("/terms/Kubernetes", json={"aliases": ["쿠버네티스", "쿠베"], "note": "k8s 클러스터"})
    assert put.status_code == 200
    assert put.json() == {"term": "Kubernetes", "aliases": ["쿠버네티스", "쿠베"], "note": "k8s 클러스터", "scope": ""}
    assert box.glossary_changes == 1
    assert box.glossary.get("Kubernetes") == GlossaryTerm("Kubernetes", ("쿠버네티스", "쿠베"), "k8s 클러스터")

    # A term with a slash in it, addressed in the path.
    assert client.put("/terms/CI%2FCD", json={"aliases": ["씨아이씨디"], "scope": "dev"}).status_code == 200
    assert client.put("/terms/Jira", json={}).json()["aliases"] == []
    listed = client.get("/terms").json()
    assert [t["term"] for t in listed["items"]] == ["Kubernetes", "CI/CD", "Jira"]
    assert listed["count"] == 3
    assert [t["term"] for t in client.get("/terms", params={"q": "쿠베"}).json()["items"]] == ["Kubernetes"]
    assert [t["term"] for t in client.get("/terms", params={"q": "DEV"}).json()["items"]] == ["CI/CD"]
    assert client.get("/terms", params={"q": "nothing"}).json() == {"items": [], "count": 3}

    # Replacing by another spelling of the same term keeps one term, with the new spelling.
    assert client.put("/terms/jira", json={"aliases": ["지라"]}).json()["term"] == "jira"
    assert [t["term"] for t in client.get("/terms").json()["items"]] == ["Kubernetes", "CI/CD", "jira"]

    changes = box.glossary_changes
    assert client.delete("/terms/ci%2Fcd").status_code == 204
    assert box.glossary_changes == changes + 1
    missing = client.delete("/terms/CI%2FCD")
    assert missing.status_code == 404
    assert "CI/CD" in missing.json()["detail"]
    assert box.glossary_changes == changes + 1
    assert [t.term for t in box.glossary] == ["Kubernetes", "jira"]


def test_bad_terms_are_clear_errors_and_change_nothing(client: httpx.Client, box: FakeBox) -> None:
    client.put("/terms/Notion", json={"aliases": ["노션"]})
    changes = box.glossary_changes
    for path, body, code, message in [
        ("/terms/Confluence", {"aliases": ["노션"]}, 409, "already belongs to 'Notion'"),
        ("/terms/노션", {}, 409, "alias '노션' of 'Notion' already belongs to '노션'"),
        ("/terms/Slack", {"aliases": ["슬랙", "  "]}, 422, "aliases"),
        ("/terms/Slack", {"aliases": ["슬|랙"]}, 422, "aliases"),
        ("/terms/Slack", {"note": "bell\x07"}, 422, "note"),
        ("/terms/%20", {}, 422, "term"),
        ("/terms/A%7CB", {}, 422, "term"),
        ("/terms/Tab%09", {}, 422, "term"),
        ("/terms/Slack", {"aliases": "슬랙"}, 422, "aliases"),
        ("/terms/Slack", {"aliases": ["x" * 101]}, 422, "aliases"),
        ("/terms/Slack", {"color": "red"}, 422, "color"),
        ("/terms/" + "x" * 101, {}, 422, "term"),
    ]:
        response = client.put(path, json=body)
        assert response.status_code == code, (path, body, response.text)
        assert message in str(response.json()["detail"]), response.json()
    assert [t["term"] for t in client.get("/terms").json()["items"]] == ["Notion"]
    assert box.glossary_changes == changes


def test_export_and_import_csv(client: httpx.Client, box: FakeBox) -> None:
    client.put("/terms/Kubernetes", json={"aliases": ["쿠버네티스"], "note": "컨테이너, 오케스트레이션"})
    client.put("/terms/Jira", json={"aliases": ["지라", "지이라"]})
    exported = client.get("/export.csv")
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"
    assert exported.headers["content-disposition"] == 'attachment; filename="glossary.csv"'
    assert exported.content.startswith("\ufeffterm,aliases,note\n".encode())
    assert 'Kubernetes,쿠버네티스,"컨테이너, 오케스트레이션"' in exported.text
    assert "Jira,지라|지이라," in exported.text
    assert Glossary.loads(exported.text) == box.store.glossary()

    # Merge: the file's terms replace those spelled the same, new terms are added.
    changes = box.glossary_changes
    merged = client.post(
        "/import", files={"file": ("team.csv", "term,aliases,note\nJira,지라,티켓\nSlack,슬랙,\n".encode())}
    )
    assert merged.status_code == 200, merged.text
    assert merged.json() == {"imported": 2, "terms": 3}
    assert box.glossary_changes == changes + 1
    assert [t.term for t in box.glossary] == ["Kubernetes", "Jira", "Slack"]
    assert box.glossary.get("Jira") == GlossaryTerm("Jira", ("지라",), "티켓")

    # Replace, from a spreadsheet's UTF-8 with a byte order mark.
    replaced = client.post(
        "/import",
        files={"file": ("new.csv", "\ufeffterm,aliases,note,scope\nNotion,노션,,docs\n".encode())},
        data={"replace": "true"},
    )
    assert replaced.json() == {"imported": 1, "terms": 1}
    assert [t["term"] for t in client.get("/terms").json()["items"]] == ["Notion"]
    assert client.get("/export.csv").text == "\ufeffterm,aliases,note,scope\nNotion,노션,,docs\n"

    # Round trip: what was exported imports back to the same glossary.
    client.post("/import", files={"file": ("old.csv", exported.content)}, data={"replace": "1"})
    assert client.get("/export.csv").content == exported.content
    assert not list((box.store.path.parent / "uploads").iterdir())


def test_bad_csv_is_a_400_naming_the_line_and_changes_nothing(client: httpx.Client, box: FakeBox) -> None:
    client.put("/terms/Kubernetes", json={"aliases": ["쿠버네티스"]})
    changes = box.glossary_changes
    for name, data, form, message in [
        ("bad.csv", b"term,aliases,note\nJira,\xec\xa7\x80\xeb\x9d\xbc,\nSlack,a,b,c\n", {}, "bad.csv line 3:"),
        ("head.csv", b"name,aliases\nJira,,\n", {}, "head.csv line 1: header"),
        ("dup.csv", "term,aliases,note\nJira,지라,\njira,,\n".encode(), {}, "dup.csv line 3:"),
        ("latin1.csv", "term,aliases,note\nCafé,,\n".encode("latin-1"), {}, "latin1.csv is not UTF-8"),
        ("empty-lines.csv", b"\n\n", {}, "empty-lines.csv is empty"),
        ("ok.csv", b"term,aliases,note\nJira,,\n", {"replace": "maybe"}, "replace='maybe'"),
    ]:
        response = client.post("/import", files={"file": (name, data)}, data=form)
        assert response.status_code == 400, (name, response.text)
        assert message in response.json()["detail"], response.json()
    conflict = client.post("/import", files={"file": ("c.csv", "term,aliases,note\nK8s,쿠버네티스,\n".encode())})
    assert conflict.status_code == 409
    assert "'쿠버네티스' of 'K8s' already belongs to 'Kubernetes'" in conflict.json()["detail"]
    assert client.post("/import", files={"file": ("e.csv", b"")}).status_code == 400
    assert client.post("/import", json={"file": "x"}).status_code == 415
    too_big = client.post("/import", files={"file": ("big.csv", b"term,aliases,note\n" + b"x,,\n" * 300_000)})
    assert too_big.status_code == 413
    assert [t.term for t in box.store.glossary()] == ["Kubernetes"]
    assert box.glossary_changes == changes
    assert not list((box.store.path.parent / "uploads").iterdir())


def test_a_segment_edit_suggests_and_accepting_adds_the_alias(
    client: httpx.Client, box: FakeBox, server: ApiServer
) -> None:
    client.put("/terms/Kubernetes", json={"aliases": ["쿠버네티스"], "note": "k8s"})
    meeting = box.start_meeting()
    box.inject_segment("오늘 쿠베 클러스터를 재시작했어요")
    box.inject_segment("지라 티켓은 내일 정리할게요")
    box.inject_segment("회의를 마칩니다")
    with httpx.Client(base_url=server.url + "/api/v1", headers=AUTH, timeout=10) as api:
        fixed = "오늘 Kubernetes 클러스터를 재시작했어요"
        edited = api.patch(f"/meetings/{meeting.id}/segments/0", json={"text": fixed})
        assert edited.status_code == 200
        assert edited.json()["text"] == "오늘 Kubernetes 클러스터를 재시작했어요"
        api.patch(f"/meetings/{meeting.id}/segments/1", json={"text": "Jira 티켓은 내일 정리할게요"})
        api.patch(f"/meetings/{meeting.id}/segments/2", json={"text": "회의를 이제 마칩니다"})  # rewording
        api.patch(f"/meetings/{meeting.id}/segments/1", json={"text": "Jira 티켓은 내일 정리할게요"})  # no change

    pending = client.get("/suggestions").json()["items"]
    assert [(s["alias"], s["term"], s["seq"], s["status"]) for s in pending] == [
        ("지라", "Jira", 1, "pending"),
        ("쿠베", "Kubernetes", 0, "pending"),
    ]
    assert all(s["meeting_id"] == meeting.id and s["decided_at"] is None for s in pending)
    [only] = client.get("/suggestions", params={"meeting_id": meeting.id, "seq": 0}).json()["items"]
    assert only["alias"] == "쿠베"
    assert client.get("/suggestions", params={"meeting_id": meeting.id, "seq": 2}).json()["items"] == []

    changes = box.glossary_changes
    accepted = client.post(f"/suggestions/{only['id']}/accept")
    assert accepted.status_code == 200
    assert accepted.json()["suggestion"]["status"] == "accepted"
    assert accepted.json()["term"] == {
        "term": "Kubernetes", "aliases": ["쿠버네티스", "쿠베"], "note": "k8s", "scope": ""
    }
    assert box.glossary_changes == changes + 1
    assert box.glossary.get("Kubernetes").aliases == ("쿠버네티스", "쿠베")

    jira = next(s for s in pending if s["term"] == "Jira")
    rejected = client.post(f"/suggestions/{jira['id']}/reject")
    assert rejected.json() == {"suggestion": {**jira, "status": "rejected",
                                              "decided_at": rejected.json()["suggestion"]["decided_at"]}, "term": None}
    assert box.glossary_changes == changes + 1  # a rejection changes no term
    assert client.get("/terms", params={"q": "jira"}).json()["items"] == []

    again = client.post(f"/suggestions/{only['id']}/reject")
    assert again.status_code == 409
    assert "already accepted" in again.json()["detail"]
    assert client.post("/suggestions/99999/accept").status_code == 404
    assert client.post("/suggestions/0/accept").status_code == 422
    assert client.get("/suggestions").json()["items"] == []
    assert [s["status"] for s in client.get("/suggestions", params={"status": "all"}).json()["items"]] == [
        "rejected", "accepted"
    ]
    assert client.get("/suggestions", params={"status": "open"}).status_code == 422


def test_accepting_a_suggestion_for_a_new_term_creates_it(client: httpx.Client, box: FakeBox) -> None:
    suggestion = box.store.add_suggestion("그라파나", "Grafana")
    response = client.post(f"/suggestions/{suggestion}/accept")
    assert response.json()["term"] == {"term": "Grafana", "aliases": ["그라파나"], "note": "", "scope": ""}
    assert [t.term for t in box.glossary] == ["Grafana"]


def test_a_suggestion_that_conflicts_is_refused_and_stays_pending(client: httpx.Client, box: FakeBox) -> None:
    client.put("/terms/Notion", json={"aliases": ["노션"]})
    suggestion = box.store.add_suggestion("노션", "Confluence")
    response = client.post(f"/suggestions/{suggestion}/accept")
    assert response.status_code == 409
    assert "already belongs to 'Notion'" in response.json()["detail"]
    assert [s["id"] for s in client.get("/suggestions").json()["items"]] == [suggestion]
