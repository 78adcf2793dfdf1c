"""`/api/v1/users`: accounts, managed by admins."""

from __future__ import annotations

from typing import Annotated

import msgspec
from aiohttp import web

from homei.api.auth import NewPassword, RoleName, UserOut, user_out
from homei.api.middleware import identity_of
from homei.api.models import StatusMessage
from homei.api.routing import endpoint
from homei.core.accounts import Accounts
from homei.core.auth import Permission, Role
from homei.core.errors import Conflict

Username = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")]
USERNAME_PARAM = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"}


class UserCreate(msgspec.Struct):
    username: Username
    password: NewPassword
    role: RoleName = "viewer"


class UserUpdate(msgspec.Struct):
    role: RoleName | None = None
    password: NewPassword | None = None


class UserList(msgspec.Struct):
    users: list[UserOut]


class UsersApi:
    """Who may use the device, and with which role."""

    def __init__(self, accounts: Accounts) -> None:
        self._accounts = accounts

    @endpoint(
        "GET",
        "/api/v1/users",
        summary="List users",
        tag="users",
        permission=Permission.ADMIN,
        response=UserList,
    )
    async def list_users(self, request: web.Request) -> UserList:
        """Every account with its role."""
        return UserList([user_out(u) for u in await self._accounts.list_users()])

    @endpoint(
        "POST",
        "/api/v1/users",
        summary="Create a user",
        tag="users",
        permission=Permission.ADMIN,
        body=UserCreate,
        response=UserOut,
        status=201,
        errors=(409,),
    )
    async def create_user(self, request: web.Request, body: UserCreate) -> UserOut:
        """A new account; the password is stored only as an scrypt hash."""
        return user_out(
            await self._accounts.add_user(body.username, body.password, Role(body.role))
        )

    @endpoint(
        "GET",
        "/api/v1/users/{username}",
        summary="Get a user",
        tag="users",
        permission=Permission.ADMIN,
        response=UserOut,
        path_params={"username": USERNAME_PARAM},
    )
    async def get_user(self, request: web.Request) -> UserOut:
        """One account."""
        return user_out(await self._accounts.get_user(request.match_info["username"]))

    @endpoint(
        "PATCH",
        "/api/v1/users/{username}",
        summary="Change a user's role or password",
        tag="users",
        permission=Permission.ADMIN,
        body=UserUpdate,
        response=UserOut,
        path_params={"username": USERNAME_PARAM},
        errors=(409,),
    )
    async def update_user(self, request: web.Request, body: UserUpdate) -> UserOut:
        """A new role or password revokes the user's tokens (the role it already has does
        not); the last admin keeps its role."""
        username = request.match_info["username"]
        user = await self._accounts.get_user(username)
        if body.role is not None:
            user = await self._accounts.set_role(username, Role(body.role))
        if body.password is not None:
            user = await self._accounts.set_password(username, body.password)
        return user_out(user)

    @endpoint(
        "DELETE",
        "/api/v1/users/{username}",
        summary="Delete a user",
        tag="users",
        permission=Permission.ADMIN,
        response=StatusMessage,
        path_params={"username": USERNAME_PARAM},
        errors=(409,),
    )
    async def delete_user(self, request: web.Request) -> StatusMessage:
        """Removes the account and its API keys; not the caller's own, not the last admin."""
        username = request.match_info["username"]
        if username == identity_of(request).username:
            raise Conflict("You cannot delete your own account", {"username": username})
        await self._accounts.delete_user(username)
        return StatusMessage("deleted", f"User '{username}' deleted")
