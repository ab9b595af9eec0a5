"""PDF documents: ``render_pdf(template, **context)`` → bytes, ``pdf_response(bytes, filename)``.

Templates extend ``pdf/base.html`` (A4, page numbers, the Chinese serif font stack) and are
rendered with Flask's ``render_template``, so they have the app's template helpers and
translations. WeasyPrint turns the HTML into PDF with a restricted URL fetcher: it loads only
the app's own static files (read from disk, never over the network) and ``data:`` URLs, so no
string that ends up in a template can make the server fetch a URL.

Chinese text needs a CJK font known to fontconfig (Debian's ``fonts-noto-cjk``); without one
WeasyPrint would silently draw empty boxes, so ``render_pdf`` refuses with ``PdfFontError``.
Font subsetting is fast only with HarfBuzz's subset library (Debian's ``libharfbuzz-subset0``):
without it WeasyPrint falls back to fontTools and each document costs ~10 s more.

Render single documents in the request; render large batches outside it (a CLI command or a
job): ``render_pdf`` works in a bare app context too, it then builds URLs from
``SERVER_NAME`` (``localhost`` when unset).
"""
from __future__ import annotations

import functools
import mimetypes
import re
import shutil
import subprocess
import unicodedata
from contextlib import nullcontext
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit
from urllib.request import url2pathname

from flask import Response, current_app, has_request_context, render_template, request

#: Fonts the PDF stylesheet asks for, in the order of the serif-first body stack.
CJK_FONTS = ("Noto Serif CJK SC", "Noto Sans CJK SC", "WenQuanYi Zen Hei")

_FONT_HELP = ("No Chinese (CJK) font is installed: install Debian's fonts-noto-cjk "
              "(make run does this: scripts/system-deps.sh run), or another font of the stack "
              + ", ".join(f'"{f}"' for f in CJK_FONTS)
              + ". Without one every Chinese character would print as an empty box.")


class PdfError(RuntimeError):
    """A PDF could not be produced (a server set-up or template problem, not the user's)."""


class PdfFontError(PdfError):
    """No font able to print Simplified Chinese is installed."""


class PdfFetchError(PdfError, ValueError):
    """A document asked for a resource the PDF renderer may not load."""


# --- CJK font check ---------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _zh_font_families() -> frozenset[str]:
    """The font families fontconfig says can print Simplified Chinese (``fc-list :lang=zh-cn``).

    Cached: fontconfig's answer does not change while the process runs (restart after
    installing fonts)."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        raise PdfFontError("fontconfig's fc-list is missing, so the Chinese fonts cannot be "
                           "checked: install Debian's fontconfig (WeasyPrint's libpango-1.0-0 "
                           "depends on it; make run installs both).")
    try:
        out = subprocess.run([fc_list, ":lang=zh-cn", "family"], capture_output=True,
                             text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise PdfFontError(f"Could not list the installed fonts with fc-list: {exc}") from exc
    # One line per font; a line may carry several names ("Noto Sans CJK SC,Noto Sans CJK SC Bold").
    return frozenset(name.strip() for line in out.splitlines() for name in line.split(",")
                     if name.strip())


def check_cjk_font() -> str:
    """Return the first family of ``CJK_FONTS`` fontconfig has, else raise ``PdfFontError``."""
    families = {f.casefold() for f in _zh_font_families()}
    for font in CJK_FONTS:
        if font.casefold() in families:
            return font
    raise PdfFontError(_FONT_HELP)


# --- restricted URL fetcher ---------------------------------------------------------------------

def _weasyprint():
    try:
        import weasyprint
        from weasyprint.urls import URLFetcher, URLFetcherResponse
    except ImportError as exc:  # pragma: no cover - a broken install, not a code path
        raise PdfError("WeasyPrint cannot be loaded (pip install -e . installs it; its system "
                       "libraries come from scripts/system-deps.sh run): " + str(exc)) from exc
    return weasyprint, URLFetcher, URLFetcherResponse


def make_url_fetcher(static_folder: str | Path, static_prefix: str, origin: str):
    """A WeasyPrint URL fetcher that serves only files inside ``static_folder``.

    It answers, from disk:
    - ``{origin}{static_prefix}<file>`` (what ``url_for('static', filename=...)`` resolves
      to against the document's base URL), e.g. ``http://localhost/static/pdf.css``;
    - ``file://`` URLs of files inside ``static_folder``;
    - ``data:`` URLs (decoded locally).
    Everything else, other hosts, other schemes, paths outside the static folder (``../``,
    ``%2e%2e/``, symlinks pointing out), raises ``PdfFetchError``: nothing is ever requested
    over the network.
    """
    _, URLFetcher, URLFetcherResponse = _weasyprint()
    root = Path(static_folder).resolve()
    prefix = "/" + static_prefix.strip("/") + "/"
    base = urlsplit(origin)
    allowed_origin = (base.scheme.lower(), base.netloc.lower())

    class StaticOnlyFetcher(URLFetcher):
        def __init__(self):
            # Only data: may ever reach urllib; no redirects; a refused or missing resource
            # stops the rendering instead of printing a document without its stylesheet.
            super().__init__(timeout=5, allowed_protocols=("data",), allow_redirects=False,
                             fail_on_errors=True)

        def fetch(self, url, headers=None):
            url = str(url)
            scheme = url.split(":", 1)[0].lower() if ":" in url else ""
            if scheme == "data":
                return super().fetch(url, headers)
            path = self.static_path(url)
            body = path.read_bytes()
            mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            if mime.startswith("text/") or mime in ("image/svg+xml", "application/javascript"):
                mime += "; charset=utf-8"
            # The URL stays the document's own, so relative URLs inside a stylesheet
            # (url(img/seal.png)) resolve against it and come back through this fetcher.
            return URLFetcherResponse(url, body, {"Content-Type": mime})

        @staticmethod
        def static_path(url: str) -> Path:
            """The file inside the static folder that ``url`` names, or ``PdfFetchError``."""
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            if scheme in ("http", "https") and (scheme, parts.netloc.lower()) == allowed_origin:
                path = unquote(parts.path)
                if not path.startswith(prefix):
                    raise _refused(url)
                relative = path[len(prefix):]
            elif scheme == "file" and parts.netloc in ("", "localhost"):
                target = Path(url2pathname(parts.path))
                try:
                    relative = target.resolve().relative_to(root).as_posix()
                except (ValueError, OSError):
                    raise _refused(url) from None
            else:
                raise _refused(url)
            if (not relative or "\\" in relative or "\x00" in relative
                    or any(seg in ("", ".", "..") for seg in relative.split("/"))):
                raise _refused(url)
            candidate = (root / relative).resolve()
            if not candidate.is_relative_to(root) or not candidate.is_file():
                raise _refused(url, "no such static file" if candidate.is_relative_to(root)
                               else None)
            return candidate

    return StaticOnlyFetcher()


def _refused(url: str, why: str | None = None) -> PdfFetchError:
    shown = url if len(url) <= 200 else url[:200] + "…"
    return PdfFetchError(f"PDF rendering may load only the app's own static files and data: "
                         f"URLs; refused {shown!r}" + (f" ({why})" if why else ""))


def _fetcher_for_current_request():
    app = current_app
    if not app.static_folder:
        raise PdfError("the app has no static folder for the PDF stylesheet")
    return make_url_fetcher(app.static_folder,
                            request.script_root + (app.static_url_path or "/static"),
                            request.host_url)


# --- rendering ----------------------------------------------------------------------------------

def render_pdf(template_name: str, **context) -> bytes:
    """Render a Jinja template (extending ``pdf/base.html``) to PDF bytes.

    Raises ``PdfFontError`` when no Chinese font is installed and ``PdfError`` when a
    resource the document asks for may not or cannot be loaded."""
    check_cjk_font()
    weasyprint, _, _ = _weasyprint()
    from weasyprint.urls import FatalURLFetchingError

    ctx = nullcontext() if has_request_context() else current_app.test_request_context()
    with ctx:
        html = render_template(template_name, **context)
        fetcher = _fetcher_for_current_request()
        try:
            return weasyprint.HTML(string=html, base_url=request.url_root,
                                   url_fetcher=fetcher).write_pdf()
        except FatalURLFetchingError as exc:  # a BaseException: Flask would not catch it
            cause = exc.__cause__
            raise PdfError(f"{exc}: {cause}" if cause else str(exc)) from cause


# --- response -----------------------------------------------------------------------------------

_UNSAFE_FILENAME = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|;]')


def pdf_response(pdf_bytes: bytes, filename: str) -> Response:
    """A download response for ``pdf_bytes``: ``Content-Disposition: attachment`` with the
    UTF-8 filename (RFC 5987/6266 ``filename*``) and an ASCII fallback for old clients."""
    name = _UNSAFE_FILENAME.sub("_", unicodedata.normalize("NFC", filename)).strip(" .")
    name = name or "document"
    if not name.lower().endswith(".pdf"):
        name += ".pdf"
    ascii_name = (unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii"))
    ascii_name = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_name)).strip("._")
    if not ascii_name or ascii_name.lower() in ("pdf", "_pdf"):
        ascii_name = "document.pdf"
    elif not ascii_name.lower().endswith(".pdf"):
        ascii_name += ".pdf"
    resp = Response(pdf_bytes, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}")
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Cache-Control"] = "private, no-store"
    return resp
