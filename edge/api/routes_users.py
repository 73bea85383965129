"""Users and the integrations' API tokens (admin only): list, add, change the role or password, remove;
create a token (its secret is shown once) and revoke it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from edge.api.accounts import (
    MAX_PASSWORD_CHARS,
    MIN_PASSWORD_CHARS,
    AccountError,
    AccountExists,
    AccountNotFound,
    ApiToken,
    LastAdmin,
    Principal,
    Role,
    User,
)
from edge.api.auth import Authenticator
from edge.api.schemas import UNAUTHORIZED, ErrorOut

NAME = r"^[\w.@-]{1,64}$"
NamePath = Annotated[str, Path(max_length=64, description="A user or token name.")]
PROBLEMS: dict[int | str, dict] = {
    **UNAUTHORIZED,
    400: {"model": ErrorOut, "description": "A name, role or password that cannot be used, or a body not JSON."},
    404: {"model": ErrorOut, "description": "No such user or token."},
    409: {"model": ErrorOut, "description": "The name is taken, or the change would leave no admin."},
}


class UserOut(BaseModel):
    name: str = Field(examples=["김민지"])
    role: Role
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(name=user.name, role=user.role, created_at=user.created_at, updated_at=user.updated_at)


class UserList(BaseModel):
    items: list[UserOut]


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME, examples=["김민지"])
    role: Role
    password: str = Field(min_length=MIN_PASSWORD_CHARS, max_length=MAX_PASSWORD_CHARS)


class UserChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    password: str | None = Field(default=None, min_length=MIN_PASSWORD_CHARS, max_length=MAX_PASSWORD_CHARS)


class TokenOut(BaseModel):
    name: str = Field(examples=["home-assistant"])
    role: Role
    created_at: str
    created_by: str
    last_used_at: str | None

    @classmethod
    def of(cls, token: ApiToken) -> TokenOut:
        return cls(name=token.name, role=token.role, created_at=token.created_at, created_by=token.created_by,
                   last_used_at=token.last_used_at)


class TokenList(BaseModel):
    items: list[TokenOut]


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME, examples=["home-assistant"])
    role: Role


class TokenCreatedOut(TokenOut):
    token: str = Field(description="The secret: shown this once, send it as `Authorization: Bearer <token>`.")


def _problem(exc: AccountError) -> HTTPException:
    code = 404 if isinstance(exc, AccountNotFound) else 409 if isinstance(exc, (AccountExists, LastAdmin)) else 400
    return HTTPException(code, detail=str(exc))


def build_router(auth: Authenticator) -> APIRouter:
    router = APIRouter(tags=["users"], dependencies=[Depends(auth)], responses=PROBLEMS)
    accounts = auth.accounts

    @router.get("/users", response_model=UserList, summary="The users and their roles")
    def list_users() -> UserList:
        return UserList(items=[UserOut.of(user) for user in accounts.users()])

    @router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED, summary="Add a user")
    def add_user(body: UserIn) -> UserOut:
        try:
            return UserOut.of(accounts.add_user(body.name, body.role, body.password))
        except AccountError as exc:
            raise _problem(exc) from None

    @router.patch("/users/{name}", response_model=UserOut, summary="Change a user's role or password")
    def change_user(name: NamePath, body: UserChangeIn) -> UserOut:
        try:
            if body.password is not None:
                accounts.set_password(name, body.password)
            return UserOut.of(accounts.set_role(name, body.role) if body.role else accounts.user(name))
        except AccountError as exc:
            raise _problem(exc) from None

    @router.delete("/users/{name}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove a user")
    def remove_user(name: NamePath) -> Response:
        try:
            accounts.remove_user(name)
        except AccountError as exc:
            raise _problem(exc) from None
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.get("/tokens", response_model=TokenList, summary="The integrations' API tokens (never their secrets)")
    def list_tokens() -> TokenList:
        return TokenList(items=[TokenOut.of(token) for token in accounts.tokens()])

    @router.post("/tokens", response_model=TokenCreatedOut, status_code=status.HTTP_201_CREATED,
                 summary="Create an API token for an integration")  # fmt: skip
    def create_token(body: TokenIn, request: Request) -> TokenCreatedOut:
        principal: Principal = request.state.principal
        try:
            token, secret = accounts.create_token(body.name, body.role, created_by=principal.actor)
        except AccountError as exc:
            raise _problem(exc) from None
        return TokenCreatedOut(**TokenOut.of(token).model_dump(), token=secret)

    @router.delete("/tokens/{name}", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke an API token")
    def revoke_token(name: NamePath) -> Response:
        try:
            accounts.revoke_token(name)
        except AccountError as exc:
            raise _problem(exc) from None
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router
