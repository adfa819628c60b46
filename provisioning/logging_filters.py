"""Keeps SCIM tokens and API keys out of log records.

A token pasted into a URL by a misconfigured client reaches Django's own log
lines (``django.request``: "Not Found: /scim/Users/siq_scim_…"), whatever our
code does. This filter, on those loggers and on every configured handler, cuts
each token-shaped string down to ``siq_scim_[removed]`` before it is written.
"""

from __future__ import annotations

import logging

from directory.keyed_secrets import may_hold_secret, secrets_redact


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message (and traceback text) without tokens; never drop it."""
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's problem, not ours
            return True
        if may_hold_secret(message):
            record.msg, record.args = secrets_redact(message), ()
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when set: render the traceback once, here, to check it.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and may_hold_secret(record.exc_text):
            record.exc_text = secrets_redact(record.exc_text)
        return True


class WithoutHealthProbes(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        """Drop Django's "Service Unavailable: /readyz" (ERROR, once per probe); provisioning.health
        logs a warning naming the failed checks instead."""
        request = getattr(record, "request", None)
        if request is None:
            return True
        from provisioning.health import ENDPOINTS

        return getattr(request, "path_info", None) not in ENDPOINTS
