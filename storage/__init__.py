"""Storage: the database chosen by URL (`open_database`) and the operations that differ by
backend, re-exported from storage.factory. Loaded on first use, so importing one repository
module does not load them all."""

from __future__ import annotations

from typing import Any

__all__ = ["DatabaseUnusable", "open_database", "parse_database_url"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from storage import factory

        return getattr(factory, name)
    raise AttributeError(f"module 'storage' has no attribute {name!r}")
