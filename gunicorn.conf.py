"""How gunicorn serves the app: ``gunicorn spaceiq_site.wsgi`` reads this file from the working directory.

The benchmark (``make bench``) and the tests that start gunicorn use this file
too, so what is measured and tested is what production runs.

Sync workers, one request at a time per process, behind a buffering proxy
(nginx, a cloud load balancer) that holds slow clients and keep-alive
connections. Threaded workers with keep-alive (``--worker-class gthread
--threads 4 --keep-alive 75``) were measured on the benchmark's 2-core machine
(bench/RESULTS.md, 2026-11-26): the same requests per second as sync workers,
with a higher p99 (threads of one process share one interpreter lock). The app
is safe under threads (tests/scim/test_scim_token_cache.py runs a threaded worker);
database connections per app server are then ``workers x (threads + 1)``, the
+1 being the request-log writer's.

Every value can be overridden the usual gunicorn ways: command-line options,
``GUNICORN_CMD_ARGS``, or ``WEB_CONCURRENCY`` for the number of workers.
"""

import os

bind = "0.0.0.0:8000"
# CPU-bound Python: 2 x cores + 1 processes keep every core busy while some wait on PostgreSQL.
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * (os.cpu_count() or 1) + 1)
worker_class = "sync"
threads = 1
timeout = 60
