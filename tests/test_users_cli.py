"""`edge users` and `edge tokens` (issue 14): the first admin is made from the command line, no default account;
the password is read from stdin for scripts and stored only as an argon2id hash, a token only as its SHA-256."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def edge(*args: str, stdin: str = "", config: Path, command: str = "users") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "edge", command, *args, "--config", str(config)], input=stdin,
                          capture_output=True, text=True, env=env, timeout=60)  # fmt: skip


def test_users_are_added_listed_given_a_new_password_and_removed(tmp_path: Path) -> None:
    config = tmp_path / "edge.toml"
    config.write_text('[storage]\npath = "data"\n', encoding="utf-8")
    empty = edge("list", config=config)
    assert empty.returncode == 0 and "no users yet" in empty.stderr
    added = edge("add", "김관리", "--role", "admin", stdin="관리자-비밀번호-1\n", config=config)
    assert added.returncode == 0, added.stderr
    assert edge("add", "이열람", "--role", "viewer", stdin="열람-비밀번호-22\n", config=config).returncode == 0
    listing = edge("list", config=config)
    assert [line.split("\t")[:2] for line in listing.stdout.splitlines()] == [["김관리", "admin"], ["이열람", "viewer"]]
    with sqlite3.connect(tmp_path / "data" / "edge.db") as db:
        hashes = [row[0] for row in db.execute("SELECT password_hash FROM users")]
    assert all(h.startswith("$argon2id$") for h in hashes)
    assert not any("비밀번호" in h for h in hashes)
    short = edge("passwd", "이열람", stdin="short\n", config=config)
    assert short.returncode != 0 and "longer" in short.stderr and "Traceback" not in short.stderr
    assert edge("passwd", "이열람", stdin="새로운-비밀번호-333\n", config=config).returncode == 0
    taken = edge("add", "김관리", "--role", "member", stdin="또-다른-비밀번호\n", config=config)
    assert taken.returncode != 0 and "exists already" in taken.stderr
    last = edge("remove", "김관리", config=config)
    assert last.returncode != 0 and "only admin" in last.stderr
    assert edge("remove", "이열람", config=config).returncode == 0
    missing = edge("remove", "이열람", config=config)
    assert missing.returncode != 0 and "there is no user" in missing.stderr
    bad_role = edge("add", "박", "--role", "owner", stdin="비밀번호-12345\n", config=config)
    assert bad_role.returncode != 0 and "invalid choice" in bad_role.stderr


def test_integration_tokens_are_made_listed_and_revoked_from_the_command_line(tmp_path: Path) -> None:
    config = tmp_path / "edge.toml"
    config.write_text('[storage]\npath = "data"\n', encoding="utf-8")
    made = edge("add", "홈어시스턴트", "--role", "viewer", config=config, command="tokens")
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    assert secret.startswith("edge_") and len(secret) > 40
    listing = edge("list", config=config, command="tokens")
    assert listing.stdout.split("\t")[:2] == ["홈어시스턴트", "viewer"]
    assert secret not in listing.stdout
    with sqlite3.connect(tmp_path / "data" / "edge.db") as db:
        stored = [row[0] for row in db.execute("SELECT secret_sha256 FROM api_tokens")]
    assert stored == [hashlib.sha256(secret.encode()).hexdigest()]
    assert edge("add", "홈어시스턴트", "--role", "admin", config=config, command="tokens").returncode != 0
    assert edge("revoke", "홈어시스턴트", config=config, command="tokens").returncode == 0
    assert "no tokens yet" in edge("list", config=config, command="tokens").stderr
