"""Dual-random inspections end to end: list, pools, plan, committed draw, results, public page."""
import datetime as dt
import io
import random

import pytest
from sqlalchemy import func, select

from caseflow.core.ids import make_credit_code
from caseflow.core.timeutil import today_local  # legal dates are Beijing dates
from caseflow.extensions import db
from caseflow.inspections import operations as ops
from caseflow.inspections.models import Business, Draw, ImportReport, Inspection

YEAR = today_local().year


@pytest.fixture()
def setup(world, make_user):
    """A manager (approver), four inspectors in the roster, an item, 60 businesses."""
    for n in range(4):
        make_user(world.amr, f"insp{n}", ["inspector"])
    rng = random.Random(7)
    rows = ["统一社会信用代码,名称,区,行业,信用风险分类,地址"]
    for i in range(60):
        rows.append(f"{make_credit_code(rng)},企业{i},松江区,{'批发' if i % 2 else '零售'},"
                    f"{'ABCD'[i % 4]},松江区某路{i}号")
    report = ops.import_businesses(world.approver, io.BytesIO(("\n".join(rows)).encode()), "r.csv")
    for n in range(4):
        ops.add_to_roster(world.approver, f"insp{n}", "行政执法证")
    item = ops.add_item(world.approver, {"code": "SJ-01", "name": "商标使用行为检查", "kind": "general",
                                         "ratio_cap": "0.5"})
    plan = ops.create_plan(world.approver, {"name": "年度双随机抽查计划",
                                            "period_start": f"{YEAR}-01-01",
                                            "period_end": f"{YEAR}-12-31"})
    db.session.commit()
    return world, report, item, plan


def test_import_reports_bad_rows_and_updates(world, make_user):
    good = make_credit_code(random.Random(1))
    data = "\ufeff统一社会信用代码,名称,信用风险分类\n" \
           f"{good},甲公司,A\n" \
           "11230500001755309E,校验错误公司,B\n" \
           f"{good},重复公司,B\n" \
           ",无代码公司,B\n" \
           f"{make_credit_code(random.Random(2))},,B\n" \
           f"{make_credit_code(random.Random(3))},风险错误公司,E\n"
    rep = ops.import_businesses(world.approver, io.BytesIO(data.encode()), "x.csv")
    db.session.commit()
    assert (rep.total, rep.imported, rep.rejected_count) == (6, 1, 5)
    assert [x["reason"] for x in rep.rejected] == ["bad_credit_code", "duplicate",
                                                   "missing_credit_code", "missing_name",
                                                   "bad_risk_class"]
    assert [x["line"] for x in rep.rejected] == [3, 4, 5, 6, 7]
    rep2 = ops.import_businesses(world.approver, io.BytesIO(
        f"统一社会信用代码,名称\n{good},甲公司（更名）\n".encode()), "y.csv")
    db.session.commit()
    assert (rep2.imported, rep2.updated) == (0, 1)
    assert db.session.scalar(select(Business.name)) == "甲公司（更名）"


def test_bad_header_imports_nothing(world):
    from caseflow.core.errors import InvalidInput

    with pytest.raises(InvalidInput):
        ops.import_businesses(world.approver, io.BytesIO("code,name\nx,y\n".encode()), "z.csv")
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Business)) == 0
    assert db.session.scalar(select(func.count()).select_from(ImportReport)) == 0


def test_plan_ratio_cap_and_validation(setup):
    from caseflow.core.errors import InvalidInput

    world, report, item, plan = setup
    with pytest.raises(InvalidInput) as exc:
        ops.add_plan_item(world.approver, plan, {"item_id": str(item.id), "ratio": "0.6",
                                                 "due_date": f"{YEAR}-06-30"})
    assert "ratio" in exc.value.errors  # above the general item's cap
    with pytest.raises(InvalidInput) as exc:
        ops.add_plan_item(world.approver, plan, {"item_id": str(item.id), "ratio": "0.1",
                                                 "inspectors_per_target": "1",
                                                 "due_date": f"{YEAR + 1}-06-30"})
    assert {"inspectors_per_target", "due_date"} <= set(exc.value.errors)


def test_commit_draw_verify_and_results(app, setup, login_as):
    world, report, item, plan = setup
    pi = ops.add_plan_item(world.approver, plan, {"item_id": str(item.id), "ratio": "0.1",
                                                  "ratio_D": "0.4", "due_date": f"{YEAR}-12-31"})
    # insp0 has a conflict with every class-D business: never drawn for them
    for b in db.session.scalars(select(Business).where(Business.risk_class == "D")):
        ops.declare_conflict(world.approver, b.credit_code, "亲属关系",
                             for_user=db.session.scalar(select(type(world.officer)).where(
                                 type(world.officer).username == "insp0")))
    d = ops.commit_draw(world.approver, pi)
    db.session.commit()
    assert d.state == "committed" and d.seed is None and len(d.population_hash) == 64
    assert d.quotas == {"A": 2, "B": 2, "C": 2, "D": 6}
    ops.run_draw(world.approver, d)
    db.session.commit()
    assert d.state == "drawn" and d.seed and ops.verify_draw(d) == []
    inspections = db.session.scalars(select(Inspection)).all()
    assert len(inspections) == 12
    for i in inspections:
        assert len(i.inspectors) == 2
        if i.business.risk_class == "D":
            assert "insp0" not in {u.username for u in i.inspectors}
    # tampering is detected by the replay
    recorded = d.result
    d.result = {"targets": list(reversed(recorded["targets"]))}
    db.session.commit()
    assert ops.verify_draw(d) == ["result_differs"]
    page = login_as(app.test_client(), "approver").get(f"/inspections/draws/{d.id}")
    assert "复核结果与记录结果不一致" in page.text  # shown translated on the page
    d.result = recorded
    db.session.commit()
    r = app.test_cli_runner().invoke(args=["caseflow", "draw", "verify", str(d.id)])
    assert r.exit_code == 0 and "OK" in r.output
    # the inspector drawn enters and publishes; another cannot
    insp = inspections[0]
    drawn = insp.inspectors[0]
    other = next(u for u in db.session.scalars(select(type(drawn))) if u not in insp.inspectors
                 and u.username.startswith("insp"))
    c_other = login_as(app.test_client(), other.username)
    r = c_other.post(f"/inspections/{insp.id}", data={"action": "result", "result": "未发现问题",
                                                      "inspected_on": today_local().isoformat()})
    assert r.status_code == 303
    c = login_as(app.test_client(), drawn.username)
    r = c.post(f"/inspections/{insp.id}", data={"action": "result", "result": "随便写",
                                                "inspected_on": "2099-01-01"})
    assert r.status_code == 422 and 'id="result-error"' in r.text and 'id="inspected_on-error"' in r.text
    assert c.post(f"/inspections/{insp.id}", data={
        "action": "result", "result": "发现问题已责令改正", "note": "责令改正",
        "inspected_on": today_local().isoformat()}).status_code == 302
    assert 'data-inspection' not in app.test_client().get("/public/inspections").text
    assert c.post(f"/inspections/{insp.id}", data={"action": "publish"}).status_code == 302
    page = app.test_client().get("/public/inspections").text
    assert f'data-inspection="{insp.id}"' in page and "发现问题已责令改正" in page
    assert app.test_client().get(f"/public/draws/{d.id}").status_code == 200
    # the draw counts toward the yearly target
    assert ops.yearly_progress(world.amr.id).done == 1


def test_roles_and_isolation(app, setup, login_as):
    world, report, item, plan = setup
    officer = login_as(app.test_client(), "officer")  # case officer: no plan management
    assert officer.post("/inspections/items", data={"code": "X", "name": "Y",
                                                    "kind": "key"}).status_code == 303
    other = login_as(app.test_client(), "other")  # another agency
    assert other.get(f"/inspections/plans/{plan.id}").status_code == 404
    assert str(plan.name) not in other.get("/inspections/").text


def test_screens_plan_commit_draw(app, setup, login_as):
    world, report, item, plan = setup
    boss = login_as(app.test_client(), "approver")
    page = boss.get("/inspections/")
    assert page.status_code == 200 and 'id="pace"' in page.text and "年度双随机抽查计划" in page.text
    r = boss.post("/inspections/items", data={"code": "", "name": "缺编码", "kind": "general"})
    assert r.status_code == 422 and 'id="code-error"' in r.text and "缺编码" in r.text
    r = boss.post("/inspections/plans", data={"plan_name": "专项计划", "period_start": f"{YEAR}-03-01",
                                              "period_end": f"{YEAR}-02-01"})
    assert r.status_code == 422 and 'id="period_end-error"' in r.text
    r = boss.post(f"/inspections/plans/{plan.id}", data={"item_id": str(item.id), "count": "5",
                                                         "inspectors_per_target": "2",
                                                         "due_date": f"{YEAR}-11-30"})
    assert r.status_code == 302
    page = boss.get(f"/inspections/plans/{plan.id}")
    pi = plan.items[0]
    assert f'data-plan-item="{pi.id}"' in page.text
    r = boss.post(f"/inspections/plan-items/{pi.id}/commit")
    assert r.status_code == 302
    d = db.session.scalar(select(Draw))
    page = boss.get(f"/inspections/draws/{d.id}")
    assert d.population_hash in page.text and d.seed_hash in page.text and 'id="seed"' not in page.text
    assert boss.post(f"/inspections/draws/{d.id}").status_code == 302
    page = boss.get(f"/inspections/draws/{d.id}")
    assert 'id="seed"' in page.text and page.text.count("data-inspection=") == 5
    assert boss.post(f"/inspections/draws/{d.id}").status_code == 303  # drawn once only


def test_inspection_reminders(app, setup):
    import time_machine

    from caseflow.inspections import reminders
    from caseflow.core.timeutil import today_local, utcnow

    world, report, item, plan = setup
    soon = today_local() + dt.timedelta(days=3)
    pi = ops.add_plan_item(world.approver, plan, {"item_id": str(item.id), "count": "2",
                                                  "due_date": min(soon, plan.period_end).isoformat()})
    d = ops.commit_draw(world.approver, pi)
    ops.run_draw(world.approver, d)
    db.session.commit()
    with app.test_request_context():
        specs = list(reminders.inspections_due(utcnow()))
    assert len(specs) == 4 and {s.kind for s in specs} == {"due_soon"}
    assert len({(s.key, s.user_id) for s in specs}) == 4
    later = dt.datetime.combine(soon + dt.timedelta(days=2), dt.time(12), dt.timezone.utc)
    with time_machine.travel(later, tick=False), app.test_request_context():
        specs = list(reminders.inspections_due(utcnow()))
    assert {s.kind for s in specs} == {"overdue"}


def test_other_agency_sees_no_draw_or_inspection(app, setup, login_as):
    world, report, item, plan = setup
    pi = ops.add_plan_item(world.approver, plan, {"item_id": str(item.id), "count": "3",
                                                  "due_date": f"{YEAR}-12-31"})
    d = ops.commit_draw(world.approver, pi)
    ops.run_draw(world.approver, d)
    db.session.commit()
    insp = db.session.scalar(select(Inspection))
    other = login_as(app.test_client(), "other")
    for url in (f"/inspections/plans/{plan.id}", f"/inspections/draws/{d.id}",
                f"/inspections/{insp.id}"):
        assert other.get(url).status_code == 404, url
    assert other.post(f"/inspections/draws/{d.id}").status_code == 404
    assert other.post(f"/inspections/plan-items/{pi.id}/commit").status_code == 404
    assert other.post(f"/inspections/{insp.id}", data={"action": "publish"}).status_code == 404
    # the public draw page is public by design: commitment, seed, population of credit codes
    assert app.test_client().get(f"/public/draws/{d.id}").status_code == 200


def test_joint_inspection_each_agency_draws_its_own_inspectors(app, setup, make_user, login_as):
    """联合抽查: the lead draws the businesses, the participant draws its inspectors."""
    world, report, item, plan = setup
    for n in range(3):
        make_user(world.culture, f"cul{n}", ["inspector"])
    boss2 = make_user(world.culture, "culture_boss", ["approver"])
    for n in range(3):
        ops.add_to_roster(boss2, f"cul{n}", "文化执法证")
    ops.add_participant(world.approver, plan, world.culture.id)
    pi = ops.add_plan_item(world.approver, plan, {"item_id": str(item.id), "count": "4",
                                                  "due_date": f"{YEAR}-12-31"})
    lead = ops.commit_draw(world.approver, pi)
    db.session.commit()
    assert ops.joint_draws_to_staff(boss2) == []  # nothing before the lead has drawn
    ops.run_draw(world.approver, lead)
    db.session.commit()
    assert ops.joint_draws_to_staff(boss2) == [lead]
    # the participant's conflict is honoured (declared against the lead's directory entry)
    target = lead.result["targets"][0]["code"]
    cul0 = db.session.scalar(select(type(world.officer)).where(type(world.officer).username == "cul0"))
    from caseflow.inspections.models import Conflict

    db.session.add(Conflict(user_id=cul0.id, business_id=db.session.scalar(
        select(Business.id).where(Business.credit_code == target)), reason="亲属"))
    db.session.commit()
    culture = login_as(app.test_client(), "culture_boss")
    page = culture.get("/inspections/")
    assert f'data-joint="{lead.id}"' in page.text
    r = culture.post(f"/inspections/draws/{lead.id}/join")
    assert r.status_code == 302
    child = db.session.scalar(select(Draw).where(Draw.parent_draw_id == lead.id))
    assert child.agency_id == world.culture.id and child.population_size == 4
    assert culture.post(f"/inspections/draws/{child.id}").status_code == 302
    db.session.expire_all()
    child = db.session.get(Draw, child.id)
    assert ops.verify_draw(child) == []
    for insp in db.session.scalars(select(Inspection).where(Inspection.draw_id == lead.id)):
        agencies = [u.agency_id for u in insp.inspectors]
        assert agencies.count(world.amr.id) == 2 and agencies.count(world.culture.id) == 2
        if insp.business.credit_code == target:
            assert "cul0" not in {u.username for u in insp.inspectors}
    assert ops.joint_draws_to_staff(db.session.get(type(boss2), boss2.id)) == []
    # a participant's inspector can open and fill the lead's inspection
    insp = db.session.scalar(select(Inspection).where(Inspection.draw_id == lead.id))
    cul = next(u for u in insp.inspectors if u.agency_id == world.culture.id)
    c = login_as(app.test_client(), cul.username)
    assert c.get(f"/inspections/{insp.id}").status_code == 200
    # an agency that does not take part sees none of it
    other = login_as(app.test_client(), "officer2")
    assert 'data-joint' not in other.get("/inspections/").text


def test_population_is_the_active_filtered_directory_sorted(setup):
    """eligible(): every active business matching the item's filters, sorted by code, as the
    plain query gives it — also when a code would hold the separator of the fast path."""
    world, report, item, plan = setup
    rng = random.Random(11)
    extra = [Business(agency_id=world.amr.id, credit_code=make_credit_code(rng), name=f"停业{i}",
                      district="松江区", industry="批发", risk_class="ABCD"[i % 4], active=False)
             for i in range(5)]
    extra.append(Business(agency_id=world.culture.id, credit_code=make_credit_code(rng), name="他局",
                          district="松江区", industry="批发", risk_class="A"))
    db.session.add_all(extra)
    db.session.flush()

    def plain(f):
        stmt = select(Business.credit_code, Business.risk_class).where(
            Business.agency_id == world.amr.id, Business.active.is_(True))
        for col in ("district", "industry"):
            if f.get(col):
                stmt = stmt.where(getattr(Business, col) == f[col])
        if f.get("classes"):
            stmt = stmt.where(Business.risk_class.in_(f["classes"]))
        return sorted(tuple(row) for row in db.session.execute(stmt))

    filters = [{}, {"industry": "批发"}, {"district": "松江区", "industry": "零售"},
               {"district": "松江区", "industry": "批发", "classes": ["C", "D"]},
               {"district": "别处"}]
    for f in filters:
        pi = ops.add_plan_item(world.approver, plan, {
            "item_id": str(item.id), "ratio": "0.1", "due_date": f"{YEAR}-12-31",
            "district": f.get("district", ""), "industry": f.get("industry", ""),
            "classes": f.get("classes", [])})
        assert pi.filters == {"district": "", "industry": "", "classes": [], **f}
        pop = ops.eligible(pi)
        assert pop == plain(f) and all(type(p) is tuple for p in pop)
        assert len(pop) == {0: 60, 1: 30, 2: 30, 3: 15, 4: 0}[filters.index(f)]
    # a code holding a newline (never from the register): still exactly the directory
    db.session.add(Business(agency_id=world.amr.id, credit_code="91310000\n12345678", name="怪",
                            district="松江区", industry="批发", risk_class="B"))
    db.session.flush()
    pi.filters = {"industry": "批发"}
    pop = ops.eligible(pi)
    assert pop == plain(pi.filters) and ("91310000\n12345678", "B") in pop


def test_draw_stores_the_same_snapshot_and_schedules_in_result_order(setup):
    """The population is stored as the same JSON text as before (published draws replay),
    and run_draw returns the inspections in the result's order with its inspectors."""
    import json

    from sqlalchemy import Text, cast

    world, report, item, plan = setup
    pi = ops.add_plan_item(world.approver, plan, {"item_id": str(item.id), "count": "9",
                                                  "due_date": f"{YEAR}-12-31"})
    d = ops.commit_draw(world.approver, pi)
    db.session.commit()
    codes = db.session.execute(select(Business.credit_code, Business.risk_class).where(
        Business.agency_id == world.amr.id)).all()
    expected = sorted([c, k] for c, k in codes)
    stored = db.session.scalar(select(cast(Draw.__table__.c.population, Text)).where(Draw.id == d.id))
    assert stored == json.dumps(expected)
    inspections = ops.run_draw(world.approver, d)
    db.session.commit()
    targets = d.result["targets"]
    assert len(targets) == 9 and len(inspections) == 9
    for insp, t in zip(inspections, targets):
        assert insp.business.credit_code == t["code"] and insp.draw_id == d.id
        assert insp.state == "scheduled" and insp.due_date == pi.due_date and insp.note == ""
        assert sorted(u.username for u in insp.inspectors) == sorted(t["inspectors"])
    db.session.expire_all()
    d = db.session.get(Draw, d.id)
    assert d.population == expected and ops.verify_draw(d) == []
