"""The joint-action flow through the operations: create → assign → accept → report → verify →
complete; the figures add up from reports and linked cases."""
from decimal import Decimal

import pytest

from caseflow.actions import operations as ops
from caseflow.core.errors import InvalidInput, InvalidTransition, PermissionDenied
from caseflow.extensions import db
from tests.actions.conftest import due


def test_full_flow_and_figures(g60, action, make_case):
    w = g60
    tasks = ops.assign_tasks(w.coord, action, {
        "title": "排查嘉兴市场", "due_on": due(), "assignees": [f"agency:{w.jx.id}", f"unit:{w.jx_unit.id}"]})
    db.session.commit()
    assert [t.state for t in tasks] == ["assigned", "assigned"]
    t1, t2 = tasks
    ops.task_action(w.jx_insp2, t1, "accept", {})
    db.session.commit()
    with pytest.raises(PermissionDenied):  # a unit's task is for the unit's people
        ops.task_action(w.jx_insp2, t2, "accept", {})
    db.session.rollback()
    ops.task_action(w.jx_insp, t2, "decline", {"reason": "本中队另有任务"})
    db.session.commit()
    ops.submit_report(w.jx_insp2, t1, {"places_inspected": "12", "cases_filed": "2",
                                        "goods_seized": "300", "goods_value": "45000.50",
                                        "referrals": "1", "narrative": "检查12户，立案2起"})
    db.session.commit()
    assert t1.state == "reported"
    figs = ops.action_figures(action)
    assert figs.verified.places_inspected == 0 and figs.pending.places_inspected == 12
    with pytest.raises(InvalidTransition):
        ops.complete_action(w.coord, action, {"summary": "行动圆满完成，成效明显。"})
    db.session.rollback()
    ops.review_report(w.coord, t1, "verify", {})
    db.session.commit()
    assert t1.state == "in_progress"  # not a final report
    ops.submit_report(w.jx_insp2, t1, {"places_inspected": "3", "goods_value": "0.5",
                                        "narrative": "收尾检查", "final": "1"})
    db.session.commit()
    ops.review_report(w.coord, t1, "verify", {})
    db.session.commit()
    assert t1.state == "verified"
    case = make_case(user=w.officer, joint_action_id=action.id)
    assert case.joint_action_id == action.id
    figs = ops.action_figures(action)
    assert figs.verified.places_inspected == 15
    assert figs.verified.goods_value == Decimal("45001.00")
    assert figs.cases.linked == 1
    row = {r.agency.id: r for r in figs.rows}
    assert row[w.jx.id].verified.cases_filed == 2 and row[w.amr.id].cases.linked == 1
    ops.complete_action(w.coord, action, {"summary": "行动圆满完成，成效明显。"})
    db.session.commit()
    assert action.state == "completed"
    assert ops.completed_count(w.jx.id, action.completed_on.year) == 1
    assert ops.completed_count(w.jd.id, action.completed_on.year) == 0


def test_bad_input_is_named(g60):
    with pytest.raises(InvalidInput) as e:
        ops.create_action(g60.coord, {"name": "", "kind": "g60", "period_start": "x",
                                      "period_end": "", "participants": [str(g60.culture.id)]})
    assert set(e.value.errors) >= {"name", "period_start", "period_end"}
    with pytest.raises(InvalidInput) as e:
        ops.create_action(g60.coord, {"name": "跨区域行动", "kind": "g60", "period_start": "2026-01-01",
                                      "period_end": "2026-12-31", "participants": [str(g60.culture.id)]})
    assert "participants" in e.value.errors  # two G60 cities are needed


def test_api_links_a_case_and_round_trips_the_link(app, g60, action, api_headers):
    from tests.conftest import clue_payload

    client = app.test_client()
    h = api_headers(client, "officer")
    r = client.post("/api/v1/cases", json=clue_payload(joint_action_id=action.id), headers=h)
    assert r.status_code == 201, r.text
    case = r.json
    assert case["joint_action_id"] == action.id
    body = {k: case[k] for k in ("title", "channel", "ip_type", "received_at", "description",
                                 "location", "infringement_kind", "trademark_numbers",
                                 "is_major", "joint_action_id", "version")}
    body["parties"] = [{k: p[k] for k in ("kind", "name", "credit_code", "id_number", "address")
                        if p.get(k) is not None} for p in case["parties"]]
    r = client.put(f"/api/v1/cases/{case['id']}", json=body, headers=h)
    assert r.status_code == 200, r.text
    assert r.json["joint_action_id"] == action.id
    # an agency outside the action cannot link to it
    other = app.test_client()
    r = other.post("/api/v1/cases", json=clue_payload(joint_action_id=action.id),
                   headers=api_headers(other, "jd_coord"))
    assert r.status_code == 422 and "joint_action_id" in r.text
