"""HTTPS for the API: the box's own certificate authority and server certificate, or the operator's.

On first start the box makes a local CA and a server certificate signed by it, whose names (SANs) are the
box's host names and addresses plus localhost and 127.0.0.1; a browser or script that trusts the CA (or
checks its SHA-256 fingerprint, printed once and shown on the page) knows it talks to this box. The CA's
key stays on the box; a server certificate that no longer names a current address (DHCP gave a new one)
is reissued by the same CA at the next start, so clients keep trusting it.
"""

from __future__ import annotations

import datetime
import fcntl
import ipaddress
import logging
import os
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from edge.core.config import ApiConfig
from edge.core.errors import UserError

log = logging.getLogger(__name__)

CA_DAYS = 3650
SERVER_DAYS = 825  # the longest validity browsers accept for a server certificate
CA_CERT = "ca.pem"
CA_KEY = "ca-key.pem"
SERVER_CERT = "server.pem"
SERVER_KEY = "server-key.pem"
_SIOCGIFADDR = 0x8915

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class TlsFiles:
    """What uvicorn serves (cert_file holds the server certificate, then the CA's when the box made it)."""

    cert_file: Path
    key_file: Path
    ca_file: Path | None
    cert_sha256: str
    ca_sha256: str | None
    created: bool  # made (or reissued) by this start

    def about(self) -> dict[str, str | None]:
        return {"cert_sha256": self.cert_sha256, "ca_sha256": self.ca_sha256,
                "issuer": "box" if self.ca_file is not None else "operator"}


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the DER certificate as colon-separated hex, as browsers and `openssl x509 -fingerprint` show it."""
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def box_names(cfg: ApiConfig) -> tuple[list[str], list[IpAddress]]:
    """The DNS names and addresses the box's certificate should cover."""
    host = socket.gethostname()
    names = {"localhost", host, socket.getfqdn(), f"{host.split('.')[0]}.local", *cfg.allowed_hosts}
    addresses: set[IpAddress] = {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")}
    try:
        listen = ipaddress.ip_address(cfg.host.strip("[]"))
        if not listen.is_unspecified:
            addresses.add(listen)
    except ValueError:
        names.add(cfg.host)
    addresses.update(_interface_addresses())
    dns = sorted(name.lower() for name in names if name and _dns_name(name))
    return dns, sorted(addresses, key=lambda a: (a.version, int(a)))


def _dns_name(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return False
    except ValueError:
        return all(part and len(part) < 64 for part in name.split(".")) and name.isascii()


def _interface_addresses() -> Iterable[IpAddress]:
    """The addresses of this machine's network interfaces (Linux: IPv4 by ioctl, IPv6 from /proc)."""
    found: list[IpAddress] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            try:
                reply = fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
            except OSError:  # an interface without an IPv4 address
                continue
            found.append(ipaddress.IPv4Address(reply[20:24]))
    try:
        lines = Path("/proc/net/if_inet6").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        address = ipaddress.IPv6Address(bytes.fromhex(line.split()[0]))
        if not address.is_link_local:  # a link-local address needs a zone in a URL; no one types it
            found.append(address)
    return found


def _write_private(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".new")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(partial, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _make_ca(device: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"edge box {device} local CA")])
    now = _now()
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return cert, key


def _make_server(
    ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, dns: list[str], addresses: list[IpAddress]
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    sans: list[x509.GeneralName] = [x509.DNSName(name) for name in dns]
    sans += [x509.IPAddress(address) for address in addresses]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns[0] if dns else "localhost")]))
        .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    return cert, key


def _covers(cert: x509.Certificate, dns: list[str], addresses: list[IpAddress]) -> bool:
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    has_dns = set(sans.get_values_for_type(x509.DNSName))
    has_ip = set(sans.get_values_for_type(x509.IPAddress))
    fresh = cert.not_valid_after_utc - _now() > datetime.timedelta(days=30)
    return fresh and set(dns) <= has_dns and set(addresses) <= has_ip


def _load(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {what} {path} ({exc.strerror}); fix its path or permissions") from None


def _box_certificate(cfg: ApiConfig, device: str) -> TlsFiles:
    directory = cfg.tls_dir
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create api.tls_dir {directory} ({exc.strerror}); fix api.tls_dir") from None
    ca_path, ca_key_path = directory / CA_CERT, directory / CA_KEY
    cert_path, key_path = directory / SERVER_CERT, directory / SERVER_KEY
    created = False
    if ca_path.exists() and ca_key_path.exists():
        try:
            ca = x509.load_pem_x509_certificate(_load(ca_path, "the box's CA certificate"))
            loaded_key = serialization.load_pem_private_key(_load(ca_key_path, "the box's CA key"), password=None)
        except ValueError:
            raise UserError(
                f"the box's CA in {directory} is damaged; move {directory} aside to make a new one (clients must "
                "then trust the new CA)"
            ) from None
        if not isinstance(loaded_key, ec.EllipticCurvePrivateKey):
            raise UserError(f"{ca_key_path} is not the box's CA key; move {directory} aside to make a new one")
        ca_key = loaded_key
    else:
        ca, ca_key = _make_ca(device)
        _write_private(ca_key_path, _key_pem(ca_key))
        _write_private(ca_path, ca.public_bytes(serialization.Encoding.PEM))
        created = True
    dns, addresses = box_names(cfg)
    server: x509.Certificate | None = None
    if not created and cert_path.exists() and key_path.exists():
        try:
            server = x509.load_pem_x509_certificates(_load(cert_path, "the box's certificate"))[0]
        except ValueError:
            server = None
        if server is not None and (server.issuer != ca.subject or not _covers(server, dns, addresses)):
            server = None
    if server is None:
        server, server_key = _make_server(ca, ca_key, dns, addresses)
        _write_private(key_path, _key_pem(server_key))
        chain = server.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
        _write_private(cert_path, chain)
        created = True
    return TlsFiles(cert_path, key_path, ca_path, fingerprint(server), fingerprint(ca), created)


def _operator_certificate(cert_file: Path, key_file: Path) -> TlsFiles:
    try:
        cert = x509.load_pem_x509_certificates(_load(cert_file, "api.tls_cert_file"))[0]
    except ValueError:
        raise UserError(f"api.tls_cert_file {cert_file} is not a PEM certificate; give the server certificate "
                        "(and its chain) in PEM") from None
    try:
        key = serialization.load_pem_private_key(_load(key_file, "api.tls_key_file"), password=None)
    except (ValueError, TypeError):
        raise UserError(f"api.tls_key_file {key_file} is not an unencrypted PEM private key; give the key of "
                        "api.tls_cert_file without a passphrase") from None
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*spki) != cert.public_key().public_bytes(*spki):
        raise UserError(f"api.tls_key_file {key_file} is not the key of api.tls_cert_file {cert_file}; give the "
                        "matching pair")
    if key_file.stat().st_mode & 0o077:
        log.warning("TLS key %s is readable by other users; run `chmod 600 %s`", key_file, key_file)
    return TlsFiles(cert_file, key_file, None, fingerprint(cert), None, False)


def server_tls(cfg: ApiConfig, device: str) -> TlsFiles | None:
    """The certificate to serve with, made on first start; None when api.tls says plain HTTP."""
    if not cfg.serves_tls:
        if not cfg.loopback:
            log.warning("api.plain_http_on_lan: the API on %s is plain HTTP; tokens, passwords and transcripts "
                        "cross the network in clear", cfg.host)
        return None
    if cfg.tls_cert_file is not None and cfg.tls_key_file is not None:
        return _operator_certificate(cfg.tls_cert_file, cfg.tls_key_file)
    files = _box_certificate(cfg, device)
    if files.created:
        log.info("made the box's TLS certificate in %s: CA SHA-256 %s, server SHA-256 %s", cfg.tls_dir,
                    files.ca_sha256, files.cert_sha256)
    return files
