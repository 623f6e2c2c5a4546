"""A probe's failure travels as fields (kind, target, status, cause): real failures map to
their kinds, facts.json keeps them both ways, secrets stay out of them, and the terminal's
causes come from them, never from the message text."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from geopreflight.catalog import CATALOG, Result
from geopreflight.errors import UsageError
from geopreflight.facts import Facts, load_probes, observe
from geopreflight.failures import Kind, ProbeFailure
from geopreflight.http import Http, Unreachable
from geopreflight.inventory import GitLab, Host, Inventory, Secret, Site, Timeouts
from geopreflight.probes import PROBES, Probe, ProbeContext
from geopreflight.profiles import Row, load_profile
from geopreflight.redact import Redactor
from geopreflight.reports.terminal import TOKEN_FIX, Causes, summary
from geopreflight.suite import load_catalog

TOKEN = "glpat-failure-test-0123456789"


class _Unauthorized(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = b'{"message":"401 Unauthorized"}'
        self.send_response(401)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def gitlab_401() -> Iterator[str]:
    """A real local HTTP server that answers every GET with 401."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Unauthorized)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_closed_port_is_refused_with_the_request_as_fields() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/api/v4/metadata"
    with pytest.raises(Unreachable) as caught:
        Http(1, 1).get(url)
    failure = caught.value.failure
    assert (failure.kind, failure.method, failure.target, failure.status) == (
        Kind.REFUSED, "GET", url, None)
    assert failure.cause == "Connection refused; 3 attempts"  # the number left to the message
    assert str(caught.value) == f"GET {url}: cannot connect ([Errno 111] {failure.cause})"


def test_an_answer_that_never_comes_is_a_timeout() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()  # the kernel accepts; nobody ever answers
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        with pytest.raises(Unreachable) as caught:
            Http(2, 0.5).get(url)
    assert caught.value.failure.kind is Kind.TIMEOUT
    assert caught.value.failure.cause == "connected, but no answer within 0.5 s (read timeout)"


def test_a_401_from_gitlab_is_an_auth_failure_on_the_fact_without_the_token(
        gitlab_401: str) -> None:
    site = Site("eu-primary", "primary", GitLab(gitlab_401, Secret(TOKEN, "$GITLAB_TOKEN")))
    inventory = Inventory("inv.yml", "acme", (site,), Timeouts(2, 2))
    load_probes()
    probe = next(p for p in PROBES if p.key == "gitlab.own_answer")
    fact = observe(probe, ProbeContext(inventory, Http(2, 2)), site, Redactor([TOKEN]))
    assert fact.failure is not None
    assert (fact.failure.kind, fact.failure.status, fact.failure.method) == (Kind.AUTH, 401, "GET")
    assert fact.failure.target == f"{gitlab_401}/api/v4/metadata"
    assert fact.error == f"GET {fact.failure.target}: {fact.failure.cause}"
    assert TOKEN not in repr(fact)


def test_a_secret_in_a_failed_request_is_masked_in_its_fields() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/?private_token={TOKEN}"

    def func(pc: ProbeContext, site: Any) -> Any:
        return pc.http.get(url)

    fact = observe(Probe("gitlab.own_answer", "site", func),
                   ProbeContext(Inventory("inv.yml", "acme", ()), Http(1, 1)), None,
                   Redactor([TOKEN]))
    assert fact.failure is not None and fact.failure.kind is Kind.REFUSED
    assert TOKEN not in repr(fact) and TOKEN not in str(fact.as_dict())


def test_facts_json_keeps_the_failure_and_reads_bundles_from_before_it() -> None:
    failure = ProbeFailure(Kind.AUTH, "401, rejected", "https://gl.example/api", 401, "GET")
    recorded = {"key": "gitlab.own_answer", "site": "eu", "value": None, "source": "",
                "error": "GET https://gl.example/api: 401, rejected"}
    fact, = Facts.from_dicts([{**recorded, "failure": failure.as_dict()}]).all()
    assert fact.failure == failure and fact.as_dict()["failure"] == failure.as_dict()
    old, = Facts.from_dicts([recorded]).all()  # a bundle recorded before the fields
    assert old.failure is None and old.error == recorded["error"]
    assert "failure" not in old.as_dict()
    with pytest.raises(UsageError, match="failure: kind: expected one of"):
        Facts.from_dicts([{**recorded, "failure": {**failure.as_dict(), "kind": "weird"}}])


EU = Site("eu-primary", "primary", GitLab("https://gitlab.eu.example", Secret("x", "$X")))
US = Site("us-secondary", "secondary", GitLab("https://gitlab.us.example", Secret("x", "$X")))


def test_the_terminal_reads_the_fields_not_the_message() -> None:
    """Two messages that say other things (another host, a 401, nothing alike) with the same
    fields are one cause, named and fixed by the fields: parsing the text would make two
    causes, on the wrong host, with the token fix."""
    load_catalog()
    failure = ProbeFailure(Kind.REFUSED, "Connection refused; 3 attempts",
                           "https://gitlab.eu.example/api/v4/geo_sites", None, "GET")
    facts = [{"key": key, "site": site, "failure": failure.as_dict(), "error": error}
             for key, site, error in (
                 ("geo.sites", None, "GET https://gitlab.us.example/x: 401, TLS refused"),
                 ("gitlab.own_answer", "eu-primary", "HEAD https://other.example/: 403"))]
    outcomes = [(Row(CATALOG["VER-001"], US, True),
                 Result("error", "x", causes=(("geo.sites", None),))),
                (Row(CATALOG["GEO-006"], EU, True),
                 Result("error", "x", causes=(("gitlab.own_answer", "eu-primary"),)))]
    lines = [t for t, _ in summary(load_profile("migrate-legacy"), {}, outcomes,
                                   Causes(facts, Inventory("inv.yml", "acme", (EU, US))))]
    causes = [t for t in lines if t.startswith("[")]
    assert causes == ["[1] eu-primary: GitLab API unreachable at https://gitlab.eu.example "
                      "(Connection refused; 3 attempts): 2 checks not evaluated"]
    fix = lines[lines.index(causes[0]) + 1]
    assert "https://gitlab.eu.example reachable" in fix and TOKEN_FIX[:20] not in fix


def test_the_status_not_the_text_chooses_the_token_fix() -> None:
    load_catalog()
    causes = Causes([{"key": "geo.sites", "site": None, "error": "GET https://gl/: all fine",
                      "failure": ProbeFailure(Kind.AUTH, "all fine", "https://gl/", 403,
                                              "GET").as_dict()},
                     {"key": "gitlab.own_answer", "site": "eu-primary",
                      "error": "GET https://gl/: 401, 403", "failure": ProbeFailure(
                          Kind.PARSE, "401, 403", "https://gl/", 200, "GET").as_dict()}],
                    Inventory("inv.yml", "acme", (EU,)))
    token = causes.of(Result("error", "x", causes=(("geo.sites", None),)))
    other = causes.of(Result("error", "x", causes=(("gitlab.own_answer", "eu-primary"),)))
    assert token is not None and other is not None
    assert token.fix.startswith(TOKEN_FIX[:20]) and not other.fix.startswith(TOKEN_FIX[:20])


def test_a_missing_host_file_is_found_by_its_field_in_any_language() -> None:
    """A check that found gitlab.rb or config.yml missing says on which site's host
    (`missing_on`); the terminal names that host's target and root from the inventory, whatever
    language the message is in, and a message that merely says "does not exist" names none."""
    node = Host("ssh://gl.us.example", "/srv/wrong", name="rails1")
    us = replace(US, host=node, hosts=(node,))
    causes = Causes([{"key": "host.config", "site": "us-secondary", "host": "rails1",
                      "error": None, "value": {"gitlab_rb": {"present": False}}}],
                    Inventory("inv.yml", "acme", (EU, us)))
    found = causes.of(Result("error", "us-secondary: gitlab.rb がホストにありません",
                             missing_on="us-secondary"))
    assert found is not None and found.where == "ssh://gl.us.example/srv/wrong"
    assert causes.of(Result("error", "us-secondary: /etc/gitlab/gitlab.rb does not exist")) is None
