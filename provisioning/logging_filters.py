"""Keeps SCIM tokens out of log records.

A token pasted into a URL by a misconfigured client reaches Django's own log
lines (``django.request``: "Not Found: /scim/Users/siq_scim_…"), whatever our
code does. This filter, on those loggers and on every configured handler, cuts
each token-shaped string down to ``siq_scim_[removed]`` before it is written.
"""

from __future__ import annotations

import logging

# provisioning.tokens.TOKEN_PREFIX, spelled out: logging is configured before
# the apps load, so this module must not import the models.
_TOKEN_PREFIX = "siq_scim_"


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message (and traceback text) without tokens; never drop it."""
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's problem, not ours
            return True
        if _TOKEN_PREFIX in message:
            from provisioning.tokens import token_redact

            record.msg, record.args = token_redact(message), ()
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when set: render the traceback once, here, to check it.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and _TOKEN_PREFIX in record.exc_text:
            from provisioning.tokens import token_redact

            record.exc_text = token_redact(record.exc_text)
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
