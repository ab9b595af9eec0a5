"""Chinese first: every UI string has a Simplified Chinese translation."""
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "caseflow/translations/zh_Hans_CN/LC_MESSAGES/messages.po"


def test_catalog_is_complete_and_current():
    from babel.messages.extract import extract_from_dir

    with PO.open("rb") as f:
        catalog = read_po(f)
    translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
    method_map = [("caseflow/**.py", "python"), ("templates/**.html", "jinja2")]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
    missing = set()
    for _file, _line, msg, _comments, _ctx in extract_from_dir(str(ROOT), method_map=method_map,
                                                                keywords=keywords):
        msgid = msg[0] if isinstance(msg, tuple) else msg
        if msgid and msgid not in translated:
            missing.add(msgid)
    assert not missing, f"untranslated (run `make extract-messages` and translate): {sorted(missing)}"


def test_pages_default_to_chinese(client):
    r = client.get("/login")
    assert 'lang="zh-CN"' in r.text and "登录" in r.text
