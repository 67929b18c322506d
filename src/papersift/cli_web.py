"""`papersift web …`: accounts of the web app (`papersift serve` hosts the app itself)."""

from __future__ import annotations

import sys

import click

from papersift.cli import _settings, console, main
from papersift.errors import PapersiftError


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("password", hide_input=True, confirmation_prompt=True)


@main.group()
def web() -> None:
    """Accounts of the web app (needed when `papersift serve` binds beyond 127.0.0.1)."""


@web.command("adduser")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.pass_context
def adduser(ctx: click.Context, name: str, password_stdin: bool) -> None:
    """Create an account NAME (its profile, digests and ratings are the user NAME's)."""
    from papersift.store import Store
    from papersift.web.auth import set_password

    if not name.strip() or len(name) > 64 or any(c.isspace() for c in name):
        raise PapersiftError(f"invalid user name {name!r}: 1–64 characters, no spaces")
    store = Store(_settings(ctx).store_url)
    try:
        account = store.web_user(name)
        if account is not None and account.password is not None:
            raise PapersiftError(f"account {name!r} exists: change its password with "
                                 f"`papersift web passwd {name}`")
        set_password(store, name, _password(password_stdin))
    finally:
        store.close()
    console.print(f"account {name} created")


@web.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.pass_context
def passwd(ctx: click.Context, name: str, password_stdin: bool) -> None:
    """Set a new password for NAME; all of NAME's sessions are signed out."""
    from papersift.store import Store
    from papersift.web.auth import set_password

    store = Store(_settings(ctx).store_url)
    try:
        if name not in store.web_accounts():
            raise PapersiftError(f"no account {name!r}: create it with "
                                 f"`papersift web adduser {name}`")
        set_password(store, name, _password(password_stdin))
    finally:
        store.close()
    console.print(f"password of {name} changed; its sessions were signed out")


@web.command("users")
@click.pass_context
def users(ctx: click.Context) -> None:
    """List the accounts that can sign in."""
    from papersift.store import Store

    store = Store(_settings(ctx).store_url)
    try:
        for name in store.web_accounts():
            console.print(name)
    finally:
        store.close()
