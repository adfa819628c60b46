"""Errors the directory services raise; callers translate them (SCIM, forms)."""

from __future__ import annotations


class DirectoryError(Exception):
    """A change the directory refused; nothing was written."""


class UniquenessConflict(DirectoryError):
    def __init__(self, attribute: str, value: str) -> None:
        self.attribute = attribute
        self.value = value
        super().__init__(f"{attribute} {value!r} is already in use in this directory.")


class InvalidValue(DirectoryError):
    def __init__(self, attribute: str, message: str) -> None:
        self.attribute = attribute
        self.message = message
        super().__init__(f"{attribute}: {message}")


class LastAdminError(DirectoryError):
    def __init__(self) -> None:
        super().__init__("The last admin of a tenant cannot lose the admin role.")


class StaleWrite(DirectoryError):
    """The record changed (or went) after the caller read it; nothing was written, read it again."""

    def __init__(self, kind: str, pk: object) -> None:
        self.kind = kind
        self.pk = pk
        super().__init__(f"The {kind} {pk} changed while this change was being made.")
