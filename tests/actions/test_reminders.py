"""Joint-action reminders: tasks due soon and overdue, reports waiting for verification."""
import datetime as dt

from caseflow.actions import operations as aops
from caseflow.extensions import db
from caseflow.reminders import operations as rops
from tests.actions.conftest import due
from tests.reminders.test_reminders import at_local, rows


def _assign(g60, action, token, days=5, title="排查市场"):
    (task,) = aops.assign_tasks(g60.coord, action, {"title": title, "due_on": due(days),
                                                    "assignees": [token]})
    db.session.commit()
    return task


def test_task_due_soon_reminds_the_unit_and_agency_leads_once(g60, action):
    task = _assign(g60, action, f"unit:{g60.jx_unit.id}")
    now = at_local(task.due_on - dt.timedelta(days=2))
    rops.generate_all(now)
    rops.generate_all(now)  # a second pass (or a second scheduler) adds nothing
    got = [r for r in rows() if r.key.startswith(f"task:{task.id}:")]
    # the unit's inspector and the Jiaxing coordinator; not jx_insp2 (another unit)
    assert sorted(r.user_id for r in got) == sorted([g60.jx_insp.id, g60.jx_coord.id])
    assert {r.kind for r in got} == {"due_soon"}
    assert all(r.link == f"/actions/tasks/{task.id}" for r in got)
    assert all(task.title in r.subject for r in got)


def test_overdue_task_also_reminds_the_lead_coordinators(g60, action):
    task = _assign(g60, action, f"user:{g60.jx_insp2.id}")
    now = at_local(task.due_on + dt.timedelta(days=1))
    rops.generate_all(now)
    got = {(r.user_id, r.kind) for r in rows() if r.key.startswith(f"task:{task.id}:overdue")}
    assert got == {(g60.jx_insp2.id, "overdue"), (g60.jx_coord.id, "overdue"),
                   (g60.coord.id, "overdue"), (g60.coord2.id, "overdue")}


def test_finished_task_is_not_reminded(g60, action):
    task = _assign(g60, action, f"agency:{g60.jx.id}")
    aops.task_action(g60.jx_coord, task, "decline", {"reason": "不属本局管辖"})
    db.session.commit()
    rops.generate_all(at_local(task.due_on + dt.timedelta(days=3)))
    assert not [r for r in rows() if r.key.startswith(f"task:{task.id}:")]


def test_report_waiting_reminds_lead_coordinators_but_not_the_submitter(g60, action):
    task = _assign(g60, action, f"agency:{g60.amr.id}", days=30)
    aops.task_action(g60.coord, task, "accept", {})
    report = aops.submit_report(g60.coord, task, {"places_inspected": "4", "narrative": "检查四户"})
    db.session.commit()
    rops.generate_all(at_local(task.due_on - dt.timedelta(days=20)))
    got = [r for r in rows() if r.key == f"task:{task.id}:verify:{report.id}"]
    assert [r.user_id for r in got] == [g60.coord2.id]
