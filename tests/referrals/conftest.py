import pytest


@pytest.fixture()
def agencies(world, make_agency, make_user):
    """The world plus a police economic-crime unit (two), and the procuratorate."""
    police = make_agency("sj-police", "police_econ", "上海市公安局松江分局经济犯罪侦查支队", "沪公松经")
    police2 = make_agency("qp-police", "police_econ", "上海市公安局青浦分局经济犯罪侦查支队", "沪公青经")
    proc = make_agency("sj-proc", "procuratorate", "上海市松江区人民检察院", "沪松检")
    users = {
        "cop": make_user(police, "cop", ["case_officer"]),
        "cop_boss": make_user(police, "cop_boss", ["approver"]),
        "cop2": make_user(police2, "cop2", ["case_officer"]),
        "prosecutor": make_user(proc, "prosecutor", ["inspector"]),
    }
    for k, v in users.items():
        setattr(world, k, v)
    world.police, world.police2, world.proc = police, police2, proc
    return world


FULL_PACKAGE = {item: {"done": True} for item in
                ("transfer_letter", "investigation_report", "items_list", "inspection_report")}


@pytest.fixture()
def referral_of(agencies, drive):
    """A referral of a filed, over-threshold trademark case, prepared by the officer."""
    from caseflow.extensions import db
    from caseflow.referrals import operations as rops

    def make(case, package=FULL_PACKAGE, submit_to=None):
        r = rops.propose_referral(
            agencies.officer, case, team_ids=[agencies.officer.id, agencies.officer2.id],
            report="当事人销售假冒注册商标的商品，销售金额达六万元，涉嫌犯罪。", suspected_crime="214",
            police_agency_id=agencies.police.id, procuratorate_id=agencies.proc.id,
            package=package)
        db.session.commit()
        return r

    return make


def step(user, referral, action, **kw):
    from caseflow.extensions import db
    from caseflow.referrals import operations as rops

    rops.act(user, referral, action, **kw)
    db.session.commit()
    return referral
