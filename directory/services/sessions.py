"""Sessions people signed in with: recorded at sign-in, ended by deprovisioning.

Who signed in with which session (directory.models.PersonSession) is written by the sign-in
signals (directory.signin). The sign-in itself is audited there (signin.succeeded); what is audited
here is a session *ended* by deprovisioning, in the event of the deactivation or deletion
(directory.services.people). SESSION_ENGINE is the database backend (settings), so ending a
session is deleting its row.
"""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.models import Session
from django.db.models import Exists, OuterRef
from django.utils import timezone

from directory.models import Person, PersonSession
from directory.services.transactions import service_atomic
from spaceiq_site.postgresql.writes import delete_linked


def person_session_record(*, person: Person, session_key: str) -> None:
    """Remember that ``person`` signed in with ``session_key``. Records of sessions that expire
    unused are forgotten by ``person_session_records_purge`` (retention), not on the sign-in path."""
    # One INSERT: login() gives every sign-in a new session key (cycle_key), so a key is
    # recorded once.
    PersonSession.objects.create(session_key=session_key, person_id=person.pk)


def person_session_records_purge(*, now: Any = None) -> int:
    """Forget records of sessions that have expired or are gone (most people never sign out);
    returns how many. Their sessions cannot be used any more, so there is nothing left to end."""
    now = now or timezone.now()
    live = Session.objects.filter(session_key=OuterRef("session_key"), expire_date__gt=now)
    deleted, _ = PersonSession.objects.exclude(Exists(live)).delete()
    return deleted


def person_session_forget(*, session_key: str) -> None:
    """The session ``session_key`` was signed out of: nothing left to end."""
    PersonSession.objects.filter(session_key=session_key).delete()


@service_atomic
def person_sessions_end(*, person: Person) -> int:
    """Sign ``person`` out everywhere: delete every session they signed in with. Returns how many
    sessions ended. Their next request finds no session and is sent to sign in."""
    return sessions_end(person.pk)


def sessions_end(person_id: Any) -> int:
    """``person_sessions_end`` in the caller's transaction (no savepoint of its own): the sessions and
    the records of them go together, one statement on PostgreSQL (every SCIM deactivation runs it)."""
    return delete_linked(PersonSession, "person", person_id, Session)
