"""What the box is and how to recognise it (no token: the login screen shows it before anyone types a
password): its version, device id, and the SHA-256 fingerprints of the certificate it serves."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from edge import __version__
from edge.api.tls import TlsFiles


class TlsOut(BaseModel):
    issuer: str = Field(description="box: the box's own CA made it; operator: api.tls_cert_file.")
    cert_sha256: str = Field(description="SHA-256 fingerprint of the server certificate (colon-separated hex).")
    ca_sha256: str | None = Field(description="SHA-256 fingerprint of the box's CA, the one to trust; null for "
                                  "an operator's certificate.")


class AboutOut(BaseModel):
    version: str
    device_id: str
    tls: TlsOut | None = Field(description="null when the API is served over plain HTTP (loopback).")


def build_router(device_id: str, tls: TlsFiles | None) -> APIRouter:
    router = APIRouter(tags=["status"])
    about = AboutOut(version=__version__, device_id=device_id,
                     tls=TlsOut.model_validate(tls.about()) if tls is not None else None)

    @router.get("/about", response_model=AboutOut, summary="Version, device and TLS fingerprints (no token)")
    def get_about() -> AboutOut:
        return about

    return router
