import datetime as dt

import pytest

from caseflow.core.timeutil import today_local


@pytest.fixture()
def g60(world, make_agency, make_user):
    """The world plus coordinators, a Jiaxing agency (another G60 city) with its staff and a
    unit, and a Jiading agency that takes part in nothing."""
    from caseflow.accounts.models import Unit
    from caseflow.extensions import db

    world.amr.region = "上海市松江区"
    world.culture.region = "上海市松江区"
    jx = make_agency("jx-amr", "market_supervision", "嘉兴市市场监督管理局", "嘉市监")
    jx.region = "浙江省嘉兴市"
    jd = make_agency("jd-amr", "market_supervision", "上海市嘉定区市场监督管理局", "沪市监嘉处")
    jd.region = "上海市嘉定区"
    unit = Unit(agency_id=jx.id, name="稽查一中队")
    db.session.add(unit)
    db.session.commit()
    users = {
        "coord": make_user(world.amr, "coord", ["coordinator"]),
        "coord2": make_user(world.amr, "coord2", ["coordinator"]),
        "jx_coord": make_user(jx, "jx_coord", ["coordinator"]),
        "jx_insp": make_user(jx, "jx_insp", ["inspector"]),
        "jx_insp2": make_user(jx, "jx_insp2", ["inspector"]),
        "jd_coord": make_user(jd, "jd_coord", ["coordinator", "case_officer"]),
        "culture_coord": make_user(world.culture, "culture_coord", ["coordinator"]),
    }
    users["jx_insp"].unit_id = unit.id
    db.session.commit()
    for k, v in users.items():
        setattr(world, k, v)
    world.jx, world.jd, world.jx_unit = jx, jd, unit
    return world


def action_data(world, **over) -> dict:
    today = today_local()
    data = {"name": "2026年长三角G60知识产权联合执法“亮剑”行动", "kind": "g60",
            "period_start": (today - dt.timedelta(days=10)).isoformat(),
            "period_end": (today + dt.timedelta(days=60)).isoformat(),
            "objectives": "打击商标侵权和假冒专利。",
            "participants": [str(world.jx.id), str(world.culture.id)]}
    data.update(over)
    return data


@pytest.fixture()
def action(g60):
    """An open G60 action led by Songjiang AMR with Jiaxing AMR and the culture squad."""
    from caseflow.actions import operations as ops
    from caseflow.extensions import db

    a = ops.create_action(g60.coord, action_data(g60))
    db.session.commit()
    return a


def due(days: int = 20) -> str:
    return (today_local() + dt.timedelta(days=days)).isoformat()
