"""Goods involved in a case (涉案物品): name, quantity, unit, value — form and API."""
from decimal import Decimal

from sqlalchemy import func, select

from caseflow.cases.models import Case, Goods
from caseflow.extensions import db
from tests.conftest import clue_payload, valid_credit_code


def form(**over):
    data = {"title": "某商行销售假冒运动鞋", "channel": "report", "ip_type": "trademark",
            "received_at": "2026-01-05", "parties-0-kind": "business",
            "parties-0-name": "上海某某商行", "parties-0-credit_code": valid_credit_code(),
            "goods-0-name": "", "goods-0-quantity": "", "goods-0-unit": "", "goods-0-value": ""}
    data.update(over)
    return data


def test_goods_through_the_form_with_bad_input_kept(app, world, login_as):
    c = login_as(app.test_client(), "officer")
    # row 0 left blank, row 1 has a negative quantity: the error is on row 1, nothing saved
    r = c.post("/cases/new", data=form(**{"goods-1-name": "运动鞋", "goods-1-quantity": "-3",
                                          "goods-1-unit": "双", "goods-1-value": "abc"}))
    assert r.status_code == 422
    assert 'id="goods-1-quantity-error"' in r.text and 'id="goods-1-value-error"' in r.text
    assert "运动鞋" in r.text and db.session.scalar(select(func.count()).select_from(Case)) == 0
    r = c.post("/cases/new", data=form(**{"goods-1-name": "", "goods-1-quantity": "5"}))
    assert r.status_code == 422 and 'id="goods-1-name-error"' in r.text
    r = c.post("/cases/new", data=form(**{"goods-0-name": "运动鞋", "goods-0-quantity": "120",
                                          "goods-0-unit": "双", "goods-0-value": "36000",
                                          "goods-1-name": "鞋盒", "goods-1-quantity": "120.5"}))
    assert r.status_code == 302
    case = db.session.scalar(select(Case))
    assert [(g.name, g.quantity, g.unit, g.value) for g in case.goods] == [
        ("运动鞋", Decimal("120"), "双", Decimal("36000")), ("鞋盒", Decimal("120.5"), "", 0)]
    page = c.get(f"/cases/{case.id}")
    assert "运动鞋" in page.text and "120 双" in page.text
    # editing records what changed in the timeline
    edit = c.get(f"/cases/{case.id}/edit")
    assert 'value="运动鞋"' in edit.text


def test_goods_in_the_api(client, world, api_headers):
    h = api_headers(client, "officer")
    body = clue_payload(goods=[{"name": "盗版图书", "quantity": "500", "unit": "册", "value": "6000"}])
    r = client.post("/api/v1/cases", json=body, headers=h)
    assert r.status_code == 201 and r.json["goods"][0]["name"] == "盗版图书"
    r = client.post("/api/v1/cases", json=clue_payload(goods=[{"name": "x", "quantity": "-1"}]),
                    headers=h)
    assert r.status_code == 422 and "goods.0.quantity" in r.json["errors"]
    assert db.session.scalar(select(func.count()).select_from(Goods)) == 1
