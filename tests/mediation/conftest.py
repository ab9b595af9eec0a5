import pytest


@pytest.fixture()
def ipo(world, make_agency, make_user):
    """The world plus the district IP office with staff and two mediators."""
    from caseflow.extensions import db
    from caseflow.mediation import operations as ops

    office = make_agency("sj-ipo", "ip_office", "上海市松江区知识产权局", "沪松知")
    world.ipo = office
    world.clerk = make_user(office, "clerk", ["case_officer"])
    world.clerk2 = make_user(office, "clerk2", ["approver"])
    world.mediator_a = ops.add_mediator(world.clerk, {"name": "王调解", "mediator_kind": "professional",
                                                      "expertise": "商标"})
    world.mediator_b = ops.add_mediator(world.clerk, {"name": "李志愿", "mediator_kind": "volunteer"})
    db.session.commit()
    return world


def request_data(**over) -> dict:
    from tests.conftest import valid_credit_code

    data = {"kind": "mediation", "requester_kind": "rights_holder", "requester_name": "上海某品牌有限公司",
            "requester_contact": "021-57001234", "respondent_name": "松江某商行",
            "respondent_code": valid_credit_code(3), "ip_type": "trademark",
            "summary": "被申请人在其门店销售标有申请人注册商标的商品，请求调解并停止销售。"}
    data.update(over)
    return data
