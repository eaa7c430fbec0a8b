"""Accounts: users with roles, hashed passwords, login sessions; see `roles` for who may do what."""

from __future__ import annotations

from cc_router.accounts.book import AccountBook, AccountsComponent
from cc_router.accounts.roles import MACHINE, Principal, Role

__all__ = ["MACHINE", "AccountBook", "AccountsComponent", "Principal", "Role"]
