"""The 双公示 administrative-penalty CSV row (SPEC §4): header, row builder, escaping."""
import csv
import dataclasses
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from hypothesis import assume, example, given, settings, strategies as st

from caseflow.penalties.rules import CSV_HEADER, CsvRecord, RowRefused, csv_row

D = dt.date

# copied from SPEC §4, in order
SPEC_HEADER = [
    "行政相对人名称", "行政相对人类别", "行政相对人代码_1(统一社会信用代码)", "行政相对人代码_2(工商注册号)",
    "行政相对人代码_3(组织机构代码)", "行政相对人代码_4(税务登记号)", "行政相对人代码_5(事业单位证书号)",
    "行政相对人代码_6(社会组织登记证号)", "法定代表人", "法定代表人证件类型", "法定代表人证件号码", "证件类型",
    "证件号码", "行政处罚决定书文号", "违法行为类型", "违法事实", "处罚依据", "处罚类别", "处罚内容",
    "罚款金额（万元）", "没收违法所得、没收非法财物的金额（万元）", "暂扣或吊销证照名称及编号",
    "处罚决定日期", "处罚有效期", "公示截止期", "处罚机关", "处罚机关统一社会信用代码", "数据来源单位",
    "数据来源单位统一社会信用代码", "备注",
]
COL = {h: i for i, h in enumerate(SPEC_HEADER)}
CODES = SPEC_HEADER[2:8]
MONEY = ("罚款金额（万元）", "没收违法所得、没收非法财物的金额（万元）")
DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "\n")


def plain_number(v: str) -> bool:
    return re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", v) is not None


def as_dict(row):
    assert len(row) == 30
    return dict(zip(SPEC_HEADER, row))


COMMON = dict(
    number="沪市监静处〔2025〕062025000123号",
    violation_type="侵犯注册商标专用权",
    facts="当事人销售侵犯“某某”注册商标专用权的箱包12件。",
    basis="《中华人民共和国商标法》第六十条第二款",
    categories=("罚款", "没收非法财物"),
    content="没收侵权箱包12件，罚款2000元。",
    fine=Decimal(2000),
    decision_date=D(2025, 10, 13),
    publicity_end=D(2028, 10, 13),
    authority="上海市静安区市场监督管理局",
    authority_code="11310106MB2F00001X",
    source="上海市静安区市场监督管理局",
    source_code="11310106MB2F00001X",
)


def org(**kw):
    base = dict(subject_name="上海某某贸易有限公司", subject_kind="法人及非法人组织",
                credit_code="91310106MA1FY0001A", legal_rep="张三", legal_rep_id_type="身份证",
                legal_rep_id_number="310101198001011234", **COMMON)
    return CsvRecord(**{**base, **kw})


def person(**kw):
    base = dict(subject_name="李四", subject_kind="自然人", id_type="身份证",
                id_number="310101199002023456", **COMMON)
    return CsvRecord(**{**base, **kw})


def sole_trader(**kw):
    base = dict(subject_name="静安区某某服装店", subject_kind="个体工商户",
                credit_code="92310106MA1FY0002B", **COMMON)
    return CsvRecord(**{**base, **kw})


# ----------------------------------------------------------------- header


def test_header_is_exactly_the_spec_template():
    assert CSV_HEADER == SPEC_HEADER
    assert len(CSV_HEADER) == 30


# ----------------------------------------------------------------- subject kinds


def test_legal_person_row():
    row = as_dict(csv_row(org(id_type="身份证", id_number="310101199002023456")))
    assert row["行政相对人名称"] == "上海某某贸易有限公司"
    assert row["行政相对人类别"] == "法人及非法人组织"
    assert row["行政相对人代码_1(统一社会信用代码)"] == "91310106MA1FY0001A"
    assert all(row[c] == "" for c in CODES[1:])
    assert row["法定代表人"] == "张三"
    assert row["法定代表人证件类型"] == "身份证"
    assert row["法定代表人证件号码"] == "310101198001011234"
    assert row["证件类型"] == "" and row["证件号码"] == ""  # personal ID columns stay empty


def test_natural_person_row_has_no_codes_or_legal_rep():
    # even if the record carries them, they must not leak into a person's row
    row = as_dict(csv_row(person(credit_code="91310106MA1FY0001A", legal_rep="张三",
                                 legal_rep_id_type="身份证",
                                 legal_rep_id_number="310101198001011234")))
    assert row["行政相对人类别"] == "自然人"
    assert all(row[c] == "" for c in CODES)
    assert row["法定代表人"] == row["法定代表人证件类型"] == row["法定代表人证件号码"] == ""
    assert row["证件类型"] == "身份证"
    assert row["证件号码"] == "310101199002023456"


def test_natural_person_needs_no_credit_code_or_legal_rep():
    csv_row(person(credit_code="", legal_rep=""))


def test_sole_trader_row():
    row = as_dict(csv_row(sole_trader()))
    assert row["行政相对人类别"] == "个体工商户"
    assert row["行政相对人代码_1(统一社会信用代码)"] == "92310106MA1FY0002B"
    assert row["法定代表人"] == ""
    row = as_dict(csv_row(sole_trader(legal_rep="王五")))
    assert row["法定代表人"] == "王五"


def test_common_columns():
    row = as_dict(csv_row(org()))
    assert row["行政处罚决定书文号"] == "沪市监静处〔2025〕062025000123号"
    assert row["处罚类别"] == "罚款、没收非法财物"
    assert row["处罚机关"] == "上海市静安区市场监督管理局"
    assert row["处罚机关统一社会信用代码"] == "11310106MB2F00001X"
    assert row["数据来源单位统一社会信用代码"] == "11310106MB2F00001X"
    assert row["备注"] == ""
    assert row["暂扣或吊销证照名称及编号"] == ""


# ----------------------------------------------------------------- money and dates


@pytest.mark.parametrize("yuan, wan", [
    (Decimal(2000), "0.2"),
    (Decimal(150000), "15"),
    (Decimal("12345.67"), "1.234567"),
    (Decimal(100000), "10"),  # no "1E+1"
    (Decimal(1000000), "100"),
    (Decimal("2000.00"), "0.2"),
    (Decimal("0.01"), "0.000001"),
    (Decimal(1), "0.0001"),
])
def test_money_in_wan(yuan, wan):
    row = as_dict(csv_row(org(fine=yuan, confiscated=yuan)))
    assert row["罚款金额（万元）"] == wan
    assert row["没收违法所得、没收非法财物的金额（万元）"] == wan


def test_zero_money_is_zero():
    row = as_dict(csv_row(org(categories=("通报批评",), fine=Decimal(0), confiscated=Decimal(0))))
    assert row["罚款金额（万元）"] == "0"
    assert row["没收违法所得、没收非法财物的金额（万元）"] == "0"


def test_negative_money_stays_a_number():
    row = as_dict(csv_row(org(confiscated=Decimal(-2000))))
    assert row["没收违法所得、没收非法财物的金额（万元）"] == "-0.2"


@settings(max_examples=500, deadline=None)
@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("10000000000"), places=2),
       st.decimals(min_value=Decimal(0), max_value=Decimal("10000000000"), places=2))
def test_money_columns_are_plain_exact_numbers(fine, confiscated):
    row = as_dict(csv_row(org(fine=fine, confiscated=confiscated)))
    for col, yuan in zip(MONEY, (fine, confiscated)):
        assert plain_number(row[col]), row[col]  # never escaped, never scientific
        assert Decimal(row[col]) * 10000 == yuan
        assert row[col] == "0" or not row[col].endswith("0") or "." not in row[col]


def test_dates_and_long_term_default():
    row = as_dict(csv_row(org(decision_date=D(2025, 1, 9), valid_until=None,
                              publicity_end=D(2025, 4, 9))))
    assert row["处罚决定日期"] == "2025/01/09"
    assert row["处罚有效期"] == "2099/12/31"
    assert row["公示截止期"] == "2025/04/09"
    row = as_dict(csv_row(org(valid_until=D(2026, 2, 28))))
    assert row["处罚有效期"] == "2026/02/28"


# ----------------------------------------------------------------- required fields


COMMON_REQUIRED = [
    ("subject_name", "", "行政相对人名称"),
    ("subject_name", "   ", "行政相对人名称"),
    ("number", "", "行政处罚决定书文号"),
    ("violation_type", "", "违法行为类型"),
    ("facts", "", "违法事实"),
    ("facts", "\n\t ", "违法事实"),
    ("basis", "", "处罚依据"),
    ("categories", (), "处罚类别"),
    ("content", "", "处罚内容"),
    ("decision_date", None, "处罚决定日期"),
    ("authority", "", "处罚机关"),
    ("authority_code", "", "处罚机关统一社会信用代码"),
    ("source", "", "数据来源单位"),
    ("source_code", "", "数据来源单位统一社会信用代码"),
]


def refused(record):
    with pytest.raises(RowRefused) as exc:
        csv_row(record)
    return exc.value.missing


@pytest.mark.parametrize("make", [org, person, sole_trader], ids=["org", "person", "sole_trader"])
def test_complete_records_are_accepted(make):
    assert len(csv_row(make())) == 30


@pytest.mark.parametrize("make", [org, person, sole_trader], ids=["org", "person", "sole_trader"])
@pytest.mark.parametrize("attr, blank, header", COMMON_REQUIRED)
def test_each_common_required_field_alone(make, attr, blank, header):
    assert refused(make(**{attr: blank})) == [header]


@pytest.mark.parametrize("kind", ["", "  ", "公司", "法人", "自然人 "])
def test_unknown_or_blank_subject_kind_refused(kind):
    # the organisation record carries every field any kind could need
    assert refused(org(subject_kind=kind)) == ["行政相对人类别"]
    # a person record has no credit code; an unknown kind may also ask for it, but the
    # kind itself must be named
    assert "行政相对人类别" in refused(person(subject_kind=kind))


@pytest.mark.parametrize("make, attr, header", [
    (person, "id_type", "证件类型"),
    (person, "id_number", "证件号码"),
    (org, "credit_code", "行政相对人代码_1(统一社会信用代码)"),
    (org, "legal_rep", "法定代表人"),
    (sole_trader, "credit_code", "行政相对人代码_1(统一社会信用代码)"),
], ids=["person-id_type", "person-id_number", "org-credit_code", "org-legal_rep",
        "sole_trader-credit_code"])
def test_each_kind_specific_field_alone(make, attr, header):
    assert refused(make(**{attr: ""})) == [header]
    assert refused(make(**{attr: "  "})) == [header]


@pytest.mark.parametrize("make", [org, person, sole_trader], ids=["org", "person", "sole_trader"])
def test_fine_amount_required_when_fine_is_a_category(make):
    assert refused(make(fine=Decimal(0))) == ["罚款金额（万元）"]
    # without 罚款 among the categories, no fine amount is needed
    csv_row(make(categories=("没收非法财物",), fine=Decimal(0)))


@pytest.mark.parametrize("category", ["暂扣许可证件", "吊销许可证件"])
@pytest.mark.parametrize("make", [org, person, sole_trader], ids=["org", "person", "sole_trader"])
def test_licence_required_when_suspended_or_revoked(make, category):
    assert refused(make(categories=("罚款", category), licence="")) == ["暂扣或吊销证照名称及编号"]
    row = as_dict(csv_row(make(categories=("罚款", category), licence="食品经营许可证 JY13101060001234")))
    assert row["暂扣或吊销证照名称及编号"] == "食品经营许可证 JY13101060001234"
    assert row["处罚类别"] == "罚款、" + category


def test_sole_trader_does_not_need_legal_rep_but_org_does():
    csv_row(sole_trader(legal_rep=""))
    assert refused(org(legal_rep="")) == ["法定代表人"]


def test_person_id_columns_not_required_for_organisations():
    csv_row(org(id_type="", id_number=""))
    csv_row(sole_trader(id_type="", id_number=""))


def test_every_missing_field_is_listed():
    got = refused(org(subject_name="", number="", credit_code="", legal_rep="", fine=Decimal(0),
                      categories=("罚款", "吊销许可证件"), decision_date=None))
    assert sorted(got) == sorted(["行政相对人名称", "行政处罚决定书文号", "处罚决定日期",
                                  "行政相对人代码_1(统一社会信用代码)", "法定代表人",
                                  "罚款金额（万元）", "暂扣或吊销证照名称及编号"])
    assert len(got) == len(set(got))


def test_refusal_message_names_the_fields():
    with pytest.raises(RowRefused, match="证件号码"):
        csv_row(person(id_number=""))


# ----------------------------------------------------------------- formula injection


TEXT_FIELDS = ["subject_name", "credit_code", "legal_rep", "legal_rep_id_type",
               "legal_rep_id_number", "number", "violation_type", "facts", "basis", "content",
               "licence", "authority", "authority_code", "source", "source_code", "note"]
PERSON_TEXT_FIELDS = ["id_type", "id_number"]
FIELD_COLUMN = {
    "subject_name": "行政相对人名称", "credit_code": "行政相对人代码_1(统一社会信用代码)",
    "legal_rep": "法定代表人", "legal_rep_id_type": "法定代表人证件类型",
    "legal_rep_id_number": "法定代表人证件号码", "number": "行政处罚决定书文号",
    "violation_type": "违法行为类型", "facts": "违法事实", "basis": "处罚依据", "content": "处罚内容",
    "licence": "暂扣或吊销证照名称及编号", "authority": "处罚机关",
    "authority_code": "处罚机关统一社会信用代码", "source": "数据来源单位",
    "source_code": "数据来源单位统一社会信用代码", "note": "备注", "id_type": "证件类型",
    "id_number": "证件号码",
}


def roundtrip(row):
    buf = io.StringIO(newline="")
    csv.writer(buf).writerow(row)
    back = list(csv.reader(io.StringIO(buf.getvalue(), newline="")))
    assert len(back) == 1, back
    return back[0]


payloads = st.tuples(st.sampled_from(DANGEROUS), st.text(max_size=40)).map("".join)
any_text = st.one_of(payloads, st.text(min_size=1, max_size=40),
                     st.from_regex(r"-?[0-9]{1,6}(\.[0-9]{1,3})?", fullmatch=True))


@settings(max_examples=3000, deadline=None)
@given(st.sampled_from(TEXT_FIELDS + PERSON_TEXT_FIELDS), any_text)
@example("note", "=HYPERLINK(\"http://x\",\"y\")")
@example("facts", "+1+cmd|' /C calc'!A0")
@example("content", "-2+3")
@example("subject_name", "@SUM(1,2)")
@example("note", "\t=1")
@example("facts", "\r\n=1,\"x\"\n")
@example("note", "-12.5")
@example("note", "'=already quoted")
def test_no_cell_starts_a_formula_and_csv_roundtrips(attr, value):
    assume(value.strip())  # a blank required field is refused, tested above
    make = person if attr in PERSON_TEXT_FIELDS else org
    row = csv_row(make(**{attr: value}))
    assert len(row) == 30
    for v in row:
        assert plain_number(v) or not v.startswith(DANGEROUS), repr(v)
    # the injected field: unchanged when harmless, else exactly one leading apostrophe
    got = row[COL[FIELD_COLUMN[attr]]]
    if value.startswith(DANGEROUS) and not plain_number(value):
        assert got == "'" + value
    else:
        assert got == value
    # no row or column corruption from newlines, quotes, commas
    assert roundtrip(row) == row


def test_plain_numbers_in_text_fields_stay_unchanged():
    for v in ("-12.5", "-12", "12", "0.5"):
        assert as_dict(csv_row(org(note=v)))["备注"] == v
    for v in ("+12", "-12.5.3", "-12abc", "-", "=1", "@1", "- 1"):
        assert as_dict(csv_row(org(note=v)))["备注"] == "'" + v


def test_dangerous_characters_are_escaped_in_every_text_column():
    row = as_dict(csv_row(org(subject_name="=cmd", facts="+x", content="-x", note="@x",
                              basis="\tx", violation_type="\rx", licence="\nx",
                              authority="=a", source="=s")))
    assert row["行政相对人名称"] == "'=cmd"
    assert row["违法事实"] == "'+x"
    assert row["处罚内容"] == "'-x"
    assert row["备注"] == "'@x"
    assert row["处罚依据"] == "'\tx"
    assert row["违法行为类型"] == "'\rx"
    assert row["暂扣或吊销证照名称及编号"] == "'\nx"
    assert row["处罚机关"] == "'=a" and row["数据来源单位"] == "'=s"


def test_number_lookalike_with_trailing_newline_is_escaped():
    assert as_dict(csv_row(org(note="-12\n")))["备注"] == "'-12\n"


def test_non_ascii_digits_are_not_plain_numbers():
    assert as_dict(csv_row(org(note="-١٢")))["备注"] == "'-١٢"


def test_csv_record_fields_all_exercised():
    # guard: if CsvRecord gains a text field, this test reminds us to cover it above
    names = {f.name for f in dataclasses.fields(CsvRecord)}
    assert names == set(TEXT_FIELDS) | set(PERSON_TEXT_FIELDS) | {
        "subject_kind", "categories", "fine", "confiscated", "decision_date", "valid_until",
        "publicity_end", "extra"}
