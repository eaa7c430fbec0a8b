"""Puts accounts into a service (called from wiring.py): the book, its loader, login routes."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.routing import BaseRoute

from cc_router.accounts.book import AccountBook, AccountsComponent
from cc_router.service import Service


def attach(service: Service, engine: AsyncEngine) -> AccountBook:
    """The book on the store's engine, set as `service.parts.accounts`."""
    return install(service, AccountBook(engine, service.config.accounts, clock=service.clock))


def install(service: Service, book: AccountBook) -> AccountBook:
    service.parts.accounts = book
    service.components.append(AccountsComponent(book))
    return book


def routes(book: AccountBook) -> list[BaseRoute]:
    """Login and logout, for `attach_http(routes=...)`."""
    from cc_router.http.account_routes import routes as login_routes

    return list(login_routes(book))
