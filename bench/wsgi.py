"""The WSGI entry point of both benchmarked servers (ours and the stock baseline).

``BENCH_WSGI_MODULE`` names the real WSGI module (``spaceiq_site.wsgi`` or
``bench.stock_server.wsgi``). With ``BENCH_QUERY_COUNT=1`` every response to a
request sent with ``X-Bench-Count: 1`` carries ``X-Query-Count`` (SQL statements the request ran, counted with
``django.db.connection.execute_wrapper``, savepoints included) and
``X-Server-Time-Ms`` (time inside the Django application) and ``X-Server-Cpu-Ms`` (the CPU
time of the worker's thread meanwhile: the application's own work, without the time it waited
for PostgreSQL, Redis or a core of a busy machine); other requests
(the timed replay) pass straight through. Without it the application is
served unwrapped, exactly as production serves it; production never imports
this module.
"""

from __future__ import annotations

import os
import time
from importlib import import_module

_target = import_module(os.environ.get("BENCH_WSGI_MODULE", "spaceiq_site.wsgi")).application


def _counting(application):
    from django.db import connection

    def app(environ, start_response):
        if environ.get("HTTP_X_BENCH_COUNT") != "1":
            return application(environ, start_response)  # timed requests run unwrapped
        count = 0

        def counter(execute, sql, params, many, context):
            nonlocal count
            count += 1
            return execute(sql, params, many, context)

        started, cpu = time.perf_counter(), time.thread_time()

        def start(status, headers, exc_info=None):
            headers = [*headers, ("X-Query-Count", str(count)),
                       ("X-Server-Time-Ms", f"{(time.perf_counter() - started) * 1000:.3f}"),
                       ("X-Server-Cpu-Ms", f"{(time.thread_time() - cpu) * 1000:.3f}")]
            return start_response(status, headers, exc_info)

        with connection.execute_wrapper(counter):
            return application(environ, start)

    return app


application = _counting(_target) if os.environ.get("BENCH_QUERY_COUNT") == "1" else _target
