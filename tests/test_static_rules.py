"""The project's own semgrep rules (.semgrep/caseflow.yml) catch what they are for: a view
loading a case without the permission rule, `|safe` on data in a template, WeasyPrint used
without the restricted URL fetcher or outside caseflow/core/pdf.py. (`make test` runs them,
and bandit, over the real code: the `test-static` target.)"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEMGREP = Path(sys.executable).with_name("semgrep")

BAD = {
    "caseflow/things/views.py": (
        "from caseflow.cases.models import Case\n"
        "from caseflow.extensions import db\n"
        "from sqlalchemy import select\n\n"
        "def show(case_id):\n"
        "    return db.session.get(Case, case_id)\n\n"
        "def listing():\n"
        "    return db.session.scalars(select(Case)).all()\n"),
    "caseflow/things/printing.py": (
        "import weasyprint\n\n"
        "def pdf(html):\n"
        "    return weasyprint.HTML(string=html).write_pdf()\n"),
    "templates/things/page.html": "<p>{{ case.description|safe }}</p>\n{{ note | safe }}\n",
}
GOOD = {
    "templates/_macros.html": "<input {{ attrs|safe }}>\n",
    "caseflow/core/pdf.py": ("import weasyprint\n\ndef render(html, fetcher):\n"
                             "    return weasyprint.HTML(string=html, url_fetcher=fetcher).write_pdf()\n"),
}


@pytest.mark.skipif(not SEMGREP.exists(), reason="semgrep is installed by `make install-test`")
def test_each_rule_catches_its_case_and_spares_the_allowed_ones(tmp_path):
    for rel, text in {**BAD, **GOOD}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    shutil.copytree(ROOT / ".semgrep", tmp_path / ".semgrep")
    env = dict(os.environ, SEMGREP_ENABLE_VERSION_CHECK="0", SEMGREP_SEND_METRICS="off")
    r = subprocess.run([str(SEMGREP), "scan", "--config", ".semgrep", "--metrics=off", "--json",
                        "--quiet", "caseflow", "templates"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=300)
    found = {(x["path"], x["check_id"].rsplit(".", 1)[-1]) for x in json.loads(r.stdout)["results"]}
    assert ("caseflow/things/views.py", "unscoped-case-load-in-view") in found
    assert ("templates/things/page.html", "safe-filter-on-data") in found
    assert ("caseflow/things/printing.py", "pdf-without-restricted-fetcher") in found
    assert ("caseflow/things/printing.py", "weasyprint-outside-pdf-module") in found
    assert not {f for f in found if f[0] in GOOD}, found
    hits = [x for x in json.loads(r.stdout)["results"] if x["path"] == "templates/things/page.html"]
    assert len(hits) == 2  # both spellings of the filter
