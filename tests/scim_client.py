"""Speaking SCIM to the app as Entra does: a bearer token of a tenant's integration, and a client that sends it."""

from __future__ import annotations


class ScimClient:
    """Django's test client speaking SCIM with a bearer token, as Entra does."""

    def __init__(self, client, token: str, prefix: str = "/scim") -> None:
        self.client, self.token, self.prefix = client, token, prefix

    def _headers(self) -> dict:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.token}"} if self.token else {}

    def get(self, path: str, **params):
        return self.client.get(self.prefix + path, params or None, **self._headers())

    def _send(self, method: str, path: str, body):
        import json

        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        return getattr(self.client, method)(
            self.prefix + path, data, content_type="application/scim+json; charset=utf-8", **self._headers()
        )

    def post(self, path: str, body):
        return self._send("post", path, body)

    def put(self, path: str, body):
        return self._send("put", path, body)

    def patch(self, path: str, body):
        return self._send("patch", path, body)

    def delete(self, path: str):
        return self.client.delete(self.prefix + path, **self._headers())


def issue_token(tenant, kind: str = "azure") -> str:
    from directory.audit import Actor
    from provisioning import services

    integration = services.integration_for(tenant=tenant, kind=kind)
    services.integration_activate(integration=integration, actor=Actor.system("test"))
    _, raw = services.token_issue(integration=integration, actor=Actor.system("test"))
    return raw


def scim_token_remembered(get) -> None:
    """Bring a token into this process's memory (provisioning/token_cache.py) with ``get()``,
    a SCIM request with it, which must answer 200.

    One request, its log written (the request-log writer records when the
    integration last heard from Entra, up to a batch interval later) and any
    notification delivered, then a second request: whatever the first one
    wrote, the token is in memory after it. (``steady_bookkeeping`` keeps
    later requests from recording last use and last request again.)
    """
    import time

    from provisioning.request_log_writer import writer

    assert get().status_code == 200
    assert writer.flush()
    time.sleep(0.2)  # the notifications reach this connection's socket
    assert get().status_code == 200
