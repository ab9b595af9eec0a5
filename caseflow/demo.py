"""Demo data for the Songjiang district: agencies, one user per role, cases in every state.

Cases are driven through the real operations with back-dated steps, so their timelines,
numbers and clocks are exactly what the workflow would have produced.
"""
from __future__ import annotations

import datetime as dt
import random
import secrets
from decimal import Decimal
from pathlib import Path

from flask import current_app

from caseflow.accounts.operations import create_agency, create_user
from caseflow.cases import operations as ops
from caseflow.cases.schemas import ClueIn, OfficersIn, TransitionIn
from caseflow.core import ids
from caseflow.core.timeutil import LOCAL_TZ, today_local
from caseflow.extensions import db

AGENCIES = [
    ("sj-amr", "market_supervision", "上海市松江区市场监督管理局", "沪市监松处"),
    ("sj-police", "police_econ", "上海市公安局松江分局经济犯罪侦查支队", "沪公松经"),
    ("sj-culture", "cultural_enforcement", "上海市松江区文化市场行政执法大队", "沪松文执"),
    ("sj-ipo", "ip_office", "上海市松江区知识产权局", "沪松知"),
    ("sj-procuratorate", "procuratorate", "上海市松江区人民检察院", "沪松检"),
    ("sj-joint", "joint_office", "松江区知识产权工作联席会议办公室", "沪松知联"),
]

#: agencies of other G60 cities (cross-region actions), with their region
G60_AGENCIES = [
    ("jx-amr", "market_supervision", "嘉兴市市场监督管理局", "嘉市监", "浙江省嘉兴市"),
    ("sz-amr", "market_supervision", "苏州市市场监督管理局", "苏市监", "江苏省苏州市"),
]

USERS = [
    # username, agency, roles, display name
    ("sj_inspector", "sj-amr", ["inspector"], "王建国（执法人员）"),
    ("sj_officer", "sj-amr", ["case_officer", "inspector"], "李敏（承办人）"),
    ("sj_officer2", "sj-amr", ["case_officer", "inspector"], "陈志强（承办人）"),
    ("sj_reviewer", "sj-amr", ["legal_reviewer"], "赵丽华（法制审核）"),
    ("sj_approver", "sj-amr", ["approver"], "周海峰（负责人）"),
    ("sj_coordinator", "sj-amr", ["coordinator"], "吴静（协调员）"),
    ("sj_publisher", "sj-amr", ["publisher"], "孙悦（信用公示员）"),
    ("sj_agency_admin", "sj-amr", ["agency_admin"], "郑伟（单位管理员）"),
    ("sj_sysadmin", "sj-amr", ["sys_admin"], "系统管理员"),
    ("sj_secadmin", "sj-amr", ["sec_admin"], "安全管理员"),
    ("sj_auditor", "sj-amr", ["auditor"], "审计管理员"),
    ("police_officer", "sj-police", ["case_officer", "inspector"], "刘洋（经侦）"),
    ("police_approver", "sj-police", ["approver"], "黄涛（经侦负责人）"),
    ("culture_officer", "sj-culture", ["case_officer", "inspector"], "许诺（文化执法）"),
    ("culture_officer2", "sj-culture", ["case_officer", "inspector"], "高原（文化执法）"),
    ("culture_approver", "sj-culture", ["approver"], "马骏（文化执法负责人）"),
    ("culture_reviewer", "sj-culture", ["legal_reviewer"], "邓琳（法制审核）"),
    ("ipo_officer", "sj-ipo", ["case_officer", "inspector"], "林晓（知识产权局）"),
    ("procurator", "sj-procuratorate", ["inspector"], "何平（检察官）"),
    ("joint_office", "sj-joint", ["coordinator"], "蒋文（联席会议办公室）"),
    ("jx_coordinator", "jx-amr", ["coordinator"], "沈佳（嘉兴协调员）"),
    ("jx_inspector", "jx-amr", ["inspector", "case_officer"], "钱程（嘉兴执法人员）"),
    ("sz_inspector", "sz-amr", ["inspector", "case_officer"], "顾磊（苏州执法人员）"),
]

BRANDS = ["耐克", "阿迪达斯", "香奈儿", "路易威登", "华为", "小米", "茅台", "五粮液", "迪士尼",
          "乐高", "苹果", "佳能", "博世", "松江大米", "泗泾米酒", "佘山兰笋"]
GOODS = ["运动鞋", "手提包", "手机配件", "白酒", "玩具", "服装", "化妆品", "电动工具", "大米",
         "耳机", "打印耗材", "图书"]
PLACES = ["松江区中山街道中山中路", "松江区九亭镇沪亭北路", "松江区泗泾镇江川北路", "松江区新桥镇新站路",
          "松江区洞泾镇长兴路", "松江区车墩镇影佳路", "松江区方松街道文诚路", "松江区广富林街道龙源路",
          "松江区小昆山镇", "松江区石湖荡镇", "松江区叶榭镇叶政路", "松江区佘山镇外青松公路"]
SHOPS = ["商贸有限公司", "服饰商行", "电子经营部", "酒业有限公司", "百货店", "贸易有限公司",
         "网络科技有限公司", "日用品批发部"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "勇", "军", "杰", "涛", "明", "超", "霞"]
IP_KIND = {
    "trademark": ("销售假冒注册商标的商品", "trademark"),
    "copyright": ("销售侵权复制品", "copyright"),
    "patent": ("假冒专利", "patent"),
    "geographical_indication": ("擅自使用地理标志", "geographical_indication"),
    "commercial_mark_confusion": ("擅自使用他人有一定影响的商品名称", "commercial_mark_confusion"),
    "trade_secret": ("侵犯商业秘密", "trade_secret"),
}

# Paths through the workflow; each case follows one for a random number of steps.
HAPPY = ["accept", "file", "investigate", "submit_review", "pass_review", "notify",
         "record_statement", "decide_penalty", "serve", "record_payment", "close"]
PATHS = [
    (HAPPY, 55),
    (["accept", "reject", "notify_reporter"], 10),
    (["accept", "file", "investigate", "submit_review", "pass_review", "notify", "request_hearing",
      "conclude_hearing", "pass_review", "decide_penalty", "serve", "record_payment", "close"], 8),
    (["accept", "file", "investigate", "notify", "record_statement", "decide_no_penalty", "close"], 8),
    (["accept", "file", "investigate", "suspend", "resume", "submit_review", "pass_review", "notify"], 6),
    (["accept", "extend_verification", "file", "investigate", "extend_decision", "pause_clock",
      "resume_clock", "submit_review"], 6),
    (["accept", "file", "investigate", "terminate"], 4),
    (["accept", "file", "investigate", "suspend"], 3),
]

#: cases over a criminal threshold: referred (filed, declined and returned, or pending at the
#: police), or — the 以罚代刑 the procuratorate watches — decided with a written reason
OVER_PATHS = [
    (["accept", "file", "investigate", "@refer_filed"], 35),
    (["accept", "file", "investigate", "@refer_declined", "notify", "record_statement",
      "decide_penalty", "serve", "record_payment", "close"], 30),
    (["accept", "file", "investigate", "@refer_sent"], 30),
    (HAPPY, 15),
]
FINAL_STEPS = {"close", "notify_reporter", "terminate", "@refer_filed"}
_CTX: dict = {}
LOGIN_FILE = "demo_logins.txt"


def _name(rng) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(["", *GIVEN])


def seed_demo(n_cases: int = 300, seed: int = 2026) -> list[tuple]:
    rng = random.Random(seed)
    agencies = {}
    for code, kind, name, prefix in AGENCIES:
        agencies[code] = create_agency(code, kind, name, prefix, region="上海市松江区",
                                       credit_code=ids.make_credit_code(rng, "310117", "11"))
    for code, kind, name, prefix, region in G60_AGENCIES:
        agencies[code] = create_agency(code, kind, name, prefix, region=region,
                                       credit_code=ids.make_credit_code(rng, "330400", "11"))
    logins = []
    users = {}
    for username, agency, roles, display in USERS:
        password = "Cf-" + secrets.token_urlsafe(9)
        users[username] = create_user(agencies[agency], username, password, roles, display)
        logins.append((username, password, agency, ",".join(roles)))
    db.session.flush()
    _write_logins(logins)

    global _CTX
    _CTX = {"police": users["police_officer"], "police_boss": users["police_approver"],
            "police_agency": agencies["sj-police"], "proc": agencies["sj-procuratorate"]}
    amr_officers = [users["sj_officer"], users["sj_officer2"]]
    culture_officers = [users["culture_officer"], users["culture_officer2"]]
    approvers = {"sj-amr": users["sj_approver"], "sj-culture": users["culture_approver"]}
    today = today_local()
    for i in range(n_cases):
        culture = i % 5 == 4
        officers = culture_officers if culture else amr_officers
        agency = "sj-culture" if culture else "sj-amr"
        creator = users["sj_inspector"] if (not culture and i % 3 == 0) else officers[i % 2]
        received = today - dt.timedelta(days=rng.randint(0, 640))
        reviewer = users["culture_reviewer" if culture else "sj_reviewer"]
        _seed_case(rng, creator, officers, approvers[agency], reviewer, received, today, culture)
        if i % 50 == 49:
            db.session.flush()
    _seed_decisions(rng, users, today)
    _seed_inspections(rng, users, today)
    _seed_actions(rng, users, agencies, today)
    _seed_mediation(rng, users, today)
    return logins


def _seed_mediation(rng, users, today):
    """The IP office's mediator roster and requests at every stage."""
    from caseflow.mediation import operations as mops

    clerk = users["ipo_officer"]
    wang = mops.add_mediator(clerk, {"name": "王立新（律师）", "mediator_kind": "professional",
                                     "expertise": "商标、不正当竞争"})
    mops.add_mediator(clerk, {"name": "陈静（志愿者）", "mediator_kind": "volunteer", "expertise": "专利"})
    base = {"requester_kind": "rights_holder", "requester_contact": "021-57001234",
            "ip_type": "trademark", "summary": "被申请人销售标有申请人注册商标的商品，申请人请求调解，要求停止销售并赔偿损失。"}
    for i, stage in enumerate(["received", "accepted", "mediating", "agreement", "rejected"]):
        req = mops.register(clerk, {**base, "kind": "mediation", "channel": "counter",
                                    "received_on": today.isoformat(),
                                    "requester_name": f"上海{rng.choice(BRANDS)}贸易有限公司",
                                    "respondent_name": f"{rng.choice(PLACES)[3:7]}{rng.choice(SHOPS)}",
                                    "respondent_code": ids.make_credit_code(rng)})
        if stage == "rejected":
            mops.decide(clerk, req, "reject", {"reason": "不属于知识产权纠纷，建议向人民法院起诉。"})
            continue
        if stage == "received":
            continue
        mops.decide(clerk, req, "accept", {"jurisdiction": "1"})
        if stage == "accepted":
            continue
        mops.assign_mediator(clerk, req, {"mediator_id": str(wang.id)})
        if stage == "agreement":
            mops.record_session(clerk, req, {"held_on": today.isoformat(), "place": "临港松江科技城工作站",
                                             "present": "申请人代理人、被申请人负责人"})
            mops.close(clerk, req, "agreement", {"terms": "一、被申请人立即停止销售侵权商品；二、被申请人赔偿申请人经济损失人民币五千元。"})
    db.session.flush()


KEY_TRADEMARKS = [  # registration number, mark, holder, classes, city
    ("1234567", "佘山兰笋", "上海佘山农业专业合作社", "29,31", "松江"),
    ("2345678", "泗泾米酒", "上海泗泾酿造有限公司", "33", "松江"),
    ("3456789", "五芳斋", "浙江五芳斋实业股份有限公司", "30", "嘉兴"),
    ("4567890", "苏绣", "苏州刺绣行业协会", "24,26", "苏州"),
]


def _seed_actions(rng, users, agencies, today):
    """The shared key-trademark list, a completed special action and an open G60 action with
    tasks in every state."""
    from caseflow.actions import operations as aops
    from caseflow.actions.models import KeyTrademark

    for number, mark, holder, classes, city in KEY_TRADEMARKS:
        db.session.add(KeyTrademark(reg_number=number, mark=mark, holder=holder, classes=classes,
                                    city=city, listed_on=today - dt.timedelta(days=90),
                                    listed_by_agency_id=agencies["sj-amr"].id))
    coord, jx_coord = users["sj_coordinator"], users["jx_coordinator"]
    start = max(dt.date(today.year, 1, 1), today - dt.timedelta(days=45))
    done = aops.create_action(coord, {
        "name": f"{today.year}年“铁拳”农资打假专项行动", "kind": "special",
        "period_start": start.isoformat(), "period_end": (today + dt.timedelta(days=10)).isoformat(),
        "objectives": "清查农资市场，打击假冒伪劣农资和商标侵权。",
        "participants": [str(agencies["sj-culture"].id)]})
    (task,) = aops.assign_tasks(coord, done, {"title": "农资市场全面排查", "due_on": (
        today + dt.timedelta(days=5)).isoformat(), "assignees": [f"user:{users['sj_officer'].id}"]})
    aops.task_action(users["sj_officer"], task, "accept", {})
    aops.submit_report(users["sj_officer"], task, {"places_inspected": "46", "cases_filed": "3",
                                                   "goods_seized": "520", "goods_value": "86400",
                                                   "narrative": "排查农资经营户46户，立案3起。", "final": "1"})
    aops.review_report(coord, task, "verify", {})
    aops.complete_action(coord, done, {"summary": "行动期间检查农资经营户46户，立案3起，查扣假冒化肥520袋。"})

    g60 = aops.create_action(coord, {
        "name": f"{today.year}年长三角G60科创走廊知识产权联合执法行动", "kind": "g60",
        "period_start": (today - dt.timedelta(days=20)).isoformat(),
        "period_end": (today + dt.timedelta(days=70)).isoformat(),
        "objectives": "聚焦重点商标保护名录商标，联合打击跨区域制售假冒商品。",
        "participants": [str(agencies[c].id) for c in ("jx-amr", "sz-amr", "sj-culture")]})
    market = aops.add_target(coord, g60, {"kind": "market", "target_name": "松江九亭小商品市场",
                                          "target_detail": "松江区九亭镇沪亭北路"})
    aops.add_target(coord, g60, {"kind": "trademark", "reg_number": "3456789"})
    aops.add_target(coord, g60, {"kind": "platform", "target_name": "某电商平台“五芳斋”相关网店",
                                 "target_detail": "https://shop.example.cn/"})
    due = (today + dt.timedelta(days=30)).isoformat()
    tasks = aops.assign_tasks(coord, g60, {
        "title": "重点市场商标侵权排查", "due_on": due, "target_id": str(market.id),
        "assignees": [f"agency:{agencies[c].id}" for c in ("jx-amr", "sz-amr", "sj-culture")]
        + [f"user:{users['sj_officer2'].id}"]})
    jx_task, sz_task, culture_task, own_task = tasks
    aops.task_action(users["jx_inspector"], jx_task, "accept", {})
    aops.submit_report(users["jx_inspector"], jx_task, {
        "places_inspected": "28", "cases_filed": "2", "goods_seized": "1300", "goods_value": "152000",
        "referrals": "1", "narrative": "检查嘉兴市场经营户28户，查获假冒“五芳斋”粽子1300盒。"})
    aops.review_report(coord, jx_task, "verify", {})
    aops.task_action(users["sz_inspector"], sz_task, "accept", {})
    aops.submit_report(users["sz_inspector"], sz_task, {
        "places_inspected": "15", "narrative": "已检查15户，未发现问题。"})
    aops.task_action(users["culture_approver"], culture_task, "decline",
                     {"reason": "本队负责版权，建议改派市场监管部门。"})
    aops.task_action(users["sj_officer2"], own_task, "accept", {})
    # cases opened during the action are linked to it (its figures count them); one concerns
    # a listed key trademark and is flagged
    for who, place, number in ((users["jx_inspector"], "嘉兴市南湖区中山东路", "3456789"),
                               (users["sj_officer2"], "松江区九亭镇沪亭北路", "")):
        party = {"kind": "business", "name": place[3:7] + rng.choice(SHOPS),
                 "credit_code": ids.make_credit_code(rng), "address": place}
        ops.create_clue(who, ClueIn(
            title=f"{party['name']}涉嫌销售假冒注册商标的商品（联合执法发现）", channel="inspection",
            ip_type="trademark", received_at=today - dt.timedelta(days=rng.randint(0, 10)),
            description="联合执法行动中现场检查发现。", location=place,
            infringement_kind="销售假冒注册商标的商品",
            trademark_numbers=[number] if number else [], joint_action_id=g60.id,
            parties=[party], goods=[{"name": "粽子礼盒", "quantity": "300", "unit": "盒",
                                     "value": "36000"}],
            amounts={"illegal_business_volume": Decimal("36000")}))
    db.session.flush()


def _seed_inspections(rng, users, today):
    """The market-supervision bureau's list and pools, a plan, one item drawn, some results."""
    import io

    from caseflow.inspections import operations as iops

    boss = users["sj_approver"]
    rows = ["统一社会信用代码,名称,区,行业,信用风险分类,地址"]
    for i in range(240):
        place = rng.choice(PLACES)
        rows.append(f"{ids.make_credit_code(rng)},{place[3:7]}{rng.choice(SHOPS)}{i},松江区,"
                    f"{rng.choice(['批发', '零售', '餐饮', '电子商务'])},"
                    f"{rng.choice('AAABBBBCCD')},{place}{rng.randint(1, 999)}号")
    iops.import_businesses(boss, io.BytesIO("\n".join(rows).encode()), "松江区企业信用登记.csv")
    for name in ("sj_inspector", "sj_officer", "sj_officer2"):
        iops.add_to_roster(boss, name, "行政执法证")
    key = iops.add_item(boss, {"code": "SJ-ZS-01", "name": "商标使用行为检查", "kind": "key",
                               "basis": "《中华人民共和国商标法》第五十七条"})
    iops.add_item(boss, {"code": "SJ-YB-02", "name": "企业公示信息检查", "kind": "general",
                         "ratio_cap": "0.05", "basis": "《企业信息公示暂行条例》"})
    plan = iops.create_plan(boss, {"name": f"{today.year}年度双随机抽查计划",
                                   "period_start": f"{today.year}-01-01",
                                   "period_end": f"{today.year}-12-31"})
    due = min(today + dt.timedelta(days=20), dt.date(today.year, 12, 31))
    pi = iops.add_plan_item(boss, plan, {"item_id": str(key.id), "ratio": "0.03", "ratio_C": "0.1",
                                         "ratio_D": "0.2", "due_date": due.isoformat()})
    draw = iops.commit_draw(boss, pi)
    inspections = iops.run_draw(boss, draw)
    for insp in inspections[: len(inspections) // 2]:
        who = insp.inspectors[0]
        iops.enter_result(who, insp, rng.choice(["未发现问题", "未发现问题", "发现问题已责令改正"]),
                          "", today)
        iops.publish_result(who, insp)


def _seed_decisions(rng, users, today):
    """Decision documents for decided cases, most of them published (the public page)."""
    from sqlalchemy import select

    from caseflow.cases.models import Case
    from caseflow.core.errors import CaseFlowError
    from caseflow.penalties import operations as pops

    db.session.flush()
    publishers = {"sj-amr": users["sj_publisher"]}
    seq: dict = {}
    for case in db.session.scalars(select(Case).where(Case.state.in_(pops.DECIDED_STATES))
                                   .order_by(Case.id)):
        officer = next((o for o in case.officers if o.has_role("case_officer")), None)
        if officer is None or not pops.can_record(officer, case):
            continue
        data = pops.defaults_for(case)
        year = dt.date.fromisoformat(data["decision_date"]).year
        agency = case.owner_agency
        seq[(agency.id, year)] = seq.get((agency.id, year), 0) + 1
        party = case.parties[0] if case.parties else None
        data.update(
            number=f"{agency.case_prefix.replace('处', '')}罚〔{year}〕{seq[(agency.id, year)]}号",
            basis="《中华人民共和国商标法》第五十七条第（三）项、第六十条第二款",
            violation_type=case.infringement_kind or "侵犯知识产权",
            facts=case.description or case.title,
            legal_rep=_name(rng) if party and party.kind == "business" else "",
            content=data["content"] or "没收侵权商品，并处罚款。")
        try:
            d = pops.record_decision(officer, case, data)
        except CaseFlowError:
            continue
        publisher = publishers.get(agency.code)
        if publisher is None or rng.random() < 0.15:
            continue  # some still wait in the queue
        published = min(today, d.decision_date + dt.timedelta(days=rng.randint(1, 6)))
        try:
            pops.publish(publisher, d, "platform", published)
        except CaseFlowError:
            pass
        try:
            pops.publish(publisher, d, "enterprise", published)
        except CaseFlowError:
            pass


def _seed_case(rng, creator, officers, approver, reviewer, received, today, culture):
    ip_type = "copyright" if culture else rng.choice(
        ["trademark"] * 6 + ["patent", "geographical_indication", "commercial_mark_confusion",
                             "trade_secret", "copyright"])
    brand = rng.choice(BRANDS)
    goods = "盗版图书" if culture else rng.choice(GOODS)
    place = rng.choice(PLACES) + f"{rng.randint(1, 999)}号"
    business = rng.random() < 0.75
    party = ({"kind": "business", "name": place[3:7] + rng.choice(SHOPS),
              "credit_code": ids.make_credit_code(rng), "address": place}
             if business else
             {"kind": "person", "name": _name(rng), "id_number": ids.make_id_number(rng),
              "address": place})
    channel = rng.choice(["complaint", "report", "report", "inspection", "inspection",
                          "hotline_12315", "online_monitoring", "rights_holder", "agency_transfer"])
    # About one case in seven meets a criminal threshold: most of those are referred.
    over = rng.random() < 0.15
    volume = Decimal(rng.randint(60000, 400000) if over else rng.randint(500, 40000))
    copies = (rng.randint(600, 3000) if over else rng.randint(20, 400)) if ip_type == "copyright" else 0
    data = ClueIn(
        title=f"{party['name']}涉嫌{IP_KIND[ip_type][0]}（{brand}{goods}）",
        channel=channel, ip_type=ip_type, received_at=received,
        description=f"{'权利人' if channel == 'rights_holder' else '举报人'}反映，{party['name']}在"
                    f"{place}经营场所销售标有“{brand}”字样的{goods}，涉嫌{IP_KIND[ip_type][0]}。",
        location=place, infringement_kind=IP_KIND[ip_type][0],
        reporter_name=_name(rng) if channel in ("complaint", "report") and rng.random() < 0.8 else "",
        is_major=volume > 200000,
        parties=[party],
        amounts={"illegal_business_volume": volume,
                 "illegal_gains": (volume * Decimal("0.3")).quantize(Decimal("1")),
                 "sales_amount": (volume * Decimal("0.8")).quantize(Decimal("1")),
                 "unsold_goods_value": (volume * Decimal("0.2")).quantize(Decimal("1")),
                 "copies": copies},
    )
    # Older cases have mostly run their course to an end; recent ones are anywhere along the way.
    old = (today - received).days > 120
    choices = OVER_PATHS if over and ip_type not in ("geographical_indication",
                                                     "commercial_mark_confusion") else PATHS
    paths = [(p, w) for p, w in choices if not old or p[-1] in FINAL_STEPS]
    path = rng.choices([p for p, _ in paths], weights=[w for _, w in paths])[0]
    steps = len(path) if old and rng.random() < 0.92 else rng.randint(0, len(path))
    if "@refer_sent" in path:
        steps = len(path)  # the police have these on their board now
    if "submit_review" not in path:
        data.is_major = False  # a major case always goes through legal review (§58)
    case = ops.create_clue(creator, data)
    ops.assign_officers(officers[0], case, OfficersIn(version=case.version,
                                                      officer_ids=[o.id for o in officers]))
    case.events[-1].effective_on = received  # officers were assigned when the clue came in
    case.created_at = dt.datetime.combine(received, dt.time(9, rng.randint(0, 59)),
                                          LOCAL_TZ).astimezone(dt.timezone.utc)
    day = received
    for action in path[:steps]:
        gap = {"record_statement": (1, 12), "request_hearing": (1, 3)}.get(action, (1, 9))
        day = day + dt.timedelta(days=rng.randint(*gap))
        if day > today:
            break
        if not _step(rng, case, action, day, officers[0], approver, reviewer,
                     hearing="request_hearing" in path):
            break
    minute = 0
    for ev in case.events:  # recorded during office hours of the day each step happened
        minute += rng.randint(5, 40)
        ev.at = dt.datetime.combine(ev.effective_on, dt.time(9 + min(minute // 60, 8), minute % 60),
                                    LOCAL_TZ).astimezone(dt.timezone.utc)
    ops.refresh_due(case)


def _refer(rng, case, outcome, day, officer, approver) -> bool:
    """Run a referral through the real operations, then date its steps from ``day``."""
    from caseflow.referrals import operations as rops

    team = [o.id for o in case.officers]
    r = rops.propose_referral(
        officer, case, team_ids=team, suspected_crime="",
        report=f"经调查，{case.parties[0].name if case.parties else '当事人'}涉嫌侵犯知识产权，"
               f"涉案金额达到立案追诉标准，依法移送公安机关。",
        police_agency_id=_CTX["police_agency"].id, procuratorate_id=_CTX["proc"].id,
        package={i: {"done": True} for i in ("transfer_letter", "investigation_report",
                                             "items_list", "inspection_report")})
    matches = rops.threshold_matches(case)
    r.suspected_crime = matches[0].rule.crime if matches else ""
    cop, boss = _CTX["police"], _CTX["police_boss"]
    steps = [(officer, "submit", ""), (approver, "approve", ""), (officer, "send", ""),
             (cop, "receive", "")]
    if outcome == "filed":
        steps += [(cop, "police_file", ""), (officer, "hand_over", "")]
    elif outcome == "declined":
        steps += [(cop, "police_decline", "经审查，现有证据不足以证明达到刑事立案追诉标准，不予立案。"),
                  (officer, "accept_decline", "")]
    else:
        steps = steps[:3]
    moment = dt.datetime.combine(day, dt.time(9, 30), LOCAL_TZ).astimezone(dt.timezone.utc)
    for user, action, reason in steps:
        rops.act(user, r, action, reason=reason, now=moment,
                 police_case_number=f"松公经立字〔{day.year}〕{rng.randint(10, 300)}号")
        moment += dt.timedelta(hours=rng.randint(2, 30))
    for i, ev in enumerate(r.events):  # two steps a working morning and afternoon
        ev.at = dt.datetime.combine(day + dt.timedelta(days=i // 4), dt.time(9 + 2 * (i % 4), 0),
                                    LOCAL_TZ).astimezone(dt.timezone.utc)
    return True


def _step(rng, case, action, day, officer, approver, reviewer, hearing=False) -> bool:
    from caseflow.core.errors import CaseFlowError

    if action.startswith("@refer_"):
        try:
            return _refer(rng, case, action.removeprefix("@refer_"), day, officer, approver)
        except CaseFlowError as e:
            import os
            if os.environ.get("CASEFLOW_SEED_DEBUG"):
                print("seed referral refused:", action, case.state, e.message)
            return False

    payload: dict = {"action": action, "effective_on": day}
    if action in ("reject", "suspend", "terminate", "extend_verification", "extend_decision",
                  "pause_clock", "record_statement", "conclude_hearing", "decide_no_penalty"):
        payload["reason"] = {
            "reject": "经核查，无证据证明存在侵权行为，不予立案。",
            "suspend": "涉案商品需等待权利人出具鉴定意见，案件中止调查。",
            "terminate": "当事人已注销，依法终止调查。",
            "extend_verification": "涉案线索较多，需进一步核查，申请延长核查期限。",
            "extend_decision": "案情复杂，需补充调查，申请延长办案期限。",
            "pause_clock": "涉案商品送检。",
            "record_statement": "当事人放弃陈述申辩。",
            "conclude_hearing": "听证会已举行，当事人陈述意见已记录。",
            "decide_no_penalty": "违法行为轻微并及时改正，没有造成危害后果，依法不予行政处罚。",
        }[action]
    if action == "pause_clock":
        payload["pause_kind"] = "testing"
    if action == "notify":
        fine = Decimal(150000 if hearing else rng.choice([5000, 20000, 50000, 150000]))
        payload["proposed_fine"] = fine
        payload["proposed_penalties"] = ["罚款", "没收违法所得"]
    if action == "request_hearing":
        from caseflow.core.models import load_calendar

        payload["hearing_date"] = load_calendar().add_working_days(day, 10)
    if action == "decide_penalty":
        fine = Decimal(rng.choice([3000, 8000, 20000, 50000, 120000]))
        payload.update(fine_amount=fine, penalty_kinds=["罚款", "没收违法所得"],
                       decision_summary=f"没收侵权商品，并处罚款{fine}元。")
    if action == "record_payment":
        payload["paid_amount"] = case.fine_amount
    from caseflow.referrals.operations import referral_answered_by_police, threshold_matches

    if action in ("decide_penalty", "decide_no_penalty") and threshold_matches(case) \
            and not referral_answered_by_police(case):
        payload["no_referral_reason"] = ("经核实，涉案金额系按标价估算，实际销售金额以账册为准未达追诉标准，"
                                         "经负责人集体讨论决定依法作行政处理。")
    actor = reviewer if action in ("pass_review", "return_review") else officer
    if actor is None:
        return False
    try:
        ops.perform(actor, case, TransitionIn(**payload), today=day)
        if case.pending_action:
            ops.perform(approver, case, TransitionIn(action="approve"), today=day)
    except CaseFlowError as e:
        import os
        if os.environ.get("CASEFLOW_SEED_DEBUG"):
            print("seed step refused:", action, case.state, e.message)
        return False  # the rules refused this step (e.g. a major case skipping review): stop here
    return True


def _write_logins(logins) -> None:
    path = Path(current_app.instance_path) / LOGIN_FILE
    path.write_text("".join(f"{u}\t{p}\t{a}\t{r}\n" for u, p, a, r in logins), encoding="utf-8")
    path.chmod(0o600)


def read_logins() -> list[tuple]:
    path = Path(current_app.instance_path) / LOGIN_FILE
    if not path.exists():
        return []
    return [tuple(line.split("\t")) for line in path.read_text(encoding="utf-8").splitlines() if line]
