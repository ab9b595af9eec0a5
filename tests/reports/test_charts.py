"""Server-side SVG charts (caseflow.reports.charts): well-formed SVG, every label and number
written as text, links around linked bars, labels escaped, empty data drawn without error."""
import xml.etree.ElementTree as ET

import pytest

from caseflow.reports.charts import Bar, Series, bar_chart, progress, stacked_columns

NS = "{http://www.w3.org/2000/svg}"
EVIL = '<script>alert("x")</script> & "Co" \'s'


def parse(svg) -> ET.Element:
    root = ET.fromstring(str(svg))
    assert root.tag == f"{NS}svg"
    return root


def texts(root) -> list[str]:
    return [t.text for t in root.iter(f"{NS}text")]


def links(root) -> list[ET.Element]:
    return list(root.iter(f"{NS}a"))


def test_bar_chart_labels_numbers_and_links():
    bars = [Bar("已立案", 12, "/cases/?own=1&state=filed"), Bar("调查取证", 3.5),
            Bar("已结案", 0, "/cases/?own=1&state=closed"), Bar("执行中", 7, text="7 件")]
    root = parse(bar_chart("按状态统计案件", bars))
    assert root.find(f"{NS}title").text == "按状态统计案件"
    assert root.get("aria-label") == "按状态统计案件"
    t = texts(root)
    for label, shown in (("已立案", "12"), ("调查取证", "3.5"), ("已结案", "0"), ("执行中", "7 件")):
        assert t[t.index(label) + 1] == shown
    hrefs = [a.get("href") for a in links(root)]
    assert hrefs == ["/cases/?own=1&state=filed", "/cases/?own=1&state=closed"]
    # the link wraps its bar, label and number; the tooltip says both
    first = links(root)[0]
    assert first.find(f"{NS}rect") is not None
    assert [x.text for x in first.iter(f"{NS}text")] == ["已立案", "12"]
    assert first.find(f"{NS}title").text == "已立案: 12"
    # bar widths follow the values: the largest is the longest, zero draws nothing
    widths = {t[t.index(b.label)]: float(r.get("width"))
              for b, r in zip(bars, root.iter(f"{NS}rect"))}
    assert widths["已立案"] > widths["执行中"] > widths["调查取证"] > widths["已结案"] == 0


def test_bar_chart_without_data():
    root = parse(bar_chart("空", []))
    assert links(root) == [] and "—" in texts(root)
    root = parse(bar_chart("全是零", [Bar("a", 0), Bar("b", 0)]))
    assert texts(root) == ["a", "0", "b", "0"]


def test_stacked_columns_totals_legend_and_segment_links():
    cols = ["9月", "10月", "11月"]
    series = [Series("商标", [3, 0, 2], ["/cases/?ip_type=trademark&m=9", None, "/cases/?m=11"]),
              Series("专利", [1, 4, 0], ["/cases/?ip_type=patent&m=9", "/cases/?m=10", None])]
    root = parse(stacked_columns("按知识产权类型", cols, series))
    # the axis (peak 4, origin 0), each column's total above it and its name below, then the
    # legend with each series' total; zero segments are not drawn
    assert texts(root) == ["4", "0", "4", "9月", "4", "10月", "2", "11月", "商标 5", "专利 5"]
    assert [a.get("href") for a in links(root)] == [
        "/cases/?ip_type=trademark&m=9", "/cases/?ip_type=patent&m=9", "/cases/?m=10",
        "/cases/?m=11"]
    assert [a.find(f"{NS}title").text for a in links(root)] == [
        "9月 商标: 3", "9月 专利: 1", "10月 专利: 4", "11月 商标: 2"]
    assert len(list(root.iter(f"{NS}rect"))) == 4 + 2  # four segments, two legend keys


@pytest.mark.parametrize("cols, series", [
    ([], []), (["1月", "2月"], []), ([], [Series("商标", [], [])]),
    (["1月"], [Series("商标", [0], [None])]),
])
def test_stacked_columns_without_data(cols, series):
    root = parse(stacked_columns("空", cols, series))
    assert links(root) == []


def test_progress_bar():
    root = parse(progress("年度目标", 4, 10, expected=8.9, href="/inspections/"))
    assert root.find(f"{NS}title").text == "年度目标"
    assert texts(root) == ["4 / 10"]
    assert [a.get("href") for a in links(root)] == ["/inspections/"]
    assert len(list(root.iter(f"{NS}line"))) == 2  # the target and the expected pace
    root = parse(progress("年度目标", 12, 10, text="12 of 10"))
    assert texts(root) == ["12 of 10"] and links(root) == []
    assert len(list(root.iter(f"{NS}line"))) == 1
    root = parse(progress("零", 0, 0))
    assert texts(root) == ["0 / 0"]


def test_labels_are_escaped():
    href = '/cases/?q=<script>&x="1"'
    for svg in (
        bar_chart(EVIL, [Bar(EVIL, 2, href, text=EVIL)]),
        stacked_columns(EVIL, [EVIL], [Series(EVIL, [2], [href])]),
        progress(EVIL, 1, 2, href=href, text=EVIL),
    ):
        out = str(svg)
        assert "<script" not in out and "</script" not in out
        root = parse(svg)  # still well-formed
        assert any(EVIL in (x or "") for x in texts(root))  # shown as text, intact
        assert root.find(f"{NS}title").text == EVIL
        assert root.get("aria-label") == EVIL
        assert [a.get("href") for a in links(root)] == [href]


def test_long_bar_texts_stay_inside_the_chart():
    import re as _re

    from caseflow.reports.charts import Bar, bar_chart, text_width

    text = "中位数10天 · 第90百分位14.1天 · 148件"
    svg = str(bar_chart("阶段", [Bar("法制审核", 10, text=text), Bar("立案", 3, text="3")], width=520))
    xs = [float(x) for x in _re.findall(r'<text x="([0-9.]+)" y="[0-9.]+" class="value">', svg)]
    assert xs and max(xs) + text_width(text) <= 520


def test_axis_labels_thin_out_but_tooltips_keep_the_month():
    from caseflow.reports.charts import Series, stacked_columns

    cols = [f"2025年{m}月" for m in range(1, 13)] + ["2026年1月"]
    axis = ["2025年", "", "", "4月", "", "", "7月", "", "", "10月", "", "", "2026年"]
    svg = str(stacked_columns("月份", cols, [Series("商标", [1] * 13)], axis_labels=axis))
    assert ">2025年<" in svg and ">4月<" in svg and ">2026年<" in svg
    assert ">2025年2月<" not in svg  # not on the axis …
    assert "2025年2月 商标: 1" in svg  # … but in the bar's tooltip
