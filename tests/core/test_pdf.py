"""PDF rendering: real PDFs parsed back with poppler (pdftotext, pdffonts), the restricted URL
fetcher, the CJK font check and the download response."""
from __future__ import annotations

import re
import shutil
import socket
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest
from jinja2 import ChoiceLoader, DictLoader
from werkzeug.http import parse_options_header

from caseflow.core import pdf

DOC_NUMBER = "沪市监松处〔2026〕0001号"
AGENCY = "上海市松江区市场监督管理局"
TITLE = "侵犯知识产权案件汇总表"
INTRO = "根据《中华人民共和国行政处罚法》的规定，现将本局查处的侵犯知识产权案件汇总如下。"


def _poppler(tool: str) -> str:
    exe = shutil.which(tool)
    if exe is None:
        pytest.fail(f"{tool} is missing: it comes with Debian's poppler-utils, which "
                    "scripts/system-deps.sh test (make test) installs", pytrace=False)
    return exe


def pdf_text(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "doc.pdf"
    path.write_bytes(data)
    return subprocess.run([_poppler("pdftotext"), "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True, timeout=60).stdout


def squeeze(text: str) -> str:
    """pdftotext drops or adds spaces between CJK characters and digits: compare without them."""
    return re.sub(r"\s+", "", text)


def selftest_context(rows: int = 200) -> dict:
    return {
        "title": TITLE,
        "agency_name": AGENCY,
        "doc_number": DOC_NUMBER,
        "intro": INTRO,
        "date": "2026年3月2日",
        "rows": [{"party": f"上海某某商贸有限公司第{i}分店", "act": "销售侵犯注册商标专用权的商品",
                  "fine": f"{i * 1000:,}"} for i in range(1, rows + 1)],
    }


@pytest.fixture()
def no_network(monkeypatch):
    """Fail the test if anything tries to open a network connection."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


@pytest.fixture()
def extra_templates(app, monkeypatch):
    """Add templates (name → source) for one test in front of the app's own."""
    def add(**templates):
        loader = ChoiceLoader([DictLoader(templates), app.jinja_env.loader])
        monkeypatch.setattr(app.jinja_env, "loader", loader)
    return add


# --- rendering a real document --------------------------------------------------------------

def test_chinese_document_renders_with_text_numbers_and_pages(app, db, tmp_path, no_network):
    with app.test_request_context():
        data = pdf.render_pdf("pdf/_selftest.html", **selftest_context(rows=200))
    assert data.startswith(b"%PDF-")
    text = pdf_text(data, tmp_path)
    flat = squeeze(text)
    for expected in (AGENCY, TITLE, INTRO, DOC_NUMBER, "当事人", "违法行为", "罚款（元）",
                     "上海某某商贸有限公司第1分店", "上海某某商贸有限公司第200分店", "200,000"):
        assert squeeze(expected) in flat, f"{expected!r} not in the PDF text"
    # The document number sits on its own line, right of the agency name's start.
    number_line = next(line for line in text.splitlines() if DOC_NUMBER in line.replace(" ", ""))
    assert number_line.strip().replace(" ", "") == DOC_NUMBER
    # 200 rows span several pages; every page has its footer "第 N 页 / 共 M 页".
    pages = text.count("\f")
    assert pages > 1, "a 200-row table should not fit on one page"
    assert "第1页/共" in flat
    for n in range(1, pages + 1):
        assert f"第{n}页/共{pages}页" in flat
    assert not no_network


def test_document_embeds_a_chinese_font(app, db, tmp_path):
    with app.test_request_context():
        data = pdf.render_pdf("pdf/_selftest.html", **selftest_context(rows=3))
    path = tmp_path / "doc.pdf"
    path.write_bytes(data)
    fonts = subprocess.run([_poppler("pdffonts"), str(path)], capture_output=True, text=True,
                           check=True, timeout=60).stdout
    assert re.search(r"CJK|WenQuanYi", fonts), fonts  # not a fallback font drawing empty boxes
    assert "Noto-Serif-CJK-SC" in fonts or "Noto Serif CJK SC" not in pdf._zh_font_families()


def test_render_outside_a_request(app, db, tmp_path):
    """Batches run outside a request (CLI, jobs): render_pdf brings its own URL context."""
    data = pdf.render_pdf("pdf/_selftest.html", **selftest_context(rows=2))
    assert DOC_NUMBER in squeeze(pdf_text(data, tmp_path))


def test_template_escapes_hostile_strings(app, db, tmp_path, no_network):
    """Data printed in a document is text, never markup that could name a URL."""
    hostile = ('<img src="http://example.com/x.png">'
               '<link rel="stylesheet" href="file:///etc/passwd">')
    ctx = selftest_context(rows=1)
    ctx["rows"][0]["party"] = hostile
    with app.test_request_context():
        data = pdf.render_pdf("pdf/_selftest.html", **ctx)
    assert "example.com/x.png" in squeeze(pdf_text(data, tmp_path))
    assert not no_network


@pytest.mark.parametrize("tag", [
    '<img src="http://example.com/x.png">',
    '<link rel="stylesheet" href="https://example.com/evil.css">',
    '<img src="file:///etc/passwd">',
    '<div style="background: url(\'/static/../../../../etc/passwd\')">x</div>',
])
def test_render_refuses_foreign_resources(app, db, extra_templates, no_network, tag):
    source = ('{% extends "pdf/base.html" %}{% block content %}<p>正文</p>'
              + tag + '{% endblock %}')
    extra_templates(**{"pdf/_hostile.html": source})
    with app.test_request_context(), pytest.raises(pdf.PdfError, match="refused"):
        pdf.render_pdf("pdf/_hostile.html")
    assert not no_network


def test_data_urls_are_allowed(app, db, extra_templates, tmp_path):
    pixel = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNg"
             "YGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg==")
    extra_templates(**{"pdf/_data.html": '{% extends "pdf/base.html" %}{% block content %}'
                                         '<p>印章</p><img src="' + pixel + '">{% endblock %}'})
    with app.test_request_context():
        data = pdf.render_pdf("pdf/_data.html")
    assert "印章" in pdf_text(data, tmp_path)


# --- the URL fetcher --------------------------------------------------------------------------

@pytest.fixture()
def fetcher(app, db):
    with app.test_request_context():
        yield pdf._fetcher_for_current_request()


@pytest.mark.parametrize("url", [
    "http://example.com/x.png",
    "https://example.com/static/pdf.css",              # our path, someone else's host
    "http://localhost:8080/static/pdf.css",            # another port is another origin
    "file:///etc/passwd",
    "ftp://localhost/static/pdf.css",
    "http://localhost/static/../config.py",             # ../ out of static
    "http://localhost/static/%2e%2e/config.py",
    "http://localhost/static/..%2fconfig.py",
    "http://localhost/static/..%5cconfig.py",
    "http://localhost/static/",
    "http://localhost/static/missing.css",
    "http://localhost/config.py",
    "http://localhost/templates/pdf/base.html",
    "/static/pdf.css",                                 # not absolute: never resolved by guess
])
def test_fetcher_refuses(fetcher, no_network, url):
    with pytest.raises(pdf.PdfFetchError, match="refused"):
        fetcher.fetch(url)
    assert not no_network


def test_fetcher_refuses_file_url_escaping_static(app, fetcher):
    static = Path(app.static_folder)
    with pytest.raises(pdf.PdfFetchError):
        fetcher.fetch((static / "..").as_uri() + "/__init__.py")
    with pytest.raises(pdf.PdfFetchError):
        fetcher.fetch(static.as_uri() + "/../__init__.py")


def test_fetcher_serves_pdf_css(app, fetcher, no_network):
    on_disk = (Path(app.static_folder) / "pdf.css").read_bytes()
    for url in ("http://localhost/static/pdf.css", (Path(app.static_folder) / "pdf.css").as_uri()):
        resp = fetcher.fetch(url)
        try:
            assert resp.read() == on_disk
            assert resp.content_type == "text/css"
            assert resp.url == url
        finally:
            resp.close()
    assert b"counter(pages)" in on_disk
    assert not no_network


def test_fetcher_serves_data_urls(fetcher):
    resp = fetcher.fetch("data:text/plain;charset=utf-8,%E5%8D%B0")
    assert resp.read().decode() == "印"
    resp.close()


def test_fetcher_follows_the_script_root(app, db):
    """Mounted under a prefix, url_for gives /prefix/static/…, and that is what is served."""
    with app.test_request_context("/", base_url="https://caseflow.example.gov/sj/"):
        from flask import url_for

        href = url_for("static", filename="pdf.css")
        assert href == "/sj/static/pdf.css"
        f = pdf._fetcher_for_current_request()
        resp = f.fetch("https://caseflow.example.gov/sj/static/pdf.css")
        assert b"@page" in resp.read()
        resp.close()
        with pytest.raises(pdf.PdfFetchError):
            f.fetch("https://caseflow.example.gov/static/pdf.css")


# --- the CJK font check -----------------------------------------------------------------------

def test_this_machine_has_a_chinese_font():
    assert pdf.check_cjk_font() in pdf.CJK_FONTS


def test_no_cjk_font_is_a_clear_error(app, db, monkeypatch):
    monkeypatch.setattr(pdf, "_zh_font_families", lambda: frozenset())
    with pytest.raises(pdf.PdfFontError, match="fonts-noto-cjk") as info:
        pdf.check_cjk_font()
    assert "Chinese" in str(info.value)
    with app.test_request_context(), pytest.raises(pdf.PdfFontError, match="fonts-noto-cjk"):
        pdf.render_pdf("pdf/_selftest.html", **selftest_context(rows=1))


def test_other_chinese_fonts_do_not_count(monkeypatch):
    """The stylesheet names the stack; a font outside it is not what the documents print in."""
    monkeypatch.setattr(pdf, "_zh_font_families", lambda: frozenset({"AR PL UMing CN"}))
    with pytest.raises(pdf.PdfFontError):
        pdf.check_cjk_font()
    monkeypatch.setattr(pdf, "_zh_font_families",
                        lambda: frozenset({"AR PL UMing CN", "WenQuanYi Zen Hei"}))
    assert pdf.check_cjk_font() == "WenQuanYi Zen Hei"


def test_harfbuzz_subset_is_installed():
    """Without libharfbuzz-subset0 WeasyPrint subsets the 19 MB CJK font with fontTools: ~10 s
    more per document."""
    from weasyprint.text.ffi import harfbuzz_subset

    assert harfbuzz_subset is not None, (
        "HarfBuzz's subset library is missing: install Debian's libharfbuzz-subset0 "
        "(scripts/system-deps.sh run does)")


# --- the download response --------------------------------------------------------------------

def test_pdf_response_headers(app, db):
    name = f"{DOC_NUMBER} 行政处罚决定书.pdf"
    with app.test_request_context():
        resp = pdf.pdf_response(b"%PDF-1.7 test", name)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/pdf"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.get_data() == b"%PDF-1.7 test"
    cd = resp.headers["Content-Disposition"]
    assert cd.isascii()
    assert cd.startswith("attachment;")
    assert f"filename*=UTF-8''{quote(name, safe='')}" in cd
    fallback = re.search(r'filename="([^"]*)"', cd).group(1)
    assert fallback.isascii() and fallback.endswith(".pdf") and "2026" in fallback
    kind, params = parse_options_header(cd)
    assert kind == "attachment"
    assert params["filename"] == name  # clients that read filename* get the Chinese name


@pytest.mark.parametrize("name,fallback", [
    ("行政处罚决定书", "document.pdf"),
    ("report.PDF", "report.PDF"),
    ('a"b\r\nX-Evil: 1', "a_b_X-Evil_1.pdf"),
    ("../../etc/passwd.pdf", "etc_passwd.pdf"),
])
def test_pdf_response_filename_is_safe(app, db, name, fallback):
    with app.test_request_context():
        cd = pdf.pdf_response(b"%PDF", name).headers["Content-Disposition"]
    assert "\r" not in cd and "\n" not in cd and cd.isascii()
    assert re.search(r'filename="([^"]*)"', cd).group(1) == fallback
    decoded = parse_options_header(cd)[1]["filename"]
    assert "/" not in decoded and '"' not in decoded and "\n" not in decoded
    assert decoded.lower().endswith(".pdf")
