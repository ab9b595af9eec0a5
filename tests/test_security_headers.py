"""Response headers every page carries (SECURITY.md): CSP without inline scripts, frames
refused, no sniffing, referrer policy, HSTS over TLS, no caching of a logged-in user's pages."""


def test_headers_on_public_and_logged_in_pages(client, world, login_as):
    r = client.get("/login")
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in r.headers  # plain HTTP: no HSTS
    assert "no-store" not in r.headers.get("Cache-Control", "")  # nobody logged in yet
    login_as(client, "officer")
    for url in ("/cases/", "/reports/", "/inbox", "/help"):
        r = client.get(url)
        assert r.status_code == 200, url
        assert r.headers["Cache-Control"] == "private, no-store", url
    # static files stay cacheable
    assert "no-store" not in client.get("/static/app.css").headers.get("Cache-Control", "")


def test_hsts_when_served_over_tls(client):
    r = client.get("/login", base_url="https://caseflow.example")
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")


def test_every_refused_request_leaves_one_audit_record(client, world, login_as):
    from sqlalchemy import select

    from caseflow.core.audit import AuditEvent
    from caseflow.extensions import db

    login_as(client, "auditor")  # no case role
    for url in ("/cases/", "/reports/", "/reports/ledgers"):
        assert client.get(url).status_code == 403
    rows = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "request.denied")
                              .order_by(AuditEvent.seq)).all()
    assert [(r.data["path"], r.data["status"], r.user_id) for r in rows] == [
        ("/cases/", 403, world.auditor.id), ("/reports/", 403, world.auditor.id),
        ("/reports/ledgers", 403, world.auditor.id)]
    assert all(r.agency_id == world.amr.id and r.ip for r in rows)


def test_session_cookie_is_secure_httponly_samesite_and_host_only(client, world):
    """等保 8.1.4.1 / ASVS 7.1: the session cookie only travels over TLS, is not readable by
    scripts, is not sent on cross-site requests, and belongs to this host only."""
    r = client.post("/login", data={"username": "officer", "password": "Correct-Horse-42"})
    assert r.status_code == 302
    cookies = [h for h in r.headers.getlist("Set-Cookie") if h.startswith("session=")]
    assert cookies, r.headers
    attrs = {a.strip().split("=")[0].lower(): a.strip() for a in cookies[-1].split(";")[1:]}
    assert "secure" in attrs and "httponly" in attrs
    assert attrs["samesite"].lower() == "samesite=lax"
    assert "domain" not in attrs  # host-only
    # a new session id at login: the pre-login cookie's value is not the logged-in one
    pre = client.get("/login").headers.getlist("Set-Cookie")
    assert all(c.split(";")[0] != cookies[-1].split(";")[0] for c in pre)
