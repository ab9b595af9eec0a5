"""Browser journey in the Chinese UI: a clue logged on a phone without network (现场线索, /m/).

Songjiang's officer (conftest ``USERS["officer"]``, an inspector) opens the field page on a
phone-sized screen and waits until its service worker is active and controls the page; the
network goes away, the status badge says so; a clue without a title is refused on the phone
(the typed location is kept); the clue with its title, location and one photo (a real 1×1
PNG) then waits on the phone and nothing reaches the server; the page, opened again while
offline, comes from the service worker and still lists the clue as waiting; when the network
comes back the page sends it by itself (the window's ``online`` event) and links the new case.
The case list shows it once, and the database holds exactly one case of that title with
exactly one evidence file whose SHA-256 is the photo's, both created under the
Idempotency-Key the page made when the clue was submitted.

The offline reopening is done in a second tab, not by reloading the first: in Playwright's
Chromium a document created while the context is offline reports ``navigator.onLine ===
true`` (microsoft/playwright#42174), so a reloaded page would show "online", and going back
online would change nothing for it: no ``online`` event, and the clue would only leave at the
page's 15-second retry. The first tab keeps the true offline state for the rest of the journey.

A clue takes no case number, so the numbers of the other journeys are untouched. The page is
reached by ids, names and data- attributes, not by its words; the texts the page shows for
the network state are read from the page's own ``data-msg-*`` attributes."""
from __future__ import annotations

import hashlib
import re
import struct
import uuid
import zlib

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 3}
LOCATION = "上海市松江区九亭镇沪亭北路某商场一层"
CASE_URL = re.compile(r"/cases/(\d+)$")


def _png_1x1() -> bytes:
    """A real PNG: one opaque red pixel."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1×1, 8-bit RGB
    pixels = zlib.compress(b"\x00\xff\x00\x00")  # filter byte, then R G B
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels)
            + chunk(b"IEND", b""))


def _stored(live_server, title: str) -> list[dict]:
    """The cases titled ``title``, each with its location, creator and evidence."""
    from sqlalchemy import select

    from caseflow.cases.models import Case
    from caseflow.evidence.models import Evidence
    from caseflow.extensions import db

    with live_server.app.app_context():
        try:
            cases = db.session.scalars(select(Case).where(Case.title == title)).all()
            return [{
                "id": c.id, "location": c.location, "created_by": c.created_by_id,
                "evidence": [(e.sha256, e.content_type, e.place) for e in db.session.scalars(
                    select(Evidence).where(Evidence.case_id == c.id).order_by(Evidence.id))],
            } for c in cases]
        finally:
            db.session.remove()


def _keys_of(live_server, username: str, prefix: str) -> list[tuple[str, str, int]]:
    """The idempotency keys ``username`` sent starting with ``prefix``: key, path, status."""
    from sqlalchemy import select

    from caseflow.api.idempotency import IdempotencyKey
    from caseflow.extensions import db

    with live_server.app.app_context():
        try:
            rows = db.session.scalars(select(IdempotencyKey).where(
                IdempotencyKey.user_id == live_server.users[username].id,
                IdempotencyKey.key.startswith(prefix, autoescape=True))
                .order_by(IdempotencyKey.id))
            return [(r.key, r.path, r.response_status) for r in rows]
        finally:
            db.session.remove()


def test_clue_with_photo_waits_offline_and_is_sent_once(new_context, login, live_server):
    title = f"现场检查发现涉嫌销售假冒注册商标商品{uuid.uuid4().hex[:8]}"
    png = _png_1x1()
    context = new_context(**PHONE)
    page = login(context.new_page(), "officer")

    # -- the field page, with its service worker active and controlling the page
    response = page.goto("/m/")
    assert response.status == 200, f"{response.url} answered {response.status}"
    form = page.locator("#clue-form")
    expect(form).to_be_visible()
    state = page.evaluate("() => navigator.serviceWorker.ready.then(r => r.active.state)")
    assert state in ("activating", "activated"), state
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    msg = page.locator("body")
    online_text = msg.get_attribute("data-msg-online")
    offline_text = msg.get_attribute("data-msg-offline")
    status = page.locator("#net-status")
    expect(status).to_have_text(online_text)
    queue = page.locator("#queue-list")
    expect(queue.locator("li")).to_have_count(0)

    # -- the network goes away
    context.set_offline(True)
    expect(status).to_have_text(offline_text)
    expect(status).to_have_class(re.compile(r"\boverdue\b"))

    # -- no title: refused on the phone, the location typed is kept, nothing queued
    form.locator("#location").fill(LOCATION)
    form.locator("#submit").click()
    expect(page.locator("#title-error")).to_be_visible()
    expect(form.locator("#title")).to_have_attribute("aria-invalid", "true")
    expect(form.locator("#location")).to_have_value(LOCATION)
    expect(queue.locator("li")).to_have_count(0)

    # -- the clue with one photo: it waits on the phone
    form.locator("#title").fill(title)
    form.locator("#photos").set_input_files(
        {"name": "scene.png", "mimeType": "image/png", "buffer": png})
    form.locator("#submit").click()
    waiting = queue.locator('li[data-state="waiting"]').filter(has_text=title)
    expect(waiting).to_have_count(1)
    expect(page.locator("#title-error")).to_have_count(0)
    expect(form.locator("#title")).to_have_value("")  # the form is ready for the next clue
    expect(form.locator("#submit")).to_be_enabled()
    key = waiting.get_attribute("data-key")
    assert key, "the queued item has no key"
    assert _stored(live_server, title) == [], "a clue reached the server while offline"

    # -- still offline, the page opens again from the service worker (a second tab: see the
    #    module docstring) and lists the clue as waiting; nothing reaches the server
    again = context.new_page()
    reopened = again.goto("/m/")
    assert reopened is not None and reopened.from_service_worker, \
        "the page opened offline was not answered by the service worker"
    expect(again.locator("#clue-form")).to_be_visible()
    expect(again.locator(f'#queue-list li[data-key="{key}"]')).to_have_attribute(
        "data-state", "waiting")
    expect(again.locator("#queue-list li")).to_have_count(1)
    again.close()
    expect(status).to_have_text(offline_text)
    expect(queue.locator(f'li[data-key="{key}"]')).to_have_attribute("data-state", "waiting")
    assert _stored(live_server, title) == [], "a clue reached the server while offline"

    # -- the network comes back: the page sends the clue and its photo by itself
    context.set_offline(False)
    expect(status).to_have_text(online_text)
    sent = queue.locator(f'li[data-key="{key}"]')
    # within a few seconds: the online event, not the 15-second retry, sends it
    expect(sent).to_have_attribute("data-state", "sent", timeout=5_000)
    expect(sent).to_contain_text(title)
    link = sent.locator("a.m-open")
    expect(link).to_have_attribute("href", CASE_URL)
    case_id = int(CASE_URL.search(link.get_attribute("href")).group(1))

    # -- the case list shows it once
    page.locator("header a.m-link").click()
    expect(page).to_have_url(re.compile(r"/cases/$"))
    rows = page.locator("table.cases tbody tr").filter(has_text=title)
    expect(rows).to_have_count(1)
    expect(rows.locator(f'a[href$="/cases/{case_id}"]').first).to_be_visible()

    # -- the server holds one case and one photo, created under the page's keys
    officer = live_server.users["officer"].id
    assert _stored(live_server, title) == [{
        "id": case_id, "location": LOCATION, "created_by": officer,
        "evidence": [(hashlib.sha256(png).hexdigest(), "image/png", LOCATION)],
    }]
    assert _keys_of(live_server, "officer", key) == [
        (key, "/m/clues", 201), (f"{key}:photo:0", f"/m/cases/{case_id}/evidence", 201)]

    # -- logging out removes the field page's offline copy and what was sent from the phone
    page.locator('header form[action$="/logout"] button[type="submit"]').click()
    expect(page.locator("#login-form")).to_be_visible()
    page.wait_for_function("""async () => (await caches.keys())
        .filter(k => k.startsWith("caseflow-m")).length === 0""", timeout=5_000)
    page.wait_for_function("""() => new Promise(resolve => {
        const req = indexedDB.open("caseflow-field", 1);
        req.onsuccess = () => {
          const all = req.result.transaction("outbox").objectStore("outbox").getAll();
          all.onsuccess = () => resolve(!all.result.some(i => i.state === "sent"));
        };
      })""", timeout=5_000)
