"""The morning sign-in storm: SAML sign-ins posted to the bench tenant's ACS URL (bench/run.py's SSO phase).

It runs once, on ours' last turn after its SCIM replays (so no SCIM figure
is measured with sign-ins in the tables), against the same gunicorn, so the
people the replay provisioned through SCIM are the ones who sign in:

1. ``python -m bench.sso configure SLUG ...``, run with the app's environment
   like bench/seed.py, configures SAML on the tenant's Microsoft Entra ID
   integration through the app's own service (``sso_settings_save``) with the
   certificate of a test identity provider (tests/sso/idp.py, which signs as
   Entra does), and prints the ACS URL, the entity ID and the user names of
   the active people provisioned through SCIM;
2. one response per sign-in is signed ahead of time (signing is the identity
   provider's work, not ours: untimed);
3. a few sign-ins marked ``X-Bench-Count: 1`` (bench/wsgi.py) give the SQL
   statements and the time inside the app per sign-in, and warm every worker up;
4. the storm: the responses are posted from ``--concurrency`` threads, each
   on its own keep-alive connection, as a browser posts Entra's
   auto-submitting form: ``application/x-www-form-urlencoded`` ``SAMLResponse``,
   no cookies. A 303 to "/" is a sign-in; anything else is an error. The
   server's CPU (gunicorn workers and PostgreSQL, harness.CpuMeter)
   and the load generator's own CPU are read around it;
5. ``python -m bench.sso bare FILE`` validates a sample of the same responses
   in one process with python3-saml alone (``OneLogin_Saml2_Response(...)
   .is_valid``), first as the library ships (it compiles the XSD schema on
   every call), then with provisioning/sso/saml.py's compiled schema, then
   through provisioning.sso.saml's own parse and validate: CPU per validation,
   set against the server's CPU per sign-in, shows where a sign-in's time goes.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode, urlsplit

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness
from bench.client import Connection, Recorder, Sample, header_lines, percentile

KIND = "sso.signin"
COUNTED = 20  # sign-ins of the counted pass (SQL per sign-in), when counting is on
BARE_SAMPLE = 300  # responses validated by each variant of the in-process measurement
FORM = "application/x-www-form-urlencoded"


# --- the app's side: configuration (run with the app's environment) ---------------------


def configure_main(argv: list[str]) -> None:
    """Configure SSO for SLUG's integration and print what the storm needs, as one JSON line."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.sso configure")
    parser.add_argument("slug")
    parser.add_argument("--kind", default="azure")
    parser.add_argument("--idp-entity-id", required=True)
    parser.add_argument("--login-url", default="")
    parser.add_argument("--certificate", required=True, help="Base64 DER (Entra's Certificate (Base64))")
    args = parser.parse_args(argv)
    _django_setup()
    from directory.audit import Actor
    from directory.models import Person, Source, Tenant
    from provisioning import services as provisioning_services
    from provisioning.sso import services
    from provisioning.sso.certificates import certificate_read
    from provisioning.sso.selectors import sp_for

    tenant = Tenant.objects.get(slug=args.slug)
    integration = provisioning_services.integration_for(tenant=tenant, kind=args.kind)
    if not integration.is_active:  # issue_scim_token activated it; SSO of an inactive integration is off
        provisioning_services.integration_activate(integration=integration, actor=Actor.system("bench"))
        integration.refresh_from_db()
    services.sso_settings_save(
        integration=integration, actor=Actor.system("Operator (bench/sso.py)"), idp_entity_id=args.idp_entity_id,
        login_url=args.login_url, require_sso=False, create_people=False,
        certificates=[certificate_read(args.certificate)],
    )
    sp = sp_for(integration=integration)
    people = list(Person.objects.filter(tenant=tenant, source=Source.SCIM, is_active=True)
                  .order_by("created", "id").values_list("user_name", flat=True))
    print(json.dumps({"entity_id": sp.entity_id, "acs_url": sp.acs_url, "people": people}))


def _django_setup() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spaceiq_site.settings")
    import django

    django.setup()


# --- the bare library, in one process (run with the app's environment) --------------------


def bare_main(argv: list[str]) -> None:
    """CPU per validation of the same responses: python3-saml as shipped, with our compiled
    schema, and through provisioning.sso.saml (settings per call, parse, validate, values)."""
    data = json.loads(Path(argv[0]).read_text())
    from onelogin.saml2.response import OneLogin_Saml2_Response
    from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

    # The library's own validate_xml, taken before provisioning.sso.saml replaces it.
    library_validate_xml = OneLogin_Saml2_XML.__dict__["validate_xml"]
    _django_setup()
    from provisioning.sso import saml

    ours_validate_xml = OneLogin_Saml2_XML.__dict__["validate_xml"]
    sp = saml.ServiceProvider(entity_id=data["entity_id"], acs_url=data["acs_url"], sign_on_url="", metadata_url="")
    idp = saml.IdentityProvider(entity_id=data["idp_entity_id"], login_url="", certificates=(data["certificate"],))
    responses: list[str] = data["responses"]
    toolkit = saml.toolkit_settings(sp, idp)  # built once: the bare library's best case
    request_data = saml.toolkit_request_data(sp)

    def library(response: str) -> None:
        if not OneLogin_Saml2_Response(toolkit, response).is_valid(request_data, raise_exceptions=True):
            raise AssertionError("invalid")

    def ours(response: str) -> None:
        saml.response_validate(saml.response_parse(response, sp=sp, idp=idp), sp=sp, request_id=None)

    def cpu_ms(validate: Callable[[str], None]) -> float:
        validate(responses[0])  # warm-up (imports, the compiled schema)
        started = time.process_time()
        for response in responses:
            validate(response)
        return round((time.process_time() - started) * 1000 / len(responses), 3)

    result: dict[str, Any] = {"sample": len(responses)}
    OneLogin_Saml2_XML.validate_xml = library_validate_xml
    result["library_ms"] = cpu_ms(library)
    OneLogin_Saml2_XML.validate_xml = ours_validate_xml
    from lxml import etree

    started = time.process_time()
    for _ in range(5):
        etree.XMLSchema(etree.parse(str(saml.SCHEMA_DIR / "saml-schema-protocol-2.0.xsd")))
    result["schema_compile_ms"] = round((time.process_time() - started) * 1000 / 5, 3)
    result["library_compiled_schema_ms"] = cpu_ms(library)
    result["ours_saml_ms"] = cpu_ms(ours)
    print(json.dumps(result))


# --- the load generator's side ------------------------------------------------------------


class Browser:
    """Posts forms over one keep-alive connection, with no cookies (one per thread).

    A server that closes after each response (gunicorn's sync workers) makes it
    reconnect on the next request, as bench/client.py's Client does."""

    def __init__(self, host: str, port: int, *, count: bool = False, timeout: float = 60) -> None:
        headers = {"Content-Type": FORM, "Accept": "text/html",
                   "Origin": "https://login.microsoftonline.com",
                   "Referer": "https://login.microsoftonline.com/"}
        if count:
            headers["X-Bench-Count"] = "1"
        self.headers = header_lines(headers)
        self.conn = Connection(host, port, timeout)

    def close(self) -> None:
        self.conn.close()

    def post(self, path: str, body: bytes) -> tuple[int, dict[str, str], float]:
        started = time.perf_counter()
        status, headers, _ = self.conn.exchange("POST", path, self.headers, body)
        return status, headers, (time.perf_counter() - started) * 1000


def post_all(recorder: Recorder, host: str, port: int, path: str, bodies: list[bytes], concurrency: int, *,
             count: bool = False) -> None:
    """Post every body once, from ``concurrency`` threads; a 303 to "/" is a sign-in."""
    import threading

    lock = threading.Lock()
    position = 0

    def worker() -> None:
        nonlocal position
        browser = Browser(host, port, count=count)
        try:
            while True:
                with lock:
                    if position >= len(bodies):
                        return
                    body = bodies[position]
                    position += 1
                try:
                    status, headers, ms = browser.post(path, body)
                except Exception as exc:  # every failure is counted as an error, never raised
                    recorder.add(Sample(KIND, 0, 0.0, None, None, error=f"{type(exc).__name__}: {exc}"))
                    continue
                location = headers.get("location", "")
                error = "" if status == 303 and location == "/" else f"POST {path} -> {status} {location!r}"
                queries, server = headers.get("x-query-count"), headers.get("x-server-time-ms")
                recorder.add(Sample(KIND, status, ms, int(queries) if queries else None,
                                    float(server) if server else None, error=error))
        finally:
            browser.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(max(1, concurrency))]
    recorder.started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    recorder.ended = time.perf_counter()


@dataclass
class Storm:
    """What bench/run.py hands the SSO phase: the running server and how to reach its tenant."""

    env: dict[str, str]
    slug: str
    port: int
    master_pid: int
    database_url: str
    signins: int | None  # None: one per active person provisioned through SCIM
    concurrency: int
    count: bool
    before_phase: Callable[[], None] | None = None
    postgres_cpu: Callable[[], float] | None = None  # bench/postgres.py's Cluster.cpu_seconds


def run_storm(storm: Storm) -> dict[str, Any]:
    from tests.sso.idp import EntraIdP

    idp = EntraIdP()
    configured = json.loads(harness.run(
        storm.env, "-m", "bench.sso", "configure", storm.slug, "--idp-entity-id", idp.entity_id,
        "--login-url", idp.login_url, "--certificate", idp.certificate.base64).strip().splitlines()[-1])
    people: list[str] = configured["people"]
    if not people:
        raise SystemExit("SSO storm: the tenant has no active people provisioned through SCIM")
    total = len(people) if storm.signins is None else storm.signins
    counted = min(COUNTED, total) if storm.count else 0

    # What EntraIdP.response reads of a provisioning.sso.saml.ServiceProvider.
    sp = SimpleNamespace(entity_id=configured["entity_id"], acs_url=configured["acs_url"])
    path = urlsplit(sp.acs_url).path
    print(f"\nSSO: SAML configured for {storm.slug}'s Microsoft Entra ID integration (ACS {path}); "
          f"signing {counted} + {total} responses ahead of time for {len(people)} active people provisioned "
          "through SCIM ...", flush=True)
    started = time.perf_counter()
    names = [people[i % len(people)] for i in range(counted)] + [people[i % len(people)] for i in range(total)]
    responses = [idp.response(name_id=name, sp=sp) for name in names]
    bodies = [urlencode({"SAMLResponse": r}).encode() for r in responses]
    signing_s = time.perf_counter() - started
    print(f"  signed in {signing_s:.1f} s (the identity provider's work, untimed)", flush=True)

    counted_recorder = Recorder("sso-counted")
    if counted:
        post_all(counted_recorder, "127.0.0.1", storm.port, path, bodies[:counted], storm.concurrency, count=True)
    if storm.before_phase is not None:
        storm.before_phase()
    recorder = Recorder("sso-storm")
    meter = harness.CpuMeter(storm.master_pid, storm.database_url, storm.postgres_cpu)
    try:
        meter.start()
        post_all(recorder, "127.0.0.1", storm.port, path, bodies[counted:], storm.concurrency)
        meter.stop()
    finally:
        meter.close()

    sample = responses[counted:][:BARE_SAMPLE]
    with tempfile.NamedTemporaryFile("w", prefix="spaceiq-bench-sso-", suffix=".json", delete=False) as fh:
        json.dump({"entity_id": sp.entity_id, "acs_url": sp.acs_url, "idp_entity_id": idp.entity_id,
                   "certificate": idp.certificate.base64, "responses": sample}, fh)
    try:
        bare = json.loads(harness.run(storm.env, "-m", "bench.sso", "bare", fh.name).strip().splitlines()[-1])
    finally:
        os.unlink(fh.name)

    summary = recorder.summary()
    summary.pop("kinds")
    n = summary["requests"]
    cpu = meter.per_request(n)
    counts = [s.queries for s in counted_recorder.samples if s.queries is not None]
    server = [s.server_ms for s in counted_recorder.samples if s.server_ms is not None]
    counted_errors = [s for s in counted_recorder.samples if s.error]
    result = {
        "people": len(people), "signins": n, "concurrency": storm.concurrency, "signing_s": round(signing_s, 1),
        "response_bytes": len(bodies[-1]), **summary, "signins_per_s": summary["rps"],
        "cpu_ms_per_signin": cpu,
        "counted": {"signins": len(counted_recorder.samples), "errors": len(counted_errors),
                    "error_examples": [s.error for s in counted_errors[:5]],
                    "queries_mean": round(sum(counts) / len(counts), 2) if counts else None,
                    "queries_max": max(counts) if counts else None,
                    "server_ms_p50": round(percentile(server, 0.5), 2) if server else None},
        "bare": bare,
    }
    result["errors"] = summary["errors"] + len(counted_errors)
    print_storm(result)
    return result


def print_storm(r: dict[str, Any]) -> None:
    lat, cpu, bare, counted = r["latency_ms"], r["cpu_ms_per_signin"], r["bare"], r["counted"]
    print(f"\nSSO: the morning sign-in storm ({r['signins']} sign-ins by {r['people']} people, "
          f"c={r['concurrency']}, responses of {r['response_bytes']} bytes posted as forms, no cookies)")
    print(f"  {r['signins_per_s']:.1f} sign-ins/s in {r['seconds']:.2f} s  p50 {lat['p50']:.1f}  p95 {lat['p95']:.1f}  "
          f"p99 {lat['p99']:.1f}  max {lat['max']:.1f} ms  errors {r['errors']}")
    for example in r["error_examples"] + counted["error_examples"]:
        print(f"      ! {example}")
    q = "-" if counted["queries_mean"] is None else f"{counted['queries_mean']:.1f} (max {counted['queries_max']})"
    sv = "-" if counted["server_ms_p50"] is None else f"{counted['server_ms_p50']:.1f} ms"
    print(f"  CPU per sign-in: server {cpu['total_ms']:.2f} ms (gunicorn workers {cpu['workers_ms']:.2f} + "
          f"PostgreSQL {cpu['postgres_ms']:.2f}); load generator {cpu['client_ms']:.2f} ms")
    print(f"  SQL statements per sign-in {q}; time inside the app p50 {sv} "
          f"(counted pass of {counted['signins']} sign-ins)")
    print(f"  python3-saml alone, one process, CPU per validation of the same responses ({bare['sample']}): "
          f"as shipped {bare['library_ms']:.2f} ms (XSD compiled on every call; compiling it costs "
          f"{bare['schema_compile_ms']:.2f} ms), with our compiled schema {bare['library_compiled_schema_ms']:.2f} ms; "
          f"provisioning.sso.saml's parse + validate {bare['ours_saml_ms']:.2f} ms")


def main(argv: list[str]) -> None:
    commands = {"configure": configure_main, "bare": bare_main}
    if not argv or argv[0] not in commands:
        raise SystemExit("usage: python -m bench.sso configure|bare ...")
    commands[argv[0]](argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
