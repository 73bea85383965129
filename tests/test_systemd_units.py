"""The systemd unit, sysusers and tmpfiles files: linted by systemd's own tools, and their promises checked."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from edge.ops.notify import Notifier
from edge.ops.watchdog import PipelineWatchdog

SYSTEMD_DIR = Path(__file__).resolve().parent.parent / "systemd"
DEFAULT_PREFIX = "/opt/edge"


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{tool} is missing in CI: install the systemd Debian package")
        pytest.skip(f"{tool} is not installed (Debian package systemd)")
    return path


def render_unit(prefix: Path, target_dir: Path) -> Path:
    """What `make install PREFIX=...` does: the default prefix replaced by the real one."""
    text = (SYSTEMD_DIR / "edge.service").read_text(encoding="utf-8").replace(DEFAULT_PREFIX, str(prefix))
    target_dir.mkdir(parents=True, exist_ok=True)
    unit = target_dir / "edge.service"
    unit.write_text(text, encoding="utf-8")
    return unit


def _directives(unit: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in unit.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


@pytest.fixture
def rendered(tmp_path: Path) -> Path:
    prefix = tmp_path / "opt" / "edge"
    edge = prefix / ".venv" / "bin" / "edge"
    edge.parent.mkdir(parents=True)
    edge.write_text("#!/bin/sh\nexit 0\n")
    edge.chmod(0o755)
    return render_unit(prefix, tmp_path / "units")


def test_systemd_analyze_verify_passes_without_warnings(rendered):
    tool = _need("systemd-analyze")
    result = subprocess.run([tool, "verify", str(rendered)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    # Unknown keys and bad values are only warnings for verify: none may appear for our unit.
    assert "edge.service" not in result.stderr, result.stderr


def test_verify_fails_when_the_installed_program_is_missing(tmp_path):
    tool = _need("systemd-analyze")
    unit = render_unit(tmp_path / "nothing-installed", tmp_path / "units")
    result = subprocess.run([tool, "verify", str(unit)], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "not executable" in result.stderr


def test_the_unit_promises(rendered):
    d = _directives(rendered)
    assert d["Type"] == ["notify"] and d["NotifyAccess"] == ["main"]
    assert d["Restart"] == ["on-failure"]
    assert int(d["StartLimitBurst"][0]) >= 3 and int(d["StartLimitIntervalSec"][0]) > 0
    assert d["User"] == ["edge"] and d["DynamicUser"] == ["no"]
    assert set(d["SupplementaryGroups"][0].split()) == {"audio", "video", "render"}
    assert "char-alsa rw" in d["DeviceAllow"] and d["DevicePolicy"] == ["closed"]
    assert any(v.startswith("/dev/nvhost-ctrl-gpu") for v in d["DeviceAllow"])
    assert any(v.startswith("/dev/nvmap") for v in d["DeviceAllow"])
    for key, value in {
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "NoNewPrivileges": "yes",
        "PrivateTmp": "yes",
        "StateDirectory": "edge",
    }.items():
        assert d[key] == [value], key
    assert set(d["RestrictAddressFamilies"][0].split()) == {"AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"}
    assert sorted(v.split(":")[0] for v in d["LoadCredential"]) == ["api-token", "mqtt-password"]
    env = dict(v.split("=", 1) for v in d["Environment"])
    assert env["EDGE_MQTT__PASSWORD_FILE"] == "%d/mqtt-password" and env["EDGE_API__TOKEN_FILE"] == "%d/api-token"
    assert "PrivateDevices" not in d, "PrivateDevices would hide the GPU"
    program = rendered.parent.parent / "opt" / "edge" / ".venv" / "bin" / "edge"
    assert d["ExecStart"][0].startswith(f"{program} run")


def test_watchdog_pings_fit_inside_watchdog_sec(rendered):
    """The app pings every WatchdogSec/2, as the unit's WATCHDOG_USEC tells it."""
    watchdog_sec = int(_directives(rendered)["WatchdogSec"][0])
    notifier = Notifier.from_environment({"NOTIFY_SOCKET": "/nonexistent", "WATCHDOG_USEC": str(watchdog_sec * 10**6)})
    assert PipelineWatchdog(notifier).ping_interval == watchdog_sec / 2


def test_sysusers_creates_the_service_user(tmp_path):
    tool = _need("systemd-sysusers")
    (tmp_path / "etc").mkdir()
    result = subprocess.run(
        [tool, f"--root={tmp_path}", str(SYSTEMD_DIR / "edge.sysusers")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    passwd = (tmp_path / "etc" / "passwd").read_text()
    assert re.search(r"^edge:x:\d+:\d+:[^:]*:/var/lib/edge:/usr/sbin/nologin$", passwd, re.MULTILINE), passwd
    groups = (tmp_path / "etc" / "group").read_text()
    for group in ("audio", "video", "render"):
        assert re.search(rf"^{group}:x:\d+:edge$", groups, re.MULTILINE), groups


def test_tmpfiles_creates_the_directories_with_their_modes(tmp_path):
    tool = _need("systemd-tmpfiles")
    # The edge user exists only on the box: own everything as us, by number (names would be looked
    # up inside the empty --root).
    user, group = str(os.getuid()), str(os.getgid())
    lines = []
    for line in (SYSTEMD_DIR / "edge.tmpfiles").read_text().splitlines():
        fields = line.split()
        if fields and not line.startswith("#"):
            fields[3], fields[4] = user, group
            line = " ".join(fields)
        lines.append(line)
    config = tmp_path / "edge.conf"
    config.write_text("\n".join(lines) + "\n")
    root = tmp_path / "root"
    root.mkdir()
    result = subprocess.run(
        [tool, f"--root={root}", "--create", str(config)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr

    def mode(path: str) -> int:
        return stat.S_IMODE((root / path).stat().st_mode)

    assert mode("etc/edge/credentials") == 0o700
    assert mode("etc/edge/credentials/mqtt-password") == 0o600
    assert (root / "etc/edge/credentials/mqtt-password").read_bytes() == b""
    assert mode("var/lib/edge/models") == 0o750
