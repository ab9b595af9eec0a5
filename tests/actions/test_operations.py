"""Joint actions through the operations: who sees and does what, bulk assignment, bad input,
report attachments, the figures, case links, the key-trademark list, completed actions."""
import csv
import datetime as dt
import hashlib
import io
import os
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, text
from werkzeug.datastructures import FileStorage

from caseflow.actions import operations as ops
from caseflow.actions.models import ActionTask, KeyTrademark
from caseflow.cases import messages
from caseflow.core.errors import (InvalidInput, InvalidTransition, NotFound, PermissionDenied,
                                  StaleVersion)
from caseflow.core.timeutil import today_local
from caseflow.extensions import db
from tests.actions.conftest import action_data, due
from tests.conftest import clue_payload

M = messages.text
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
SUMMARY = "行动圆满完成，成效明显，各方配合良好。"


# ----------------------------------------------------------------------------- helpers


def count(table: str, where: str = "", **params) -> int:
    return db.session.scalar(text(f"SELECT COUNT(*) FROM {table} {where}"), params)


def assign(w, action, *tokens, title="排查重点市场", days=20):
    tasks = ops.assign_tasks(w.coord, action, {"title": title, "due_on": due(days),
                                               "assignees": list(tokens)})
    db.session.commit()
    return tasks


def act(user, task, name, **data):
    ops.task_action(user, task, name, data)
    db.session.commit()
    return task


def report(user, task, final=False, narrative="本期检查情况", **figures):
    data = {"narrative": narrative, **figures}
    if final:
        data["final"] = "1"
    rep = ops.submit_report(user, task, data)
    db.session.commit()
    return rep


def review(user, task, verdict="verify", **data):
    rep = ops.review_report(user, task, verdict, data)
    db.session.commit()
    return rep


def verified_task(w, action, token, worker, title="核查任务", **figures):
    (t,) = assign(w, action, token, title=title)
    act(worker, t, "accept")
    report(worker, t, final=True, **figures)
    review(w.coord, t)
    assert t.state == "verified"
    return t


def files_in_uploads(app) -> set[str]:
    d = Path(app.instance_path) / "uploads" / "actions"
    return set(os.listdir(d)) if d.exists() else set()


def fs(data: bytes, name: str, ctype="image/png") -> FileStorage:
    return FileStorage(stream=io.BytesIO(data), filename=name, content_type=ctype)


# ----------------------------------------------------------------------------- permissions


def test_participant_sees_the_action_but_only_its_own_tasks(g60, action):
    w = g60
    t_jx, t_unit, t_cul, t_amr = assign(w, action, f"agency:{w.jx.id}", f"unit:{w.jx_unit.id}",
                                        f"agency:{w.culture.id}", f"agency:{w.amr.id}")
    for user in (w.jx_coord, w.jx_insp, w.jx_insp2):
        assert ops.get_action(user, action.id) is action
        assert [t.id for t in ops.tasks_for(user, action)] == [t_jx.id, t_unit.id]
        assert ops.get_task(user, t_jx.id) is t_jx
        for other in (t_cul, t_amr):
            with pytest.raises(NotFound):
                ops.get_task(user, other.id)
    assert [t.id for t in ops.tasks_for(w.other, action)] == [t_cul.id]
    # the lead agency sees every task, also its non-coordinators
    assert sorted(t.id for t in ops.tasks_for(w.officer, action)) == sorted(
        [t_jx.id, t_unit.id, t_cul.id, t_amr.id])
    assert ops.get_task(w.officer, t_cul.id) is t_cul
    assert [a.id for a in db.session.scalars(ops.visible_actions(w.jx_insp))] == [action.id]


def test_outsider_agency_sees_nothing(g60, action):
    w = g60
    (t,) = assign(w, action, f"agency:{w.jx.id}")
    with pytest.raises(NotFound):
        ops.get_action(w.jd_coord, action.id)
    with pytest.raises(NotFound):
        ops.get_task(w.jd_coord, t.id)
    with pytest.raises(NotFound):
        ops.get_action(w.coord, action.id + 1000)
    assert list(db.session.scalars(ops.visible_actions(w.jd_coord))) == []
    assert ops.tasks_for(w.jd_coord, action) == []
    # an auditor of the lead agency reads no case data
    with pytest.raises(NotFound):
        ops.get_action(w.auditor, action.id)


def test_only_a_coordinator_creates(g60):
    for who in ("officer", "approver", "jx_insp", "other", "auditor"):
        with pytest.raises(PermissionDenied):
            ops.create_action(getattr(g60, who), action_data(g60))
        db.session.rollback()
    assert count("joint_action") == 0 and count("joint_action_event") == 0


def test_participant_coordinator_does_not_run_the_action(g60, action):
    w = g60
    (t,) = assign(w, action, f"agency:{w.jx.id}")
    with pytest.raises(PermissionDenied):
        ops.assign_tasks(w.jx_coord, action, {"title": "自派任务", "due_on": due(),
                                              "assignees": [f"agency:{w.jx.id}"]})
    db.session.rollback()
    with pytest.raises(PermissionDenied):
        ops.add_target(w.jx_coord, action, {"kind": "market", "target_name": "嘉兴小商品市场"})
    db.session.rollback()
    act(w.jx_coord, t, "accept")  # it acts for its own agency's task
    report(w.jx_insp2, t, final=True, places_inspected="3")
    for verdict in ("verify", "return"):
        with pytest.raises(PermissionDenied):
            ops.review_report(w.jx_coord, t, verdict, {"reason": "数据有误请核实"})
        db.session.rollback()
    with pytest.raises(PermissionDenied):
        ops.task_action(w.jx_coord, t, "cancel", {"reason": "任务取消了"})
    db.session.rollback()
    with pytest.raises(PermissionDenied):
        ops.complete_action(w.jx_coord, action, {"summary": SUMMARY})
    db.session.rollback()
    with pytest.raises(PermissionDenied):
        ops.cancel_action(w.jx_coord, action, {"summary": SUMMARY})
    db.session.rollback()
    with pytest.raises(PermissionDenied):
        ops.edit_action(w.jx_coord, action, action_data(w, name="改名的行动"))
    db.session.rollback()
    assert (t.state, action.state, action.name) == ("reported", "open", action_data(w)["name"])
    assert count("joint_task") == 1 and count("joint_action_target") == 0
    assert count("joint_task_report", "WHERE status = 'pending'") == 1


def test_figures_for_a_participant_show_its_row_and_the_totals(g60, action):
    w = g60
    t_jx = verified_task(w, action, f"agency:{w.jx.id}", w.jx_insp2, places_inspected="7")
    verified_task(w, action, f"agency:{w.culture.id}", w.other, places_inspected="5")
    mine = ops.figures_for(w.jx_coord, action)
    assert [r.agency.id for r in mine.rows] == [w.jx.id]
    assert mine.rows[0].verified.places_inspected == 7
    assert mine.verified.places_inspected == 12 and mine.tasks == 2
    lead = ops.figures_for(w.coord, action)
    assert [r.agency.id for r in lead.rows] == [w.amr.id, w.culture.id, w.jx.id]
    assert lead.verified.places_inspected == 12
    assert t_jx.state == "verified"


def test_participant_hands_its_task_on_inside_its_agency_only(g60, action):
    w = g60
    (t,) = assign(w, action, f"agency:{w.jx.id}", days=20)
    act(w.jx_coord, t, "accept")
    ops.reassign_tasks(w.jx_coord, action, {"task_ids": [str(t.id)],
                                            "assignee": f"unit:{w.jx_unit.id}"})
    db.session.commit()
    assert (t.assignee_agency_id, t.assignee_unit_id, t.assignee_user_id, t.state) == (
        w.jx.id, w.jx_unit.id, None, "accepted")
    ops.reassign_tasks(w.jx_coord, action, {"task_ids": [str(t.id)],
                                            "assignee": f"user:{w.jx_insp2.id}"})
    db.session.commit()
    assert (t.assignee_unit_id, t.assignee_user_id, t.state) == (None, w.jx_insp2.id, "accepted")
    version = t.version
    with pytest.raises(InvalidInput) as e:  # not to another agency
        ops.reassign_tasks(w.jx_coord, action, {"task_ids": [str(t.id)],
                                                "assignee": f"agency:{w.culture.id}"})
    assert e.value.errors == {"assignee": M("assignee_invalid")}
    db.session.rollback()
    with pytest.raises(PermissionDenied):  # nor move the due date
        ops.reassign_tasks(w.jx_coord, action, {"task_ids": [str(t.id)], "new_due_on": due(30)})
    db.session.rollback()
    with pytest.raises(PermissionDenied):  # an inspector does not hand tasks on
        ops.reassign_tasks(w.jx_insp2, action, {"task_ids": [str(t.id)],
                                                "assignee": f"user:{w.jx_insp.id}"})
    db.session.rollback()
    db.session.expire_all()
    assert (t.assignee_agency_id, t.assignee_user_id, t.due_on, t.version) == (
        w.jx.id, w.jx_insp2.id, today_local() + dt.timedelta(days=20), version)
    # the lead moves due dates
    ops.reassign_tasks(w.coord, action, {"task_ids": [str(t.id)], "new_due_on": due(30)})
    db.session.commit()
    assert t.due_on == today_local() + dt.timedelta(days=30)


def test_a_participant_cannot_reassign_another_agencys_task(g60, action):
    w = g60
    (t,) = assign(w, action, f"agency:{w.culture.id}")
    with pytest.raises(NotFound):
        ops.reassign_tasks(w.jx_coord, action, {"task_ids": [str(t.id)],
                                                "assignee": f"agency:{w.jx.id}"})
    db.session.rollback()
    assert db.session.get(ActionTask, t.id).assignee_agency_id == w.culture.id


def test_the_submitter_does_not_verify_its_own_report(g60, action):
    w = g60
    (t,) = assign(w, action, f"agency:{w.amr.id}")  # the lead gives itself a task
    act(w.coord, t, "accept")
    rep = report(w.coord, t, final=True, places_inspected="4")
    with pytest.raises(PermissionDenied) as e:
        ops.review_report(w.coord, t, "verify", {})
    assert e.value.message == M("own_report")
    db.session.rollback()
    assert (t.state, rep.status) == ("reported", "pending")
    review(w.coord2, t)
    assert (t.state, rep.status, rep.reviewed_by_id) == ("verified", "verified", w.coord2.id)


def test_culture_squad_cannot_act_on_a_jiaxing_task(g60, action):
    w = g60
    (t,) = assign(w, action, f"agency:{w.jx.id}")
    with pytest.raises(NotFound):
        ops.get_task(w.other, t.id)
    for name in ("accept", "decline"):
        with pytest.raises(PermissionDenied):
            ops.task_action(w.other, t, name, {"reason": "不是我们的任务"})
        db.session.rollback()
    act(w.jx_insp, t, "accept")
    with pytest.raises(PermissionDenied):
        ops.submit_report(w.other, t, {"narrative": "冒名上报", "places_inspected": "1"})
    db.session.rollback()
    with pytest.raises(PermissionDenied):
        ops.submit_report(w.culture_coord, t, {"narrative": "冒名上报", "places_inspected": "1"})
    db.session.rollback()
    assert t.state == "accepted" and count("joint_task_report") == 0


def test_a_personal_task_is_for_that_person(g60, action):
    w = g60
    (t,) = assign(w, action, f"user:{w.jx_insp2.id}")
    with pytest.raises(PermissionDenied):
        ops.task_action(w.jx_insp, t, "accept", {})
    db.session.rollback()
    act(w.jx_insp2, t, "accept")
    assert t.state == "accepted"


# ----------------------------------------------------------------------------- bulk


def test_bulk_assignment_creates_one_task_per_assignee(g60, action):
    w = g60
    tasks = assign(w, action, f"agency:{w.jx.id}", f"unit:{w.jx_unit.id}",
                   f"user:{w.jx_insp2.id}", f"agency:{w.culture.id}", f"agency:{w.jx.id}")
    assert [(t.assignee_agency_id, t.assignee_unit_id, t.assignee_user_id) for t in tasks] == [
        (w.jx.id, None, None), (w.jx.id, w.jx_unit.id, None), (w.jx.id, None, w.jx_insp2.id),
        (w.culture.id, None, None)]  # the repeated token once
    assert count("joint_task", "WHERE action_id = :a", a=action.id) == 4
    assert count("joint_action_event", "WHERE kind = 'task_assign'") == 4
    assert {t.state for t in tasks} == {"assigned"}
    assert {t.due_on for t in tasks} == {today_local() + dt.timedelta(days=20)}


def test_one_bad_assignee_writes_no_task(g60, action):
    w = g60
    for token in (f"agency:{w.jd.id}",  # not in the action
                  f"user:{w.auditor.id}",  # not a task worker
                  f"user:{w.jd_coord.id}",  # a person of an outside agency
                  "unit:999999", "agency:abc", "team:1", "agency:"):
        with pytest.raises(InvalidInput) as e:
            ops.assign_tasks(w.coord, action, {"title": "排查", "due_on": due(),
                                               "assignees": [f"agency:{w.jx.id}", token,
                                                             f"agency:{w.culture.id}"]})
        assert e.value.errors == {"assignees": M("assignee_invalid")}, token
        db.session.rollback()
        assert count("joint_task") == 0, token
    assert count("joint_action_event", "WHERE kind = 'task_assign'") == 0


def test_bulk_reassignment_is_all_or_nothing(g60, action):
    w = g60
    (t1,) = assign(w, action, f"agency:{w.jx.id}", title="任务甲", days=10)
    (t2,) = assign(w, action, f"agency:{w.culture.id}", title="任务乙", days=10)
    act(w.other, t2, "accept")
    t3 = verified_task(w, action, f"agency:{w.jx.id}", w.jx_insp2, title="任务丙")
    with pytest.raises(InvalidTransition) as e:
        ops.reassign_tasks(w.coord, action, {"task_ids": [str(t1.id), str(t2.id), str(t3.id)],
                                             "assignee": f"agency:{w.amr.id}",
                                             "new_due_on": due(40)})
    assert f"#{t3.id}" in e.value.message and "任务丙" in e.value.message
    assert "任务甲" not in e.value.message and "任务乙" not in e.value.message
    db.session.rollback()
    db.session.expire_all()
    rows = db.session.execute(text(
        "SELECT id, assignee_agency_id, state, due_on FROM joint_task ORDER BY id")).all()
    d10 = today_local() + dt.timedelta(days=10)
    d20 = today_local() + dt.timedelta(days=20)
    assert [(i, a, s, dt.date.fromisoformat(str(d))) for i, a, s, d in rows] == [
        (t1.id, w.jx.id, "assigned", d10), (t2.id, w.culture.id, "accepted", d10),
        (t3.id, w.jx.id, "verified", d20)]
    assert count("joint_action_event", "WHERE kind = 'task_reassign'") == 0
    # without the verified one it goes through for both
    ops.reassign_tasks(w.coord, action, {"task_ids": [str(t1.id), str(t2.id)],
                                         "assignee": f"agency:{w.amr.id}", "new_due_on": due(40)})
    db.session.commit()
    assert [(t.assignee_agency_id, t.state, t.due_on) for t in (t1, t2)] == [
        (w.amr.id, "assigned", today_local() + dt.timedelta(days=40))] * 2


def test_declined_task_reassigned_to_another_agency_starts_afresh(g60, action):
    w = g60
    (t,) = assign(w, action, f"agency:{w.jx.id}")
    act(w.jx_insp, t, "decline", reason="本局人手不足")
    assert (t.state, t.reason) == ("declined", "本局人手不足")
    ops.reassign_tasks(w.coord, action, {"task_ids": [str(t.id)],
                                         "assignee": f"agency:{w.culture.id}"})
    db.session.commit()
    db.session.expire_all()
    row = db.session.execute(text("SELECT state, reason, assignee_agency_id FROM joint_task")).one()
    assert tuple(row) == ("assigned", None, w.culture.id)
    act(w.other, t, "accept")
    assert t.state == "accepted"
    # inside the same agency, a declined task also goes back to "assigned"
    (t2,) = assign(w, action, f"agency:{w.jx.id}")
    act(w.jx_insp, t2, "decline", reason="本局人手不足")
    ops.reassign_tasks(w.coord, action, {"task_ids": [str(t2.id)],
                                         "assignee": f"unit:{w.jx_unit.id}"})
    db.session.commit()
    assert (t2.state, t2.reason, t2.assignee_agency_id, t2.assignee_unit_id) == (
        "assigned", None, w.jx.id, w.jx_unit.id)


def test_reassign_tasks_bad_input(g60, action):
    w = g60
    (t,) = assign(w, action, f"agency:{w.jx.id}")
    yesterday = (today_local() - dt.timedelta(days=1)).isoformat()
    for data, errors in [
        ({"task_ids": [], "assignee": f"agency:{w.culture.id}"}, {"task_ids": M("tasks_required")}),
        ({"task_ids": ["x"], "assignee": f"agency:{w.culture.id}"}, {"task_ids": M("enum")}),
        ({"task_ids": [str(t.id)]}, {"assignee": M("reassign_nothing")}),
        ({"task_ids": [str(t.id)], "new_due_on": yesterday}, {"new_due_on": M("task_due_in_past")}),
        ({"task_ids": [str(t.id)], "assignee": f"agency:{w.jd.id}"},
         {"assignee": M("assignee_invalid")}),
    ]:
        with pytest.raises(InvalidInput) as e:
            ops.reassign_tasks(w.coord, action, data)
        assert e.value.errors == errors
        db.session.rollback()
    with pytest.raises(NotFound):
        ops.reassign_tasks(w.coord, action, {"task_ids": [str(t.id), "999999"],
                                             "assignee": f"agency:{w.culture.id}"})
    db.session.rollback()
    assert db.session.get(ActionTask, t.id).assignee_agency_id == w.jx.id


# ----------------------------------------------------------------------------- bad input


@pytest.fixture()
def procuratorate(g60, make_agency):
    return make_agency("sj-proc", "procuratorate", "上海市松江区人民检察院", "沪松检")


CREATE_ERRORS = [
    ({"name": ""}, {"name": "field_required"}),
    ({"name": "   "}, {"name": "field_required"}),
    ({"name": "行"}, {"name": ("reason_too_short", {"n": 2})}),
    ({"name": "行动\x00"}, {"name": "control_characters"}),
    ({"kind": "raid"}, {"kind": "enum"}),
    ({"kind": ""}, {"kind": "enum"}),
    ({"period_start": "2026-13-01"}, {"period_start": "date_parsing"}),
    ({"period_end": ""}, {"period_end": "field_required"}),
    ({"period_start": due(10), "period_end": due(5)}, {"period_end": "period_reversed"}),
    ({"period_start": "2020-01-01", "period_end": "2020-12-31"}, {"period_end": "period_too_old"}),
    ({"participants": ["{culture}"]}, {"participants": "g60_two_cities"}),
    ({"participants": []}, {"participants": "g60_two_cities"}),
    ({"kind": "joint", "participants": []}, {"participants": "participants_required"}),
    ({"participants": ["{jx}", "{proc}"]}, {"participants": "participants_invalid"}),
    ({"participants": ["{jx}", "{amr}"]}, {"participants": "participants_invalid"}),
    ({"participants": ["{jx}", "999999"]}, {"participants": "participants_invalid"}),
    ({"kind": "special", "participants": ["{jx}", "abc"]}, {"participants": "enum"}),
    ({"kind": "special", "participants": ["-1"]}, {"participants": "enum"}),
    # the bad id is named, not hidden behind "needs two G60 cities" / "needs a participant"
    ({"participants": ["{jx}", "abc"]}, {"participants": "enum"}),
    ({"kind": "joint", "participants": ["x"]}, {"participants": "enum"}),
    ({"name": "", "kind": "raid", "period_end": "x"},
     {"name": "field_required", "kind": "enum", "period_end": "date_parsing"}),
]


def _create_refused(w, procuratorate, cases):
    ids = {"culture": w.culture.id, "jx": w.jx.id, "proc": procuratorate.id, "amr": w.amr.id}
    for over, errors in cases:
        if "participants" in over:
            over = dict(over, participants=[p.format(**ids) for p in over["participants"]])
        with pytest.raises(InvalidInput) as e:
            ops.create_action(w.coord, action_data(w, **over))
        expected = {k: (M(v[0], **v[1]) if isinstance(v, tuple) else M(v))
                    for k, v in errors.items()}
        assert e.value.errors == expected, over
        db.session.rollback()
        assert count("joint_action") == 0 and count("joint_action_participant") == 0
    assert count("joint_action_event") == 0


def test_create_action_bad_input(g60, procuratorate):
    _create_refused(g60, procuratorate, CREATE_ERRORS)


def test_create_action_good_kinds(g60):
    w = g60
    special = ops.create_action(w.coord, action_data(w, kind="special", participants=[]))
    joint = ops.create_action(w.coord, action_data(w, kind="joint",
                                                   participants=f"{w.culture.id}，{w.culture.id}"))
    g = ops.create_action(w.jx_coord, action_data(w, participants=[str(w.amr.id)]))
    db.session.commit()
    got = [(a.kind, a.lead_agency_id, [p.id for p in a.participants]) for a in (special, joint, g)]
    assert got == [("special", w.amr.id, []), ("joint", w.amr.id, [w.culture.id]),
                   ("g60", w.jx.id, [w.amr.id])]
    assert count("joint_action_event", "WHERE kind = 'create'") == 3


ASSIGN_ERRORS = [
    ({"due_on": "past"}, {"due_on": "task_due_in_past"}),
    ({"due_on": "after"}, {"due_on": "task_due_outside_period"}),
    ({"due_on": ""}, {"due_on": "field_required"}),
    ({"due_on": "2026-02-30"}, {"due_on": "date_parsing"}),
    ({"target_id": "999999"}, {"target_id": "enum"}),
    ({"target_id": "abc"}, {"target_id": "enum"}),
    ({"title": ""}, {"title": "field_required"}),
    ({"assignees": []}, {"assignees": "assignee_required"}),
    ({"title": "", "due_on": "past", "target_id": "1"},
     {"title": "field_required", "due_on": "task_due_in_past", "target_id": "enum"}),
]


def test_assign_tasks_bad_input(g60, action):
    w = g60
    for over, errors in ASSIGN_ERRORS:
        if over.get("due_on") == "past":
            over = dict(over, due_on=(today_local() - dt.timedelta(days=1)).isoformat())
        elif over.get("due_on") == "after":
            over = dict(over, due_on=(action.period_end + dt.timedelta(days=1)).isoformat())
        data = {"title": "排查", "due_on": due(), "assignees": [f"agency:{w.jx.id}"], **over}
        with pytest.raises(InvalidInput) as e:
            ops.assign_tasks(w.coord, action, data)
        assert e.value.errors == {k: M(v) for k, v in errors.items()}, over
        db.session.rollback()
        assert count("joint_task") == 0


def test_assign_tasks_due_on_the_last_day_and_with_a_target(g60, action):
    w = g60
    target = ops.add_target(w.coord, action, {"kind": "market", "target_name": "嘉兴小商品市场"})
    db.session.commit()
    tasks = ops.assign_tasks(w.coord, action, {"title": "排查",
                                               "due_on": action.period_end.isoformat(),
                                               "target_id": str(target.id),
                                               "assignees": [f"agency:{w.jx.id}"]})
    db.session.commit()
    assert (tasks[0].due_on, tasks[0].target_id) == (action.period_end, target.id)


REPORT_ERRORS = [
    ({"places_inspected": "-1", "narrative": "检查了几户"}, {"places_inspected": "int_non_negative"}),
    ({"cases_filed": "两起", "narrative": "检查了几户"}, {"cases_filed": "int_non_negative"}),
    ({"goods_value": "12.345", "narrative": "检查了几户"}, {"goods_value": "amount_invalid"}),
    ({"goods_seized": "99999999", "narrative": "检查了几户"}, {"goods_seized": "number_too_large"}),
    ({"places_inspected": "3", "narrative": ""}, {"narrative": "field_required"}),
    ({"places_inspected": "3"}, {"narrative": "field_required"}),
    ({"referrals": "1.5", "goods_value": "abc", "narrative": "  "},
     {"referrals": "int_non_negative", "goods_value": "amount_invalid",
      "narrative": "field_required"}),
]


def test_submit_report_bad_input(g60, action):
    w = g60
    (t,) = assign(w, action, f"agency:{w.jx.id}")
    act(w.jx_insp2, t, "accept")
    for data, errors in REPORT_ERRORS:
        with pytest.raises(InvalidInput) as e:
            ops.submit_report(w.jx_insp2, t, data)
        assert e.value.errors == {k: M(v) for k, v in errors.items()}, data
        db.session.rollback()
        assert count("joint_task_report") == 0 and t.state == "accepted"
    assert count("joint_action_event", "WHERE kind = 'task_report'") == 0


def test_submit_report_needs_an_accepted_task(g60, action):
    w = g60
    (t,) = assign(w, action, f"agency:{w.jx.id}")
    with pytest.raises(InvalidTransition):
        ops.submit_report(w.jx_insp2, t, {"narrative": "未接收就上报"})
    db.session.rollback()
    assert count("joint_task_report") == 0


def test_decline_and_return_need_a_reason(g60, action):
    w = g60
    (t,) = assign(w, action, f"agency:{w.jx.id}")
    for reason, err in [("", M("field_required")), ("  ", M("field_required")),
                        ("不做", M("reason_too_short", n=4))]:
        with pytest.raises(InvalidInput) as e:
            ops.task_action(w.jx_insp, t, "decline", {"reason": reason})
        assert e.value.errors == {"reason": err}
        db.session.rollback()
        assert (t.state, t.reason) == ("assigned", None)
    act(w.jx_insp, t, "accept")
    report(w.jx_insp, t, final=True, places_inspected="2")
    with pytest.raises(InvalidInput) as e:
        ops.review_report(w.coord, t, "return", {})
    assert e.value.errors == {"reason": M("field_required")}
    db.session.rollback()
    assert t.state == "reported" and t.reports[0].status == "pending"
    rep = review(w.coord, t, "return", reason="数字与台账不符")
    assert (t.state, t.reason, rep.status, rep.review_note) == (
        "in_progress", "数字与台账不符", "returned", "数字与台账不符")
    with pytest.raises(InvalidInput):
        ops.task_action(w.coord, t, "cancel", {})
    db.session.rollback()
    assert t.state == "in_progress"


def test_stale_versions_are_refused(g60, action):
    w = g60
    (t,) = assign(w, action, f"agency:{w.jx.id}")
    for stale in (t.version - 1, t.version + 1, "abc"):
        with pytest.raises(StaleVersion):
            ops.task_action(w.jx_insp, t, "accept", {"version": stale})
        db.session.rollback()
    assert t.state == "assigned"
    act(w.jx_insp, t, "accept", version=t.version)
    old = t.version - 1
    with pytest.raises(StaleVersion):
        ops.submit_report(w.jx_insp, t, {"version": old, "narrative": "本期检查情况"})
    db.session.rollback()
    report(w.jx_insp, t, places_inspected="1", version=t.version)
    with pytest.raises(StaleVersion):
        ops.review_report(w.coord, t, "verify", {"version": t.version - 1})
    db.session.rollback()
    with pytest.raises(StaleVersion):
        ops.edit_action(w.coord, action, action_data(w, name="改名的行动", version=action.version - 1))
    db.session.rollback()
    with pytest.raises(StaleVersion):
        ops.complete_action(w.coord, action, {"summary": SUMMARY, "version": action.version + 1})
    db.session.rollback()
    assert (t.state, action.state, action.name) == ("reported", "open", action_data(w)["name"])
    assert count("joint_task_report", "WHERE status = 'pending'") == 1


def test_a_completed_action_is_closed(g60, action):
    w = g60
    (t,) = assign(w, action, f"agency:{w.jx.id}")
    act(w.jx_insp, t, "decline", reason="本局人手不足")
    ops.complete_action(w.coord, action, {"summary": SUMMARY})
    db.session.commit()
    assert (action.state, action.completed_on) == ("completed", today_local())
    closed = M("action_not_open")
    attempts = [
        lambda: ops.assign_tasks(w.coord, action, {"title": "再排查", "due_on": due(),
                                                   "assignees": [f"agency:{w.jx.id}"]}),
        lambda: ops.add_target(w.coord, action, {"kind": "market", "target_name": "某市场"}),
        lambda: ops.edit_action(w.coord, action, action_data(w, name="改名的行动")),
        lambda: ops.complete_action(w.coord, action, {"summary": SUMMARY}),
        lambda: ops.cancel_action(w.coord, action, {"summary": SUMMARY}),
        lambda: ops.task_action(w.coord, t, "cancel", {"reason": "行动已经结束"}),
        lambda: ops.reassign_tasks(w.coord, action, {"task_ids": [str(t.id)],
                                                     "assignee": f"agency:{w.culture.id}"}),
        lambda: ops.submit_report(w.jx_insp, t, {"narrative": "行动结束后补报"}),
        lambda: ops.review_report(w.coord, t, "verify", {}),
    ]
    for attempt in attempts:
        with pytest.raises(InvalidTransition) as e:
            attempt()
        assert e.value.message == closed
        db.session.rollback()
    assert (t.state, t.assignee_agency_id, action.state) == ("declined", w.jx.id, "completed")
    assert count("joint_task") == 1 and count("joint_action_target") == 0


def test_an_action_with_open_tasks_cannot_complete_and_cancel_closes_them(g60, action):
    w = g60
    t1, t2 = assign(w, action, f"agency:{w.jx.id}", f"agency:{w.culture.id}")
    act(w.jx_insp, t1, "decline", reason="本局人手不足")
    with pytest.raises(InvalidTransition) as e:
        ops.complete_action(w.coord, action, {"summary": SUMMARY})
    assert e.value.message == M("action_open_tasks", n=1)
    db.session.rollback()
    with pytest.raises(InvalidInput) as e:
        ops.complete_action(w.coord, action, {"summary": "完成"})
    assert e.value.errors == {"summary": M("reason_too_short", n=10)}
    db.session.rollback()
    ops.cancel_action(w.coord, action, {"summary": "上级通知暂停本次行动，另行安排。"})
    db.session.commit()
    assert (action.state, t1.state, t1.reason, t2.state, t2.reason) == (
        "cancelled", "declined", "本局人手不足", "cancelled", "上级通知暂停本次行动，另行安排。")


# ----------------------------------------------------------------------------- attachments


@pytest.fixture()
def working_task(g60, action):
    (t,) = assign(g60, action, f"agency:{g60.jx.id}")
    act(g60.jx_insp2, t, "accept")
    return t


def test_a_real_png_is_stored_with_its_hash(app, g60, working_task):
    t = working_task
    before = files_in_uploads(app)
    rep = ops.submit_report(g60.jx_insp2, t, {"narrative": "现场照片见附件", "places_inspected": "1"},
                            [fs(PNG, "现场 照片.png"), None,
                             FileStorage(stream=io.BytesIO(b""), filename="")])
    db.session.commit()
    (att,) = rep.attachments
    assert (att.filename, att.content_type, att.size, att.uploaded_by_id) == (
        "现场 照片.png", "image/png", len(PNG), g60.jx_insp2.id)
    path = Path(app.instance_path) / "uploads" / "actions" / att.stored_name
    assert path.read_bytes() == PNG
    assert att.sha256 == hashlib.sha256(PNG).hexdigest()
    assert files_in_uploads(app) - before == {att.stored_name}
    assert ops.get_attachment(g60.coord, att.id) is att
    with pytest.raises(NotFound):  # the culture squad does not see Jiaxing's task
        ops.get_attachment(g60.other, att.id)


def test_a_refused_file_leaves_no_file_and_no_report(app, g60, working_task):
    t = working_task
    before = files_in_uploads(app)
    for files in (
            [("photo.jpg", b"<!doctype html><html><script>alert(1)</script></html>")],
            # a failure midway: the first (good) file is removed again
            [("good.png", PNG), ("photo.jpg", b"<html><body>not a photo</body></html>")],
            [("good.png", PNG), ("a.pdf", b"%PDF-1.7 fine"), ("empty.png", b"")]):
        with pytest.raises(InvalidInput) as e:
            ops.submit_report(g60.jx_insp2, t, {"narrative": "现场照片见附件"},
                              [fs(data, name) for name, data in files])
        name = files[-1][0]
        code = "upload_empty" if files[-1][1] == b"" else "upload_type"
        assert e.value.errors == {"files": f"{name}: {M(code)}"}
        db.session.rollback()
        assert files_in_uploads(app) == before, files
        assert count("joint_task_report") == 0 and count("joint_task_attachment") == 0
        assert t.state == "accepted"


def test_an_oversized_file_is_refused(app, g60, working_task, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_MAX_BYTES", 1024 * 1024)
    before = files_in_uploads(app)
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * (1024 * 1024)
    with pytest.raises(InvalidInput) as e:
        ops.submit_report(g60.jx_insp2, working_task, {"narrative": "现场照片见附件"},
                          [fs(PNG, "small.png"), fs(big, "big.png")])
    assert e.value.errors == {"files": f"big.png: {M('upload_too_large', mb=1)}"}
    db.session.rollback()
    assert files_in_uploads(app) == before and count("joint_task_report") == 0


def test_too_many_files_are_refused_before_anything_is_stored(app, g60, working_task):
    before = files_in_uploads(app)
    with pytest.raises(InvalidInput) as e:
        ops.submit_report(g60.jx_insp2, working_task, {"narrative": "现场照片见附件"},
                          [fs(PNG, f"p{i}.png") for i in range(11)])
    assert e.value.errors == {"files": M("too_many", n=10)}
    db.session.rollback()
    assert files_in_uploads(app) == before and count("joint_task_report") == 0


# ----------------------------------------------------------------------------- figures

MADE = "('sent', 'received', 'filed', 'handed_over', 'not_filed', 'reconsideration', 'upheld', " \
       "'supervision', 'returned')"


def _money(v) -> Decimal:
    return Decimal(str(v or 0)).quantize(Decimal("0.01"))


def independent_figures(action_id: int) -> dict:
    """{agency_id: {"verified": (...), "pending": (...), "cases": (linked, filed, value, referrals),
    "tasks": n}} computed with plain SQL."""
    out: dict = {}

    def row(agency_id):
        return out.setdefault(agency_id, {"verified": (0, 0, 0, _money(0), 0),
                                          "pending": (0, 0, 0, _money(0), 0),
                                          "cases": (0, 0, _money(0), 0), "tasks": 0})

    for agency_id, n in db.session.execute(text(
            "SELECT assignee_agency_id, COUNT(*) FROM joint_task WHERE action_id = :a "
            "GROUP BY assignee_agency_id"), {"a": action_id}):
        row(agency_id)["tasks"] = n
    for agency_id, status, p, c, g, v, ref in db.session.execute(text(
            "SELECT t.assignee_agency_id, r.status, SUM(r.places_inspected), SUM(r.cases_filed), "
            "SUM(r.goods_seized), SUM(r.goods_value), SUM(r.referrals) "
            "FROM joint_task_report r JOIN joint_task t ON t.id = r.task_id "
            "WHERE t.action_id = :a AND r.status IN ('verified', 'pending') "
            "GROUP BY t.assignee_agency_id, r.status"), {"a": action_id}):
        row(agency_id)[status] = (int(p), int(c), int(g), _money(v), int(ref))
    linked = {a: (n, f) for a, n, f in db.session.execute(text(
        "SELECT owner_agency_id, COUNT(*), COUNT(filed_on) FROM case_record "
        "WHERE joint_action_id = :a GROUP BY owner_agency_id"), {"a": action_id})}
    values = dict(db.session.execute(text(
        "SELECT c.owner_agency_id, SUM(g.value) FROM case_goods g "
        "JOIN case_record c ON c.id = g.case_id WHERE c.joint_action_id = :a "
        "GROUP BY c.owner_agency_id"), {"a": action_id}).all())
    refs = dict(db.session.execute(text(
        "SELECT c.owner_agency_id, COUNT(DISTINCT f.case_id) FROM referral f "
        "JOIN case_record c ON c.id = f.case_id "
        f"WHERE c.joint_action_id = :a AND f.state IN {MADE} "
        "GROUP BY c.owner_agency_id"), {"a": action_id}).all())
    for agency_id, (n, f) in linked.items():
        row(agency_id)["cases"] = (n, f, _money(values.get(agency_id)), refs.get(agency_id, 0))
    return out


def as_tuple(f) -> tuple:
    return (f.places_inspected, f.cases_filed, f.goods_seized, _money(f.goods_value), f.referrals)


def add_referral(case, user, state):
    from caseflow.referrals.models import Referral

    db.session.add(Referral(case_id=case.id, agency_id=case.owner_agency_id, state=state,
                            created_by_id=user.id))
    db.session.commit()


def test_figures_add_up(g60, action, make_case, drive):
    w = g60
    # Jiaxing: verified (not final), returned, then pending
    (t_jx,) = assign(w, action, f"agency:{w.jx.id}", title="嘉兴排查")
    act(w.jx_insp2, t_jx, "accept")
    report(w.jx_insp2, t_jx, places_inspected="12", cases_filed="2", goods_seized="300",
           goods_value="45000.50", referrals="1")
    review(w.coord, t_jx)
    report(w.jx_insp2, t_jx, places_inspected="50", goods_value="99999")
    review(w.coord, t_jx, "return", reason="数字与台账不符")
    report(w.jx_insp2, t_jx, places_inspected="3", goods_seized="7", goods_value="100.10")
    assert [x.status for x in t_jx.reports] == ["verified", "returned", "pending"]
    # culture squad: one final report verified; Songjiang itself: verified, then pending
    verified_task(w, action, f"agency:{w.culture.id}", w.other, places_inspected="4",
                  cases_filed="1", goods_value="1,234.56")
    (t_amr,) = assign(w, action, f"agency:{w.amr.id}", title="松江排查")
    act(w.officer, t_amr, "accept")
    report(w.officer, t_amr, places_inspected="6", referrals="2", goods_value="0.44")
    review(w.coord, t_amr)
    report(w.officer, t_amr, cases_filed="5")
    # Jiaxing: a declined task and an overdue one
    t_dec, t_late = assign(w, action, f"agency:{w.jx.id}", f"unit:{w.jx_unit.id}", title="补充任务")
    act(w.jx_insp, t_dec, "decline", reason="本局人手不足")
    db.session.execute(text("UPDATE joint_task SET due_on = :d WHERE id = :i"),
                       {"d": today_local() - dt.timedelta(days=1), "i": t_late.id})
    db.session.commit()
    db.session.expire_all()
    # linked cases
    goods = [{"name": "运动鞋", "quantity": "120", "unit": "双", "value": "36000.10"},
             {"name": "鞋盒", "quantity": "5", "unit": "个", "value": "0.20"}]
    c1 = make_case(user=w.officer, joint_action_id=action.id, goods=goods)
    drive(c1, "accept", "file")
    c2 = make_case(user=w.officer, joint_action_id=action.id)
    add_referral(c2, w.officer, "sent")
    add_referral(c2, w.officer, "returned")  # the same case once
    c3 = make_case(user=w.officer, joint_action_id=action.id)
    add_referral(c3, w.officer, "proposed")  # not made yet
    c4 = make_case(user=w.other, officers=False, joint_action_id=action.id,
                   goods=[{"name": "盗版图书", "quantity": "500", "unit": "册", "value": "6000"}])
    add_referral(c4, w.other, "filed")
    make_case(user=w.officer, goods=goods)  # not linked: does not count
    assert c1.filed_on is not None

    figs = ops.action_figures(action)
    expected = independent_figures(action.id)
    rows = {r.agency.id: r for r in figs.rows}
    # overdue first; otherwise the lead, then the participants in their order
    base = [w.amr.id, w.culture.id, w.jx.id]
    assert [r.agency.id for r in figs.rows] == sorted(
        base, key=lambda a: (-{r.agency.id: r.overdue for r in figs.rows}[a], base.index(a)))
    assert figs.rows[0].overdue > 0 and figs.rows[0].agency.id == w.jx.id
    assert set(expected) == set(rows)
    for agency_id, row in rows.items():
        e = expected[agency_id]
        assert as_tuple(row.verified) == e["verified"], agency_id
        assert as_tuple(row.pending) == e["pending"], agency_id
        assert (row.cases.linked, row.cases.filed, _money(row.cases.goods_value),
                row.cases.referrals) == e["cases"], agency_id
        assert row.tasks == e["tasks"]
    # and against hand-computed values
    assert as_tuple(rows[w.jx.id].verified) == (12, 2, 300, Decimal("45000.50"), 1)
    assert as_tuple(rows[w.jx.id].pending) == (3, 0, 7, Decimal("100.10"), 0)
    assert as_tuple(rows[w.culture.id].verified) == (4, 1, 0, Decimal("1234.56"), 0)
    assert as_tuple(rows[w.amr.id].verified) == (6, 0, 0, Decimal("0.44"), 2)
    assert as_tuple(rows[w.amr.id].pending) == (0, 5, 0, Decimal("0.00"), 0)
    assert as_tuple(figs.verified) == (22, 3, 300, Decimal("46235.50"), 3)
    assert as_tuple(figs.pending) == (3, 5, 7, Decimal("100.10"), 0)
    assert (figs.cases.linked, figs.cases.filed, _money(figs.cases.goods_value),
            figs.cases.referrals) == (4, 1, Decimal("42000.30"), 2)
    assert (rows[w.amr.id].cases.linked, rows[w.amr.id].cases.referrals) == (3, 1)
    assert (rows[w.culture.id].cases.linked, rows[w.culture.id].cases.goods_value) == (
        1, Decimal("6000"))
    assert (figs.tasks, figs.overdue, rows[w.jx.id].overdue) == (5, 1, 1)
    assert dict(rows[w.jx.id].states) == {"reported": 1, "declined": 1, "assigned": 1}
    assert dict(figs.states) == {"reported": 2, "verified": 1, "declined": 1, "assigned": 1}
    # the CSV carries the verified figures and the totals
    lines = list(csv.reader(io.StringIO(ops.figures_csv(action).lstrip("\ufeff"))))
    assert lines[0] == list(ops.FIGURE_HEADERS)
    assert lines[-1] == ["合计", "", "5", "1", "1", "22", "3", "300", "46235.50", "3", "4", "1",
                         "42000.30", "2"]


def test_reported_figures_stay_with_the_agency_that_reported_them(g60, action):
    w = g60
    (t,) = assign(w, action, f"agency:{w.jx.id}")
    act(w.jx_insp2, t, "accept")
    report(w.jx_insp2, t, places_inspected="12")
    review(w.coord, t)  # not final: back in progress
    ops.reassign_tasks(w.coord, action, {"task_ids": [str(t.id)],
                                         "assignee": f"agency:{w.culture.id}"})
    db.session.commit()
    rows = {r.agency.id: r for r in ops.action_figures(action).rows}
    assert rows[w.culture.id].verified.places_inspected == 0
    assert rows[w.jx.id].verified.places_inspected == 12


def test_a_cancelled_tasks_report_is_no_longer_pending(g60, action):
    w = g60
    (t,) = assign(w, action, f"agency:{w.jx.id}")
    act(w.jx_insp2, t, "accept")
    report(w.jx_insp2, t, places_inspected="12")
    t2 = assign(w, action, f"agency:{w.culture.id}")[0]
    act(w.other, t2, "accept")
    report(w.other, t2, places_inspected="5")
    assert ops.action_figures(action).pending.places_inspected == 17
    act(w.coord, t, "cancel", reason="目标已由其他行动查处")
    assert ops.action_figures(action).pending.places_inspected == 5
    ops.cancel_action(w.coord, action, {"summary": "上级通知暂停本次行动，另行安排。"})
    db.session.commit()
    figs = ops.action_figures(action)
    assert (figs.pending.places_inspected, figs.verified.places_inspected) == (0, 0)
    assert (t.state, t2.state) == ("cancelled", "cancelled")
    assert count("joint_task_report", "WHERE status = 'pending'") == 0
    assert count("joint_task_report") == 2  # kept, no longer waiting


def test_a_participant_with_linked_cases_stays_and_its_cases_count(g60, action, make_case):
    w = g60
    case = make_case(user=w.other, officers=False, joint_action_id=action.id)
    with pytest.raises(InvalidInput) as e:
        ops.edit_action(w.coord, action, action_data(w, participants=[str(w.jx.id)],
                                                     version=action.version))
    assert e.value.errors == {"participants": M("participant_has_tasks")}
    db.session.rollback()
    assert [p.id for p in action.participants] == [w.culture.id, w.jx.id]
    figs = ops.action_figures(action)
    rows = {r.agency.id: r for r in figs.rows}
    assert (figs.cases.linked, rows[w.culture.id].cases.linked) == (1, 1)
    # once the case is unlinked the agency may leave
    from caseflow.cases import operations as cops
    from caseflow.cases.schemas import CaseUpdateIn

    cops.update_case(w.other, case, CaseUpdateIn.model_validate(
        clue_payload(version=case.version, joint_action_id=None)))
    db.session.commit()
    ops.edit_action(w.coord, action, action_data(w, participants=[str(w.jx.id)],
                                                 version=action.version))
    db.session.commit()
    assert [p.id for p in action.participants] == [w.jx.id]
    assert ops.action_figures(action).cases.linked == 0


# ----------------------------------------------------------------------------- case link


def test_case_links(g60, action, make_case):
    from caseflow.cases import operations as cops
    from caseflow.cases.schemas import CaseUpdateIn, ClueIn

    w = g60
    with pytest.raises(InvalidInput) as e:  # Jiading takes no part
        cops.create_clue(w.jd_coord, ClueIn.model_validate(clue_payload(joint_action_id=action.id)))
    assert e.value.errors == {"joint_action_id": M("action_not_participant")}
    db.session.rollback()
    with pytest.raises(InvalidInput) as e:  # no such action
        cops.create_clue(w.officer, ClueIn.model_validate(clue_payload(joint_action_id=999999)))
    assert e.value.errors == {"joint_action_id": M("action_not_participant")}
    db.session.rollback()
    assert count("case_record") == 0
    # a participant links its case, and unlinks it
    case = make_case(user=w.other, officers=False, joint_action_id=action.id)
    assert case.joint_action_id == action.id
    cops.update_case(w.other, case, CaseUpdateIn.model_validate(
        clue_payload(version=case.version, joint_action_id=None)))
    db.session.commit()
    assert case.joint_action_id is None
    linked = make_case(user=w.officer, joint_action_id=action.id)
    ops.complete_action(w.coord, action, {"summary": SUMMARY})
    db.session.commit()
    # a completed action takes no new links …
    with pytest.raises(InvalidInput) as e:
        cops.create_clue(w.officer, ClueIn.model_validate(clue_payload(joint_action_id=action.id)))
    assert e.value.errors == {"joint_action_id": M("action_not_open")}
    db.session.rollback()
    with pytest.raises(InvalidInput) as e:
        cops.update_case(w.other, case, CaseUpdateIn.model_validate(
            clue_payload(version=case.version, joint_action_id=action.id)))
    assert e.value.errors == {"joint_action_id": M("action_not_open")}
    db.session.rollback()
    # … while a case already linked keeps its link when edited, and may be unlinked
    cops.update_case(w.officer, linked, CaseUpdateIn.model_validate(
        clue_payload(version=linked.version, joint_action_id=action.id, title="某商行销售假冒商品")))
    db.session.commit()
    assert (linked.joint_action_id, linked.title) == (action.id, "某商行销售假冒商品")
    cops.update_case(w.officer, linked, CaseUpdateIn.model_validate(
        clue_payload(version=linked.version, joint_action_id=None)))
    db.session.commit()
    assert count("case_record", "WHERE joint_action_id IS NOT NULL") == 0


def test_linkable_actions(g60, action):
    w = g60
    assert [a.id for a in ops.linkable_actions(w.jx.id)] == [action.id]
    assert ops.linkable_actions(w.jd.id) == []
    assert ops.linkable_actions(w.jx.id, action.period_end + dt.timedelta(days=1)) == []
    assert ops.check_case_link(w.jd.id, action.id, None) == "action_not_participant"
    assert ops.check_case_link(w.jd.id, action.id, action.id) is None  # unchanged
    assert ops.check_case_link(w.jd.id, None, action.id) is None  # unlinking
    assert ops.check_case_link(w.jx.id, action.id, None) is None
    later = ops.create_action(w.coord, action_data(w, period_start=due(5), period_end=due(30)))
    db.session.commit()
    assert ops.check_case_link(w.jx.id, later.id, None) == "action_not_open"  # not begun
    assert [a.id for a in ops.linkable_actions(w.jx.id)] == [action.id]


# ----------------------------------------------------------------------------- key trademarks


@pytest.fixture()
def ipo(g60, make_agency, make_user):
    agency = make_agency("sj-ipo", "ip_office", "上海市松江区知识产权局", "沪松知")
    agency.region = "上海市松江区"
    db.session.commit()
    return type("IPO", (), {"agency": agency,
                            "officer": make_user(agency, "ipo_officer", ["case_officer"]),
                            "insp": make_user(agency, "ipo_insp", ["inspector"])})


def tm_data(**over):
    data = {"reg_number": "第1234567号", "mark": "耐克", "holder": "耐克国际有限公司",
            "classes": "25, 35；9"}
    data.update(over)
    return data


def test_add_trademark(g60, ipo):
    tm = ops.add_trademark(g60.jx_coord, tm_data())
    db.session.commit()
    assert (tm.reg_number, tm.mark, tm.holder, tm.classes, tm.city, tm.listed_by_agency_id,
            tm.listed_on, tm.active) == ("1234567", "耐克", "耐克国际有限公司", "9,25,35", "嘉兴",
                                          g60.jx.id, today_local(), True)
    tm2 = ops.add_trademark(ipo.officer, tm_data(reg_number="7654321", classes="9"))
    db.session.commit()
    assert (tm2.city, tm2.listed_by_agency_id) == ("松江", ipo.agency.id)


TRADEMARK_ERRORS = [
    ({"reg_number": "12AB567"}, {"reg_number": "trademark_number"}),
    ({"reg_number": "1234567890123"}, {"reg_number": "trademark_number"}),
    ({"reg_number": ""}, {"reg_number": "field_required"}),
    ({"classes": "46"}, {"classes": "classes_invalid"}),
    ({"classes": "0, 9"}, {"classes": "classes_invalid"}),
    ({"classes": "abc"}, {"classes": "classes_invalid"}),
    ({"classes": ""}, {"classes": "field_required"}),
    ({"mark": "", "holder": ""}, {"mark": "field_required", "holder": "field_required"}),
]


def test_add_trademark_bad_input(g60):
    for over, errors in TRADEMARK_ERRORS:
        with pytest.raises(InvalidInput) as e:
            ops.add_trademark(g60.coord, tm_data(**over))
        assert e.value.errors == {k: M(v) for k, v in errors.items()}, over
        db.session.rollback()
        assert count("key_trademark") == 0


def test_trademark_listed_once_removed_with_a_reason_and_listed_again(g60):
    tm = ops.add_trademark(g60.coord, tm_data())
    db.session.commit()
    with pytest.raises(InvalidInput) as e:
        ops.add_trademark(g60.jx_coord, tm_data(reg_number="1234567", mark="另一个"))
    assert e.value.errors == {"reg_number": M("trademark_listed")}
    db.session.rollback()
    for reason, err in [("", M("field_required")), ("过期", M("reason_too_short", n=4))]:
        with pytest.raises(InvalidInput) as e:
            ops.remove_trademark(g60.coord, tm.id, reason)
        assert e.value.errors == {"reason": err}
        db.session.rollback()
    assert tm.active is True
    ops.remove_trademark(g60.coord, tm.id, "商标专用权已到期未续展")
    db.session.commit()
    assert (tm.active, tm.removed_reason) == (False, "商标专用权已到期未续展")
    with pytest.raises(NotFound):  # already removed
        ops.remove_trademark(g60.coord, tm.id, "商标专用权已到期未续展")
    db.session.rollback()
    again = ops.add_trademark(g60.jx_coord, tm_data(mark="耐克NIKE"))
    db.session.commit()
    assert (again.id, again.active, again.removed_reason, again.mark, again.city) == (
        tm.id, True, "", "耐克NIKE", "嘉兴")
    assert count("key_trademark") == 1


def test_only_coordinators_and_ip_office_keep_the_list(g60, ipo):
    tm = ops.add_trademark(g60.coord, tm_data())
    db.session.commit()
    for user in (g60.officer, g60.approver, g60.jx_insp, g60.auditor, ipo.insp):
        for attempt in (lambda: ops.add_trademark(user, tm_data(reg_number="7654321")),
                        lambda: ops.remove_trademark(user, tm.id, "商标专用权已到期"),
                        lambda: ops.import_trademarks(
                            user, "注册号,商标,权利人,类别\n7654321,某牌,某公司,9\n".encode())):
            with pytest.raises(PermissionDenied):
                attempt()
            db.session.rollback()
    assert count("key_trademark") == 1 and tm.active is True


CSV_HEAD = "注册号,商标,权利人,类别,列入城市,列入日期\r\n"


def test_import_trademarks_reports_each_refused_line(g60):
    raw = (CSV_HEAD
           + "1234567,耐克,耐克国际有限公司,\"25, 35\",杭州,2025-01-01\r\n"
           + "7654321,某牌,某公司,46,杭州,2025-01-01\r\n"
           + "\r\n"
           + "1234567,耐克,耐克国际有限公司,25,杭州,2025-01-01\r\n"
           + "12AB,坏号,某公司,9,,\r\n").encode("utf-8-sig")
    rep = ops.import_trademarks(g60.coord, raw)
    db.session.commit()
    assert (rep.total, rep.added, rep.updated) == (4, 1, 0)
    assert rep.rejected == [(3, M("classes_invalid")), (5, M("duplicate_in_file")),
                            (6, M("trademark_number"))]
    rows = db.session.execute(text("SELECT reg_number, mark, classes, city FROM key_trademark"))
    assert [tuple(r) for r in rows] == [("1234567", "耐克", "25,35", "杭州")]
    # the same file again updates the row
    rep = ops.import_trademarks(g60.coord, raw)
    db.session.commit()
    assert (rep.added, rep.updated, len(rep.rejected)) == (0, 1, 3)
    assert count("key_trademark") == 1


def test_import_gb18030_file(g60):
    raw = ("注册号,商标,权利人,类别\r\n8888888,永久,上海永久股份有限公司,12\r\n").encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    rep = ops.import_trademarks(g60.coord, raw)
    db.session.commit()
    assert (rep.added, rep.rejected) == (1, [])
    tm = db.session.scalar(select(KeyTrademark))
    assert (tm.reg_number, tm.mark, tm.holder, tm.classes, tm.city) == (
        "8888888", "永久", "上海永久股份有限公司", "12", "松江")


def test_import_with_wrong_headers_or_encoding_writes_nothing(g60):
    for raw in ("reg,mark,holder,classes\r\n1234567,耐克,耐克国际有限公司,25\r\n".encode(),
                "注册号,商标,权利人\r\n1234567,耐克,耐克国际有限公司\r\n".encode(),
                b""):
        with pytest.raises(InvalidInput) as e:
            ops.import_trademarks(g60.coord, raw)
        assert e.value.errors == {"file": M("csv_headers", headers="注册号, 商标, 权利人, 类别")}
        db.session.rollback()
        assert count("key_trademark") == 0
    with pytest.raises(InvalidInput) as e:
        ops.import_trademarks(g60.coord, b"\x81\x30\xff\xff\xfe")
    assert e.value.errors == {"file": M("csv_encoding")}
    db.session.rollback()
    assert count("key_trademark") == 0


def _listed(g60):
    ops.add_trademark(g60.coord, tm_data())
    ops.add_trademark(g60.jx_coord, tm_data(reg_number="7654321", mark="某某", holder="某某, \"有限\"公司",
                                            classes="9"))
    gone = ops.add_trademark(g60.coord, tm_data(reg_number="5555555", mark="撤销", classes="1"))
    db.session.commit()
    ops.remove_trademark(g60.coord, gone.id, "权利人申请撤出名录")
    db.session.commit()


def _rows(raw_csv: str):
    assert raw_csv.startswith("\ufeff")
    return list(csv.reader(io.StringIO(raw_csv[1:])))


def test_trademarks_csv_round_trips(g60):
    _listed(g60)
    exported = _rows(ops.trademarks_csv(g60.coord))
    today = today_local().isoformat()
    assert exported == [list(ops.TRADEMARK_HEADERS),
                        ["1234567", "耐克", "耐克国际有限公司", "9,25,35", "松江", today],
                        ["7654321", "某某", "某某, \"有限\"公司", "9", "嘉兴", today]]
    db.session.execute(text("DELETE FROM key_trademark"))
    db.session.commit()
    rep = ops.import_trademarks(g60.jx_coord, _csv_text(exported).encode("utf-8-sig"))
    db.session.commit()
    assert (rep.total, rep.added, rep.rejected) == (2, 2, [])
    assert _rows(ops.trademarks_csv(g60.coord)) == exported


def _csv_text(rows) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue()


def test_trademarks_csv_round_trip_keeps_the_listing_date(g60):
    _listed(g60)
    db.session.execute(text("UPDATE key_trademark SET listed_on = :d"), {"d": dt.date(2025, 3, 15)})
    db.session.commit()
    exported = ops.trademarks_csv(g60.coord)
    db.session.execute(text("DELETE FROM key_trademark"))
    db.session.commit()
    ops.import_trademarks(g60.coord, exported.encode("utf-8"))
    db.session.commit()
    assert ops.trademarks_csv(g60.coord) == exported


def test_trademarks_csv_round_trip_of_a_mark_starting_with_at(g60):
    ops.add_trademark(g60.coord, tm_data(mark="@家"))
    db.session.commit()
    exported = ops.trademarks_csv(g60.coord)
    db.session.execute(text("DELETE FROM key_trademark"))
    db.session.commit()
    ops.import_trademarks(g60.coord, exported.encode("utf-8"))
    db.session.commit()
    assert db.session.scalar(select(KeyTrademark.mark)) == "@家"


def test_listed_trademarks_flags_a_case(g60, make_case):
    _listed(g60)
    case = make_case(user=g60.officer, trademark_numbers=["7654321", "5555555", "1111111"])
    assert case.trademark_numbers == "7654321,5555555,1111111"
    assert [t.reg_number for t in ops.listed_trademarks(case.trademark_numbers)] == ["7654321"]
    assert ops.listed_trademarks("") == []
    assert ops.listed_numbers({"1234567", "5555555", "42"}) == {"1234567"}
    other = make_case(user=g60.officer, trademark_numbers=["12345678"])  # not a prefix match
    assert ops.listed_trademarks(other.trademark_numbers) == []


# ----------------------------------------------------------------------------- completed count


def test_completed_count(g60):
    w = g60
    year = today_local().year
    done = ops.create_action(w.coord, action_data(w, name="今年完成的行动"))
    old = ops.create_action(w.coord, action_data(w, name="去年完成的行动",
                                                 participants=[str(w.jx.id)]))
    gone = ops.create_action(w.coord, action_data(w, name="取消的行动"))
    led_by_jx = ops.create_action(w.jx_coord, action_data(w, name="嘉兴牵头的行动",
                                                          participants=[str(w.amr.id)]))
    running = ops.create_action(w.coord, action_data(w, name="进行中的行动"))
    db.session.commit()
    for a, user in ((done, w.coord), (old, w.coord), (led_by_jx, w.jx_coord)):
        ops.complete_action(user, a, {"summary": SUMMARY})
    ops.cancel_action(w.coord, gone, {"summary": "上级通知暂停本次行动，另行安排。"})
    db.session.commit()
    db.session.execute(text("UPDATE joint_action SET completed_on = :d WHERE id = :i"),
                       {"d": dt.date(year - 1, 12, 31), "i": old.id})
    db.session.commit()
    assert running.state == "open" and gone.state == "cancelled"
    agencies = (w.amr, w.jx, w.culture, w.jd)
    assert [ops.completed_count(a.id, year) for a in agencies] == [2, 2, 1, 0]
    assert [ops.completed_count(a.id, year - 1) for a in agencies] == [1, 1, 0, 0]
    assert [ops.completed_count(a.id, year + 1) for a in agencies] == [0, 0, 0, 0]
