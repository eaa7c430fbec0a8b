"""Puts accounts into a service (called from wiring.py): the book, its loader, login routes."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from cc_router.accounts.access import ACCOUNTS_KEY
from cc_router.accounts.book import AccountBook, AccountsComponent
from cc_router.service import Service


def attach(service: Service, store_url: str) -> AccountBook:
    writer = service.extras.get("store")
    engine = getattr(writer, "engine", None)
    if not isinstance(engine, AsyncEngine):
        engine = create_async_engine(store_url, pool_pre_ping=True)
    return install(service, AccountBook(engine, service.config.accounts, clock=service.clock))


def install(service: Service, book: AccountBook) -> AccountBook:
    service.extras[ACCOUNTS_KEY] = book
    service.components.append(AccountsComponent(book))
    from cc_router.http.account_routes import routes

    mine = routes(book)
    extra = service.extras.setdefault("http_routes", [])
    assert isinstance(extra, list)
    extra.extend(mine)
    # The HTTP app may already be built; starlette reads its route list per request.
    app = getattr(service.extras.get("http"), "app", None)
    if app is not None:
        app.router.routes.extend(mine)
    return book
