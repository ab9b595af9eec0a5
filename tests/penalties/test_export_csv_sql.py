"""The 双公示 CSV formatted by PostgreSQL (COPY) gives the same bytes as the Python rows.

The data is deliberately awkward: commas, quotes, CR/LF, leading = + - @ and tabs, plain and
not-quite-plain numbers, Chinese and 4-byte characters, NULLs, amounts with cents, every
publicity-period rule, and rows each refusal rule refuses."""
import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from sqlalchemy import insert, select

from caseflow.cases.models import Case
from caseflow.extensions import db
from caseflow.penalties import operations as ops
from caseflow.penalties.models import ExportBatch, PenaltyDecision
from caseflow.penalties.rules import CSV_HEADER
from tests.conftest import valid_credit_code

D = dt.date
AGENCY_CODE = valid_credit_code(77).replace("91", "11", 1)


def _cases(agency, user, n):
    now = dt.datetime.now(dt.timezone.utc)
    start = db.session.scalar(select(db.func.count()).select_from(Case)) or 0
    rows = [dict(owner_agency_id=agency.id, number=f"沪市监测〔2026〕{start + i:06d}号",
                 title=f"案件 {i}", channel="report", ip_type="trademark",
                 received_on=D(2024, 1, 1), state="decided", created_by_id=user.id, version=1,
                 description="", location="", infringement_kind="", reporter_name="",
                 reporter_contact="", is_major=False, illegal_business_volume=0, illegal_gains=0,
                 sales_amount=0, unsold_goods_value=0, copies=0, created_at=now, updated_at=now)
            for i in range(n)]
    db.session.execute(insert(Case), rows)
    return list(db.session.scalars(select(Case.id).where(Case.owner_agency_id == agency.id)
                                   .order_by(Case.id.desc()).limit(n)))[::-1]


ORG = dict(subject_kind="法人及非法人组织", credit_code="91310117MA1J3XXXX1", legal_rep="王某")
PERSON = dict(subject_kind="自然人", id_type="身份证", id_number="11010519491231002X")
TRADER = dict(subject_kind="个体工商户", credit_code="92310117MA1J3XXXX2")

#: (label, fields) — each one decision; "refused" rows name what is missing
DECISIONS = [
    ("plain org", dict(ORG, subject_name="上海某某商行", fine_amount=Decimal("20000"),
                       confiscated_amount=Decimal("3500.00"), categories=["罚款", "没收违法所得"])),
    ("cents", dict(ORG, subject_name="上海分角有限公司", fine_amount=Decimal("12345.67"),
                   confiscated_amount=Decimal("0.01"))),
    ("huge", dict(ORG, subject_name="巨额公司", fine_amount=Decimal("999999999999.99"))),
    ("person", dict(PERSON, subject_name="张三丰", fine_amount=Decimal("500"))),
    ("trader without legal rep", dict(TRADER, subject_name="松江区某某小吃店", legal_rep="")),
    ("trader with legal rep", dict(TRADER, subject_name="个体户, 逗号", legal_rep="李四")),
    ("csv specials", dict(ORG, subject_name='名称"引号"', facts="第一行\n第二行，含, 逗号",
                          published_facts='公布的事实：a,b "c"\r\nd', basis="依据\r第二段",
                          content='"整段引号"')),
    ("formula guard", dict(ORG, subject_name="=HYPERLINK(\"http://x\")", number="+86-21 号",
                           violation_type="-类型", basis="@SUM(A1)", content="\t制表符开头",
                           licence="", legal_rep="\n换行开头")),
    ("plain numbers stay", dict(ORG, subject_name="-12", content="-0.5", basis="-12\n",
                                violation_type="-١٢")),
    ("odd characters", dict(ORG, subject_name="𠀀𪚥 公司 ☃", facts="émoji 😀 and ‮rtl")),
    ("licence", dict(ORG, subject_name="吊销公司", categories=["罚款", "吊销许可证件"],
                     licence="食品经营许可证 JY13101060001234")),
    ("whitespace licence still counts", dict(ORG, subject_name="空白证照", licence=" ",
                                             categories=["暂扣许可证件"], fine_amount=Decimal(0))),
    ("duplicate categories", dict(ORG, subject_name="重复类别", categories=["罚款", "罚款", "其他"])),
    ("valid until", dict(ORG, subject_name="有效期", valid_until=D(2027, 2, 28))),
    ("old rule month end", dict(ORG, subject_name="旧规则", decision_date=D(2024, 2, 29))),
    ("serious", dict(ORG, subject_name="严重", severity="serious", decision_date=D(2026, 5, 31))),
    ("minor unpublished", dict(ORG, subject_name="轻微未公示", severity="minor")),
    ("minor light", dict(ORG, subject_name="轻微较低", severity="minor", lower_amount=True,
                         enterprise_published_on=D(2026, 8, 31))),
    ("minor heavy", dict(ORG, subject_name="轻微较重", severity="minor",
                         categories=["罚款", "没收违法所得"], lower_amount=True,
                         enterprise_published_on=D(2026, 1, 31))),
    ("minor fine not lower", dict(ORG, subject_name="轻微罚款", severity="minor",
                                  enterprise_published_on=D(2026, 7, 15))),
    ("criticism only", dict(ORG, subject_name="通报批评", categories=["通报批评"],
                            fine_amount=Decimal(0), confiscated_amount=Decimal(0))),
    ("warning and criticism", dict(ORG, subject_name="警告和通报批评", categories=["警告", "通报批评"],
                                   fine_amount=Decimal(0), severity="minor",
                                   enterprise_published_on=D(2026, 6, 30))),
    # categories the app never writes, but the column can hold: a quote and a backslash in
    # an element (jsonb escapes them), more than 16 elements
    ("escaped categories", dict(ORG, subject_name="转义类别",
                                categories=["罚款", '其他（"注"）', "其他\\说明", "警告"])),
    ("many categories", dict(ORG, subject_name="很多类别",
                             categories=["罚款"] + [f"其他{i}" for i in range(17)] + ['其他"'])),
    ("licence not needed", dict(ORG, subject_name="降低资质", categories=["降低资质等级"], licence="",
                                fine_amount=Decimal(0))),
    # not in the selection or not published at all
    ("warning only", dict(ORG, subject_name="仅警告", categories=["警告"], fine_amount=Decimal(0))),
    ("no categories", dict(ORG, subject_name="无类别", categories=[])),
    ("simple procedure", dict(ORG, subject_name="简易程序", simple_procedure=True)),
    ("withdrawn", dict(ORG, subject_name="已撤下", withdrawn_on=D(2026, 9, 1),
                       withdraw_reason="复议撤销")),
    # refused, each for its own reason(s)
    ("refused basis", dict(ORG, subject_name="缺依据", basis="")),
    ("refused blank basis", dict(ORG, subject_name="空白依据", basis="\u3000 \t\n")),
    ("refused fine 0", dict(ORG, subject_name="罚款为零", fine_amount=Decimal(0))),
    ("refused licence", dict(ORG, subject_name="缺证照", categories=["吊销许可证件"], licence="")),
    ("refused detained licence", dict(ORG, subject_name="缺暂扣证照", categories=["罚款", "暂扣许可证件"],
                                      licence="")),
    ("refused fine 0 with others", dict(ORG, subject_name="罚款为零其他", fine_amount=Decimal(0),
                                        categories=["没收违法所得", "罚款"])),
    ("refused person id", dict(PERSON, subject_name="王五", id_number="")),
    ("refused org legal rep", dict(ORG, subject_name="缺法人", legal_rep="\xa0")),
    ("refused kind", dict(ORG, subject_name="外星公司", subject_kind="外星人")),
    ("refused empty kind", dict(ORG, subject_name="", subject_kind="", facts="x",
                                published_facts="")),
    ("refused trader code", dict(TRADER, subject_name="无代码个体户", credit_code="")),
]


def _decision(i, case_id, agency, user, fields):
    base = dict(case_id=case_id, agency_id=agency.id, number=f"沪市监测处罚〔2026〕{i}号",
                categories=["罚款"], violation_type="销售侵犯注册商标专用权的商品",
                facts=f"经查，事实{i}。", published_facts=f"公布的事实{i}。",
                basis="《中华人民共和国商标法》第六十条第二款", content=f"罚款{i}元。",
                fine_amount=Decimal("2000"), confiscated_amount=Decimal(0), licence="",
                decision_date=D(2026, 6, 1) + dt.timedelta(days=i % 5), valid_until=None,
                severity="general", lower_amount=False, simple_procedure=False,
                special_sector=False, other_province=False, subject_name="", subject_kind="",
                credit_code="", legal_rep="", id_type="", id_number="", recorded_by_id=user.id)
    base.update(fields)
    if "published_facts" not in fields and "facts" in fields:
        base["published_facts"] = fields["facts"]
    return PenaltyDecision(**base)


@pytest.fixture()
def decisions(world, make_user):
    publisher = make_user(world.amr, "publisher", ["publisher"])
    world.amr.credit_code = AGENCY_CODE
    ids = _cases(world.amr, world.officer, len(DECISIONS))
    made = {}
    for i, ((label, fields), case_id) in enumerate(zip(DECISIONS, ids)):
        d = _decision(i, case_id, world.amr, world.officer, fields)
        db.session.add(d)
        made[label] = d
    # another agency's decision never appears
    other_case = _cases(world.culture, world.other, 1)[0]
    db.session.add(_decision(99, other_case, world.culture, world.other,
                             dict(ORG, subject_name="别的机关的")))
    db.session.commit()
    return publisher, made


def python_bytes(user, date_from=None, date_to=None):
    buf = io.BytesIO()
    count, refused = ops.write_csv(user, ops.export_selection(user, date_from, date_to), buf)
    return buf.getvalue(), count, refused


def sql_bytes(user, date_from=None, date_to=None):
    buf = io.BytesIO()
    count, refused = ops.write_csv_sql(user, date_from, date_to, buf.write)
    return buf.getvalue(), count, refused


def records(raw: bytes) -> list[dict]:
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert rows[0] == CSV_HEADER
    return [dict(zip(CSV_HEADER, row)) for row in rows[1:]]


def test_csv_parses_to_the_expected_records(app, decisions):
    publisher, made = decisions
    raw, count, refused = python_bytes(publisher)
    recs = {r["行政相对人名称"]: r for r in records(raw)}
    assert count == len(recs) == 25
    assert {x["number"] for x in refused} == {made[k].number for k in made if k.startswith("refused")}
    for gone in ("仅警告", "无类别", "简易程序", "已撤下", "别的机关的", "缺依据"):
        assert gone not in recs
    org = recs["上海某某商行"]
    assert org["罚款金额（万元）"] == "2" and org["没收违法所得、没收非法财物的金额（万元）"] == "0.35"
    assert org["处罚类别"] == "罚款、没收违法所得" and org["法定代表人"] == "王某"
    assert org["处罚有效期"] == "2099/12/31" and org["处罚机关统一社会信用代码"] == AGENCY_CODE
    assert recs["上海分角有限公司"]["罚款金额（万元）"] == "1.234567"
    assert recs["上海分角有限公司"]["没收违法所得、没收非法财物的金额（万元）"] == "0.000001"
    assert recs["巨额公司"]["罚款金额（万元）"] == "99999999.999999"
    person = recs["张三丰"]
    assert person["证件号码"] == "11010519491231002X" and person["行政相对人代码_1(统一社会信用代码)"] == ""
    assert recs["个体户, 逗号"]["法定代表人"] == "李四"
    assert recs['名称"引号"']["违法事实"] == '公布的事实：a,b "c"\r\nd'
    assert recs['名称"引号"']["处罚依据"] == "依据\r第二段"
    guard = recs["'=HYPERLINK(\"http://x\")"]
    assert guard["行政处罚决定书文号"] == "'+86-21 号" and guard["处罚依据"] == "'@SUM(A1)"
    assert guard["处罚内容"] == "'\t制表符开头" and guard["法定代表人"] == "'\n换行开头"
    plain = recs["-12"]
    assert plain["处罚内容"] == "-0.5" and plain["处罚依据"] == "'-12\n" and plain["违法行为类型"] == "'-١٢"
    assert recs["𠀀𪚥 公司 ☃"]["违法事实"] == "émoji 😀 and ‮rtl"
    assert recs["空白证照"]["暂扣或吊销证照名称及编号"] == " "
    assert recs["重复类别"]["处罚类别"] == "罚款、罚款、其他"
    assert recs["有效期"]["处罚有效期"] == "2027/02/28"
    assert recs["旧规则"]["公示截止期"] == "2027/02/28"  # 36 months, month end kept
    assert recs["严重"]["公示截止期"] == "2029/05/31"
    assert recs["有效期"]["公示截止期"] == made["valid until"].decision_date.replace(
        year=2027).strftime("%Y/%m/%d")  # 一般: one year on the credit platform
    assert recs["轻微未公示"]["公示截止期"] == ""
    assert recs["轻微较低"]["公示截止期"] == "2026/11/30"  # 3 months from the enterprise publication
    assert recs["轻微较重"]["公示截止期"] == "2029/01/31"
    assert recs["轻微罚款"]["公示截止期"] == "2029/07/15"
    assert recs["通报批评"]["罚款金额（万元）"] == "0"
    assert recs["警告和通报批评"]["处罚类别"] == "警告、通报批评"
    assert recs["警告和通报批评"]["公示截止期"] == "2026/09/30"  # light: 3 months
    assert recs["转义类别"]["处罚类别"] == '罚款、其他（"注"）、其他\\说明、警告'
    assert recs["很多类别"]["处罚类别"] == "、".join(["罚款"] + [f"其他{i}" for i in range(17)] + ['其他"'])


def test_refusal_reasons(app, decisions):
    publisher, made = decisions
    _, _, refused = python_bytes(publisher)
    why = {x["number"]: x["missing"] for x in refused}
    assert why[made["refused basis"].number] == ["处罚依据"]
    assert why[made["refused blank basis"].number] == ["处罚依据"]
    assert why[made["refused fine 0"].number] == ["罚款金额（万元）"]
    assert why[made["refused licence"].number] == ["暂扣或吊销证照名称及编号"]
    assert why[made["refused detained licence"].number] == ["暂扣或吊销证照名称及编号"]
    assert why[made["refused fine 0 with others"].number] == ["罚款金额（万元）"]
    assert why[made["refused person id"].number] == ["证件号码"]
    assert why[made["refused org legal rep"].number] == ["法定代表人"]
    assert why[made["refused kind"].number] == ["行政相对人类别"]
    assert why[made["refused empty kind"].number][:2] == ["行政相对人名称", "行政相对人类别"]
    assert why[made["refused trader code"].number] == ["行政相对人代码_1(统一社会信用代码)"]


def _postgres():
    return db.session.get_bind().dialect.name == "postgresql"


@pytest.mark.parametrize("period", [(None, None), (D(2026, 6, 2), D(2026, 6, 4)),
                                    (D(2026, 6, 3), None), (None, D(2025, 1, 1))])
def test_sql_path_gives_the_same_bytes(app, decisions, period):
    publisher, _ = decisions
    if not _postgres():
        pytest.skip("the SQL path is PostgreSQL's")
    py = python_bytes(publisher, *period)
    sql = sql_bytes(publisher, *period)
    assert sql[0] == py[0]
    assert sql[1:] == py[1:]


def test_sql_path_for_a_user_outside_case_work(app, decisions, world):
    if not _postgres():
        pytest.skip("the SQL path is PostgreSQL's")
    raw, count, refused = sql_bytes(world.auditor)
    assert count == 0 and refused == [] and len(records(raw)) == 0


def test_export_view_records_the_batch_of_the_bytes_sent(app, decisions, login_as):
    import hashlib

    publisher, _ = decisions
    client = login_as(app.test_client(), "publisher")
    r = client.get("/publications/export.csv?from=2026-06-02")
    assert r.status_code == 200
    raw = r.get_data()
    assert raw == python_bytes(publisher, D(2026, 6, 2), None)[0]
    batch = db.session.scalar(select(ExportBatch))
    assert batch.sha256 == hashlib.sha256(raw).hexdigest() and batch.size == len(raw)
    assert batch.row_count == len(records(raw)) and int(r.headers["X-Export-Refused"]) == len(batch.refused)
    assert batch.filters == {"from": "2026-06-02", "to": ""}
