"""The demo-mode email backend: prints emails to stderr.

Django's console backend writes to stdout, which would mix emails into the
output of commands meant for scripts (``TOKEN=$(manage.py issue_scim_token acme)``).
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.mail.backends.console import EmailBackend


class StderrEmailBackend(EmailBackend):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream", sys.stderr)
        super().__init__(*args, **kwargs)
