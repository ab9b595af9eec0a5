"""Errors never show internals (ASVS V16.5; 等保 安全计算环境): a failure deep in a request
answers with the generic page or JSON message — no stack trace, SQL, exception text or path —
and the details go to the server's log only."""
import pytest

LEAKS = ("Traceback", "SELECT", "/etc/", "RuntimeError", "secret_table", 'File "', "caseflow/")


@pytest.fixture()
def no_propagation(app):
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production (TESTING re-raises)
    yield
    app.config["PROPAGATE_EXCEPTIONS"] = None


def boom(*_a, **_k):
    raise RuntimeError("SELECT password FROM secret_table -- /etc/caseflow/config.py")


def test_a_failing_page_shows_a_generic_error(client, world, login_as, monkeypatch, no_propagation,
                                              caplog):
    monkeypatch.setattr("caseflow.reports.operations.dashboard", boom)
    login_as(client, "officer")
    r = client.get("/reports/")
    assert r.status_code == 500
    body = r.get_data(as_text=True)
    assert not [x for x in LEAKS if x in body], body[:500]
    assert "secret_table" in caplog.text  # logged for the operator


def test_a_failing_api_call_answers_a_generic_json_error(client, world, api_headers, monkeypatch,
                                                         no_propagation):
    headers = api_headers(client, "officer")
    monkeypatch.setattr("caseflow.cases.queries.list_cases", boom)
    r = client.get("/api/v1/cases", headers=headers)
    assert r.status_code == 500
    assert r.is_json and set(r.json) == {"message"}
    assert not [x for x in LEAKS if x in r.get_data(as_text=True)]


def test_not_found_and_method_errors_are_plain(client, world, login_as):
    login_as(client, "officer")
    for url, code in (("/cases/999999", 404), ("/no/such/page", 404)):
        r = client.get(url)
        assert r.status_code == code
        assert not [x for x in LEAKS if x in r.get_data(as_text=True)]
    assert client.get("/logout").status_code == 405


def test_a_concurrent_save_at_commit_is_a_conflict_not_a_crash(client, world, api_headers,
                                                               login_as, monkeypatch,
                                                               no_propagation):
    """Two officers moving the same case at once: the loser's write fails at commit on the
    version column (StaleDataError) and gets 409 with the usual message, HTML or JSON."""
    from sqlalchemy.orm.exc import StaleDataError

    def stale(*_a, **_k):
        raise StaleDataError("UPDATE statement on table 'case_record' expected to update 1 row(s)")

    headers = api_headers(client, "officer")
    monkeypatch.setattr("caseflow.cases.queries.list_cases", stale)
    r = client.get("/api/v1/cases", headers=headers)
    assert r.status_code == 409 and r.is_json and set(r.json) == {"message"}
    assert "case_record" not in r.get_data(as_text=True)
    login_as(client, "officer")
    monkeypatch.setattr("caseflow.cases.views.list_cases", stale, raising=False)
    r = client.get("/cases/")
    assert r.status_code == 409 and "case_record" not in r.get_data(as_text=True)
