"""HTTPS (issue 14): the box's own CA and certificate made at first start and kept private, served by real
uvicorn over real TLS on loopback; a client that trusts the box's CA connects, one that does not is
refused; plain HTTP on a non-loopback address is a configuration error unless opted in."""

from __future__ import annotations

import ipaddress
import logging
import ssl
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fake_box import API_TOKEN, AUTH, FakeBox

from edge.api.app import create_app
from edge.api.server import ApiServer
from edge.api.tls import CA_CERT, CA_KEY, SERVER_CERT, SERVER_KEY, server_tls
from edge.core.config import ApiConfig, load_config
from edge.core.errors import ConfigError, UserError


def _serve(box: FakeBox, cfg: ApiConfig) -> Iterator[ApiServer]:
    tls = server_tls(cfg, "회의실-box")
    server = ApiServer(create_app(box, cfg, API_TOKEN, device_id="room-1", tls=tls), "127.0.0.1", 0, tls=tls)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def https(box: FakeBox, tmp_path: Path) -> Iterator[ApiServer]:
    yield from _serve(box, ApiConfig(host="127.0.0.1", tls="on", tls_dir=tmp_path / "tls"))


def test_a_client_trusting_the_box_ca_connects_and_one_that_does_not_is_refused(
    https: ApiServer, tmp_path: Path
) -> None:
    assert https.url.startswith("https://127.0.0.1:")
    trusting = ssl.create_default_context(cafile=str(tmp_path / "tls" / CA_CERT))
    for host in ("127.0.0.1", "localhost"):
        url = https.url.replace("127.0.0.1", host)
        answer = httpx.get(f"{url}/api/v1/state", headers=AUTH, verify=trusting, timeout=10)
        assert answer.status_code == 200, answer.text
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{https.url}/api/v1/state", headers=AUTH, timeout=10)  # the system's CAs only
    with pytest.raises(httpx.RemoteProtocolError):  # no plain HTTP on the TLS port
        httpx.get(https.url.replace("https:", "http:") + "/api/v1/health", timeout=10)


def test_the_page_shows_the_fingerprints_of_what_is_served(https: ApiServer, tmp_path: Path) -> None:
    trusting = ssl.create_default_context(cafile=str(tmp_path / "tls" / CA_CERT))
    about = httpx.get(f"{https.url}/api/v1/about", verify=trusting, timeout=10).json()  # no token needed
    served = ssl.get_server_certificate(("127.0.0.1", https.port))
    served_sha = x509.load_pem_x509_certificate(served.encode()).fingerprint(hashes.SHA256()).hex(":").upper()
    ca = x509.load_pem_x509_certificate((tmp_path / "tls" / CA_CERT).read_bytes())
    assert about["device_id"] == "room-1"
    assert about["tls"] == {"issuer": "box", "cert_sha256": served_sha,
                            "ca_sha256": ca.fingerprint(hashes.SHA256()).hex(":").upper()}


def test_the_certificate_is_made_once_private_and_names_the_box(tmp_path: Path, caplog) -> None:
    cfg = ApiConfig(host="0.0.0.0", tls_dir=tmp_path / "tls", allowed_hosts=["회의실.local", "room.example"])
    with caplog.at_level(logging.INFO, logger="edge.api.tls"):
        first = server_tls(cfg, "box")
    assert first is not None and first.created
    assert [r.getMessage() for r in caplog.records if first.ca_sha256 in r.getMessage()]  # logged at creation
    for name in (CA_CERT, CA_KEY, SERVER_CERT, SERVER_KEY):
        assert stat.S_IMODE((tmp_path / "tls" / name).stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "tls").stat().st_mode) == 0o700
    cert = x509.load_pem_x509_certificates((tmp_path / "tls" / SERVER_CERT).read_bytes())[0]
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost", "room.example"} <= set(sans.get_values_for_type(x509.DNSName))
    assert ipaddress.ip_address("127.0.0.1") in sans.get_values_for_type(x509.IPAddress)
    caplog.clear()
    second = server_tls(cfg, "box")
    assert second is not None and not second.created
    assert (second.cert_sha256, second.ca_sha256) == (first.cert_sha256, first.ca_sha256)
    # A name the certificate does not cover yet: the same CA issues a new server certificate.
    third = server_tls(cfg.model_copy(update={"allowed_hosts": ["new-name.example"]}), "box")
    assert third is not None and third.created
    assert third.ca_sha256 == first.ca_sha256 and third.cert_sha256 != first.cert_sha256


def test_an_operator_certificate_replaces_the_box_one(box: FakeBox, tmp_path: Path) -> None:
    made = server_tls(ApiConfig(tls="on", tls_dir=tmp_path / "made"), "box")
    assert made is not None and made.ca_file is not None
    cfg = ApiConfig(host="127.0.0.1", tls="on", tls_dir=tmp_path / "unused", tls_cert_file=made.cert_file,
                    tls_key_file=made.key_file)
    for server in _serve(box, cfg):
        trusting = ssl.create_default_context(cafile=str(made.ca_file))
        about = httpx.get(f"{server.url}/api/v1/about", verify=trusting, timeout=10).json()
        assert about["tls"] == {"issuer": "operator", "cert_sha256": made.cert_sha256, "ca_sha256": None}
    assert not (tmp_path / "unused").exists()
    other_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (tmp_path / "other-key.pem").write_bytes(other_key)
    with pytest.raises(UserError, match=r"is not the key of api\.tls_cert_file"):
        server_tls(cfg.model_copy(update={"tls_key_file": tmp_path / "other-key.pem"}), "box")
    (tmp_path / "junk.pem").write_text("인증서 아님")
    with pytest.raises(UserError, match="is not a PEM certificate"):
        server_tls(cfg.model_copy(update={"tls_cert_file": tmp_path / "junk.pem"}), "box")


def test_plain_http_beyond_loopback_is_refused_unless_opted_in(tmp_path: Path, caplog) -> None:
    lan = {"EDGE_API__HOST": "0.0.0.0", "EDGE_API__TLS": "off"}
    with pytest.raises(ConfigError, match=r"set api\.plain_http_on_lan = true"):
        load_config(None, lan)
    assert load_config(None, {"EDGE_API__HOST": "0.0.0.0"}).api.serves_tls  # HTTPS by default
    assert not load_config(None, {}).api.serves_tls  # loopback stays plain HTTP
    assert not load_config(None, {"EDGE_API__HOST": "::1"}).api.serves_tls
    opted = load_config(None, {**lan, "EDGE_API__PLAIN_HTTP_ON_LAN": "true", "EDGE_API__TLS_DIR": str(tmp_path)})
    with caplog.at_level(logging.WARNING, logger="edge.api.tls"):
        assert server_tls(opted.api, "box") is None
    assert any("in clear" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    with pytest.raises(ConfigError, match="go together"):
        load_config(None, {"EDGE_API__TLS_CERT_FILE": str(tmp_path / "cert.pem")})


def test_commands_that_ask_the_box_verify_it_against_its_ca(https: ApiServer, tmp_path: Path) -> None:
    from edge.commands.box_api import api_url, ask_box
    from edge.core.config import Config

    token_file = tmp_path / "api-token"
    token_file.write_text(API_TOKEN)
    cfg = Config(api=ApiConfig(host="0.0.0.0", port=https.port, tls_dir=tmp_path / "tls", token_file=token_file))
    assert api_url(cfg.api) == f"https://127.0.0.1:{https.port}"
    assert ask_box(cfg, "/state")["state"] == "idle"
    stranger = cfg.model_copy(update={"api": cfg.api.model_copy(update={"tls_dir": tmp_path / "elsewhere"})})
    with pytest.raises(UserError, match="cannot reach the box"):
        ask_box(stranger, "/state")
