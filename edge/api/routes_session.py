"""Logging in and out of the admin page: a name and password give an HttpOnly, SameSite=Strict session
cookie (Secure over HTTPS) and the CSRF token the page sends with every change. Wrong passwords are slowed
per name and per client address (edge.api.auth.LoginLimiter)."""

from __future__ import annotations

import math

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from edge.api.accounts import MAX_PASSWORD_CHARS, SESSION_HOURS, Principal, Role
from edge.api.audit import AuditLog
from edge.api.auth import SESSION_COOKIE, Authenticator, LoginLimiter, forbidden, same_origin, unauthorized
from edge.api.schemas import UNAUTHORIZED, ErrorOut


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, examples=["김민지"])
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_CHARS)


class SessionOut(BaseModel):
    name: str = Field(examples=["김민지"])
    role: Role
    kind: str = Field(description="user: logged in with a password; token: an API token.")
    csrf: str | None = Field(description="Send it as X-CSRF-Token with every change made with the session cookie.")

    @classmethod
    def of(cls, principal: Principal) -> SessionOut:
        return cls(name=principal.name, role=principal.role, kind=principal.kind, csrf=principal.csrf)


LOGIN_RESPONSES: dict[int | str, dict] = {
    400: {"model": ErrorOut, "description": "The body is not valid JSON."},
    401: {"model": ErrorOut, "description": "Wrong name or password."},
    403: {"model": ErrorOut, "description": "A login form posted from another site."},
    429: {"model": ErrorOut, "description": "Too many wrong passwords: wait Retry-After seconds."},
}


def build_router(auth: Authenticator, limiter: LoginLimiter, audit: AuditLog) -> APIRouter:
    router = APIRouter(tags=["session"])
    accounts = auth.accounts

    @router.post("/login", response_model=SessionOut, responses=LOGIN_RESPONSES, summary="Log in (sets the cookie)")
    def login(body: LoginIn, request: Request, response: Response) -> SessionOut:
        if not same_origin(request):
            raise forbidden("a login from another site is refused; log in on the box's own page")
        keys = [f"user:{body.name}", f"address:{request.client.host if request.client else ''}"]
        wait = limiter.wait_s(keys)
        if wait > 0:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                detail=f"too many wrong passwords; try again in {math.ceil(wait)} s",
                headers={"Retry-After": str(math.ceil(wait))},
            )
        user = accounts.verify(body.name, body.password)
        if user is None:
            limiter.failed(keys)
            audit.record(body.name, "login.failed", detail=keys[1])
            raise unauthorized("wrong name or password")
        limiter.succeeded(keys)
        audit.record(user.name, "login", detail=keys[1])
        secret, csrf = accounts.open_session(user)
        response.set_cookie(
            SESSION_COOKIE, secret, max_age=SESSION_HOURS * 3600, path="/", httponly=True,
            secure=request.url.scheme == "https", samesite="strict",
        )  # fmt: skip
        return SessionOut(name=user.name, role=user.role, kind="user", csrf=csrf)

    @router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=UNAUTHORIZED,
                 dependencies=[Depends(auth)], summary="Log out")  # fmt: skip
    def logout(request: Request) -> Response:
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            accounts.close_session(cookie)
        response = Response(status_code=status.HTTP_204_NO_CONTENT)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                               secure=request.url.scheme == "https")
        return response

    @router.get("/session", response_model=SessionOut, responses=UNAUTHORIZED, dependencies=[Depends(auth)],
                summary="Who is logged in")  # fmt: skip
    def session(request: Request) -> SessionOut:
        return SessionOut.of(request.state.principal)

    return router
