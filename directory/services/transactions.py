"""The transactions the directory's services run in.

Inside ``single_transaction()`` (the SCIM views lock the resource first,
then call a service) services join the caller's transaction without a
savepoint: a savepoint costs two round trips, and whatever a service raises
there ends the whole transaction anyway. Everywhere else a nested call keeps
its savepoint, so a caller may catch a service's error and carry on.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, ParamSpec, TypeVar

from django.db import connection, transaction

_JOIN_CALLER = contextvars.ContextVar("directory_services_join_caller", default=False)


@contextmanager
def single_transaction() -> Iterator[None]:
    """One transaction that the services called inside join without savepoints."""
    token = _JOIN_CALLER.set(True)
    try:
        with transaction.atomic():
            yield
    finally:
        _JOIN_CALLER.reset(token)


def own_statement() -> AbstractContextManager[Any]:
    """Around a write that is one statement: nothing in autocommit (the statement is its own
    transaction), a savepoint inside a caller's transaction, so that a refused write leaves the
    caller's transaction usable (none inside ``single_transaction()``, as for ``service_atomic``)."""
    if connection.in_atomic_block:
        return transaction.atomic(savepoint=not _JOIN_CALLER.get())
    return nullcontext()


def service_transaction() -> transaction.Atomic:
    """A transaction, or a savepoint inside a caller's one (none inside ``single_transaction()``)."""
    return transaction.atomic(savepoint=not _JOIN_CALLER.get())


P = ParamSpec("P")
R = TypeVar("R")


def service_atomic(func: Callable[P, R]) -> Callable[P, R]:
    """``transaction.atomic``, without a savepoint inside ``single_transaction()``."""

    @functools.wraps(func)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with service_transaction():
            return func(*args, **kwargs)

    return run
