"""How gunicorn serves the app: ``gunicorn spaceiq_site.wsgi`` reads this file from the working directory.

Threaded workers with keep-alive connections. Microsoft Entra ID sends a
provisioning cycle as thousands of small requests over connections it keeps
open; gunicorn's default sync workers close the connection after every
response, so each request paid a TCP handshake, an accept and a graceful
close, which was a third of a worker's CPU per SCIM request in the
benchmark (bench/RESULTS.md, 2026-11-26: 749 req/s with sync workers, about
1,150 with these settings, same code). An idle kept-alive connection waits in
the worker's poller, not in a thread.

The app is thread-safe for this: each thread has its own database connection
(Django's), the SCIM token memory and the request-log writer are shared per
process and guarded (provisioning/token_cache.py,
provisioning/request_log_writer.py). Database connections per app server:
``workers x (threads + 1)`` (the +1 is the request-log writer's).

Every value can be overridden the usual gunicorn ways: command-line options,
``GUNICORN_CMD_ARGS``, or ``WEB_CONCURRENCY`` for the number of workers.
"""

import os

bind = "0.0.0.0:8000"
# CPU-bound Python: 2 x cores + 1 processes keep both cores busy while some wait on PostgreSQL.
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * (os.cpu_count() or 1) + 1)
worker_class = "gthread"
# Threads cover a worker's waits on PostgreSQL and Redis, and a slow console
# request (an audit CSV export) no longer holds a whole process.
threads = 4
# Longer than the idle timeout of the load balancer or proxy in front (60 s
# for nginx's upstream keep-alive and most cloud balancers), so the proxy
# always closes first and never sends a request on a connection gunicorn is closing.
keepalive = 75
timeout = 60
