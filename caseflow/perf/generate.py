"""Bulk generator of realistic data in Chinese: ``generate(engine, cases=…, businesses=…)``.

Built to fill a database for performance work — 1,000,000 cases and 5,000,000 businesses on
PostgreSQL in minutes, or one district's 50,000 cases on SQLite — with data the application
itself would accept:

* agencies of every kind the app knows (market supervision of Jing'an and Songjiang, the two
  districts' police economic-crime units and procuratorates, Songjiang's cultural enforcement
  squad and IP office), their units, and users with every role; one password for all of them,
  hashed once with the app's Argon2 hasher (``hash_password``) and reused;
* businesses (检查对象名录库) with valid unified social credit codes (GB 32100-2015, whose
  positions 9–17 are an organisation code with its own GB 11714 check character), Chinese
  names, streets and towns of the district, industries and credit-risk classes A–D;
* cases in every state of ``cases.rules.State``, each with a timeline that follows the
  transition table (``case_event`` with ``from_state``/``to_state`` and effective dates,
  approval requests before the steps that need one), the ``case_stage_exit`` rows the
  operations write, two officers, a party taken from the agency's business directory (or a
  person with a valid resident ID), goods, amounts, the case number of numbered states, and
  ``next_due_on`` computed by the app's own clock rules (``cases.rules.compute_clocks``) on
  the official calendar; penalty decisions with their publication; criminal referrals with
  their events, team and share grants to the police and the procuratorate; share grants of a
  few cases with other agencies; the inspection list, inspector roster and a yearly plan.

Rows are written in chunks (constant memory): PostgreSQL through psycopg 3's
``COPY … FROM STDIN`` on the raw DB-API connection, SQLite with ``executemany``, all in one
transaction. On PostgreSQL the foreign keys and non-unique secondary indexes of the big
tables are dropped for the load and restored before the commit (the same transaction, so a
failure leaves the schema untouched; restoring a foreign key validates every row), the id
sequences are moved past the explicit ids, and the tables are
ANALYZEd at the end.

**No audit records are written**: the data do not come from the operations, and the audit
log is a hash chain kept by an ORM listener. A caller that wants the generation itself on
record (the CLI command does) adds one record through the ORM session afterwards, so the
chain stays valid.

The data depend only on ``seed`` and ``today`` (deterministic), except the password hashes
(salted) and the random default password. The database must be empty (no agency, user,
case or business): ``DatabaseNotEmpty`` otherwise.

The data-building code is plain Python; only ``generate`` touches SQLAlchemy (an Engine or
Connection; a Connection is committed by ``generate``).
"""
from __future__ import annotations

import datetime as dt
import json
import random
import secrets
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from decimal import Decimal

from caseflow.accounts import passwords
from caseflow.cases.rules import (TRANSITIONS, CaseFacts, Channel, EventFact, Params, PartyKind,
                                  State, compute_clocks)
from caseflow.core import ids
from caseflow.core.calendar import WorkCalendar

__all__ = ["generate", "DatabaseNotEmpty", "Generated", "credit_code", "org_code_check_char",
           "business_fields", "AGENCIES"]

CHUNK = 10_000  # cases per batch (their events, exits, parties… go with them)
BUSINESS_CHUNK = 50_000
LOCAL = dt.timezone(dt.timedelta(hours=8))  # Asia/Shanghai has no DST
UTC = dt.timezone.utc
YEARS_BACK = 5


class DatabaseNotEmpty(RuntimeError):
    """The generator only fills an empty database."""


class Generated(dict):
    """Rows written per table (the dict), plus what a bench needs to use the data."""

    password: str = ""
    #: role → (username, agency code): one login per role
    logins: dict[str, tuple[str, str]]
    users: list[tuple[str, str, str]]  # (username, agency code, roles)
    seconds: dict[str, float]  # seconds spent writing each table
    elapsed: float = 0.0
    phases: dict[str, float]


# ----------------------------------------------------------------------------- reference data

#: code, kind, name, case prefix, region, region code, share of cases, share of businesses
AGENCIES = [
    ("ja-amr", "market_supervision", "上海市静安区市场监督管理局", "沪市监静处", "上海市静安区", "310106",
     42, 45),
    ("sj-amr", "market_supervision", "上海市松江区市场监督管理局", "沪市监松处", "上海市松江区", "310117",
     40, 45),
    ("sj-culture", "cultural_enforcement", "上海市松江区文化市场行政执法大队", "沪松文执", "上海市松江区",
     "310117", 12, 10),
    ("sj-ipo", "ip_office", "上海市松江区知识产权局", "沪松知", "上海市松江区", "310117", 6, 0),
    ("ja-police", "police_econ", "上海市公安局静安分局经济犯罪侦查支队", "沪公静经", "上海市静安区", "310106",
     0, 0),
    ("sj-police", "police_econ", "上海市公安局松江分局经济犯罪侦查支队", "沪公松经", "上海市松江区", "310117",
     0, 0),
    ("ja-procuratorate", "procuratorate", "上海市静安区人民检察院", "沪静检", "上海市静安区", "310106", 0, 0),
    ("sj-procuratorate", "procuratorate", "上海市松江区人民检察院", "沪松检", "上海市松江区", "310117", 0, 0),
]
UNITS = {
    "market_supervision": ["执法稽查一大队", "执法稽查二大队", "知识产权科", "法制科"],
    "cultural_enforcement": ["执法一中队", "执法二中队", "法制审核科"],
    "ip_office": ["知识产权保护科", "维权援助中心"],
    "police_econ": ["知识产权犯罪侦查大队"],
    "procuratorate": ["第四检察部"],
}
ADMIN_ROLES = ("sys_admin", "sec_admin", "auditor")
#: (username suffix, roles, how many) per agency kind; usernames are "<district>_<suffix><n>"
STAFF = {
    "market_supervision": [("inspector", ["inspector"], 2),
                           ("officer", ["case_officer", "inspector"], 6),
                           ("reviewer", ["legal_reviewer"], 1), ("approver", ["approver"], 1),
                           ("coordinator", ["coordinator"], 1), ("publisher", ["publisher"], 1),
                           ("agencyadmin", ["agency_admin"], 1), ("sysadmin", ["sys_admin"], 1),
                           ("secadmin", ["sec_admin"], 1), ("auditor", ["auditor"], 1)],
    "cultural_enforcement": [("officer", ["case_officer", "inspector"], 4),
                             ("reviewer", ["legal_reviewer"], 1), ("approver", ["approver"], 1),
                             ("publisher", ["publisher"], 1), ("agencyadmin", ["agency_admin"], 1)],
    "ip_office": [("officer", ["case_officer", "inspector"], 3),
                  ("reviewer", ["legal_reviewer"], 1),
                  ("approver", ["approver"], 1)],
    "police_econ": [("officer", ["case_officer", "inspector"], 2), ("approver", ["approver"], 1)],
    "procuratorate": [("procurator", ["inspector"], 2)],
}
KIND_SHORT = {"market_supervision": "amr", "cultural_enforcement": "culture", "ip_office": "ipo",
              "police_econ": "police", "procuratorate": "proc"}

DISTRICTS = {
    "310106": ["静安寺街道", "南京西路街道", "江宁路街道", "石门二路街道", "曹家渡街道", "天目西路街道",
               "北站街道", "宝山路街道", "芷江西路街道", "共和新路街道", "大宁路街道", "彭浦新村街道",
               "临汾路街道", "彭浦镇"],
    "310117": ["岳阳街道", "永丰街道", "方松街道", "中山街道", "广富林街道", "九里亭街道", "泗泾镇",
               "佘山镇", "车墩镇", "新桥镇", "洞泾镇", "九亭镇", "泖港镇", "石湖荡镇", "新浜镇", "叶榭镇",
               "小昆山镇"],
}
DISTRICT_NAME = {"310106": "静安区", "310117": "松江区"}
ROADS = {
    "310106": ["南京西路", "愚园路", "江宁路", "西康路", "延安中路", "北京西路", "新闸路", "大统路",
               "天目西路", "共和新路", "广中路", "汶水路", "场中路", "灵石路", "万荣路", "平型关路"],
    "310117": ["中山中路", "人民北路", "荣乐东路", "沪亭北路", "江川北路", "新站路", "长兴路", "影佳路",
               "文诚路", "龙源路", "外青松公路", "叶政路", "九亭大街", "泗宝路", "新松江路", "谷阳北路"],
}
#: businesses registered elsewhere in Shanghai (chosen for ~12% of each directory)
OTHER_REGIONS = ["310101", "310104", "310105", "310107", "310109", "310110", "310112", "310113",
                 "310114", "310115", "310116", "310118", "310120", "310151"]
#: industry, its word in a company name, weight
INDUSTRIES = [("批发和零售业", ["商贸", "贸易", "百货", "电子商务", "服饰"], 34),
              ("制造业", ["实业", "制造", "机械", "包装制品", "电子科技"], 18),
              ("住宿和餐饮业", ["餐饮管理", "酒店管理", "食品"], 9),
              ("信息传输、软件和信息技术服务业", ["网络科技", "信息技术", "软件"], 10),
              ("租赁和商务服务业", ["企业管理", "商务咨询", "广告"], 11),
              ("文化、体育和娱乐业", ["文化传播", "文化传媒", "体育发展"], 6),
              ("科学研究和技术服务业", ["生物科技", "检测技术", "新材料科技"], 5),
              ("居民服务、修理和其他服务业", ["家政服务", "汽车服务"], 4),
              ("交通运输、仓储和邮政业", ["物流", "供应链管理"], 3)]
SHOP_WORDS = {"批发和零售业": ["商行", "经营部", "服装店", "日用品店", "电子产品经营部"],
              "制造业": ["加工厂", "制品厂"], "住宿和餐饮业": ["饭店", "小吃店", "餐厅"],
              "信息传输、软件和信息技术服务业": ["电脑维修部", "网络工作室"],
              "租赁和商务服务业": ["图文设计工作室", "广告制作部"], "文化、体育和娱乐业": ["书店", "网吧", "音像店"],
              "科学研究和技术服务业": ["技术服务部"], "居民服务、修理和其他服务业": ["洗衣店", "汽车美容店"],
              "交通运输、仓储和邮政业": ["货运部"]}
FORMS = ["有限公司", "有限公司", "有限公司", "有限责任公司", "股份有限公司", "合伙企业（有限合伙）"]
ZIHAO_1 = "鑫恒瑞泰华盛宏达永嘉隆兴昌和德源顺丰佳伟立信天诚锦宇海新博汇中金众合联凯祥福东云辰睿"
ZIHAO_2 = "鑫恒瑞泰华盛宏达永嘉隆兴昌和德源顺丰佳伟立信天诚锦宇海新博汇中金众合联凯祥福东云辰睿亿明远"
RISK = "A" * 30 + "B" * 50 + "C" * 15 + "D" * 5
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁沈"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红建文辉力斌宇浩凯晨欣怡佳琪"

CHANNELS = [c.value for c in Channel]
CHANNEL_W = [15, 20, 25, 15, 12, 4, 2, 6, 1]
IP_BY_KIND = {
    "market_supervision": (["trademark", "patent", "copyright", "trade_secret",
                            "geographical_indication", "commercial_mark_confusion"],
                           [66, 6, 6, 3, 5, 14]),
    "cultural_enforcement": (["copyright"], [1]),
    "ip_office": (["patent", "geographical_indication"], [80, 20]),
}
INFRINGEMENT = {
    "trademark": ["销售侵犯注册商标专用权的商品", "假冒注册商标", "擅自制造注册商标标识"],
    "patent": ["假冒专利", "冒充专利"],
    "copyright": ["销售侵权复制品", "未经许可通过信息网络传播他人作品", "复制发行盗版图书"],
    "trade_secret": ["侵犯商业秘密"],
    "geographical_indication": ["擅自使用地理标志", "伪造地理标志产品产地"],
    "commercial_mark_confusion": ["擅自使用他人有一定影响的商品名称、包装、装潢", "擅自使用他人企业名称"],
}
BRANDS = ["耐克", "阿迪达斯", "香奈儿", "路易威登", "华为", "小米", "茅台", "五粮液", "迪士尼", "乐高",
          "苹果", "佳能", "博世", "松江大米", "泗泾米酒", "佘山兰笋", "老凤祥", "大白兔", "光明", "回力"]
GOODS = [("运动鞋", "双", 180), ("手提包", "个", 450), ("手机配件", "件", 35), ("白酒", "瓶", 600),
         ("玩具", "件", 60), ("服装", "件", 120), ("化妆品", "盒", 150), ("电动工具", "台", 260),
         ("大米", "千克", 8), ("耳机", "副", 90), ("打印耗材", "盒", 70), ("图书", "册", 40),
         ("光盘", "张", 10), ("茶叶", "盒", 220)]
TARGET_STATES = [  # weight of each final state among generated cases
    ("clue", 4), ("verifying", 5), ("rejected", 12), ("filed", 3), ("investigating", 12),
    ("legal_review", 3), ("notified", 3), ("hearing", 1), ("decided", 3), ("no_penalty", 2),
    ("executing", 4), ("closed", 36), ("suspended", 2), ("terminated", 6), ("referred", 4),
]

# ----------------------------------------------------------------------------- identifiers

_CC_VALUE = {c: i for i, c in enumerate(ids.CREDIT_CODE_ALPHABET)}
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def org_code_check_char(body8: str) -> str:
    """GB 11714-1997: the check character of an 8-character organisation code (positions
    9–16 of a credit code; the 17th is this check)."""
    total = sum(int(c, 36) * w for c, w in zip(body8, _ORG_WEIGHTS))
    c = 11 - total % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def credit_code(kind2: str, region6: str, org8: str) -> str:
    """统一社会信用代码 (GB 32100-2015): registration authority and kind (``91`` company,
    ``92`` individual business, ``11`` government agency), region, organisation code with its
    check, and the check character (same result as ``core.ids.credit_code_check_char``)."""
    prefix = kind2 + region6
    head = _PREFIX_SUM.get(prefix)
    if head is None:
        head = _PREFIX_SUM[prefix] = sum(_CC_VALUE[c] * w for c, w in zip(prefix, _CC_W[:8]))
    org_total, total = 0, head
    for c, ow, cw in zip(org8, _ORG_WEIGHTS, _CC_W_ORG):
        v = _CC_VALUE[c] if c.isdigit() else int(c, 36)
        org_total += v * ow
        total += _CC_VALUE[c] * cw
    check = 11 - org_total % 11
    org_check = "X" if check == 10 else "0" if check == 11 else str(check)
    total += _CC_VALUE[org_check] * _CC_W[16]
    return f"{prefix}{org8}{org_check}{ids.CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]}"


_CC_W = ids.CREDIT_CODE_WEIGHTS
_CC_W_ORG = _CC_W[8:16]
_PREFIX_SUM: dict[str, int] = {}


_M64 = (1 << 64) - 1


def _mix(x: int) -> int:
    """splitmix64: a cheap, well-spread hash, so business ``j`` is a pure function of (seed, j)."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


_INDUSTRY_PICK = [i for i, (_n, _w, weight) in enumerate(INDUSTRIES) for _ in range(weight)]


def _directory_key(seed: int, agency_no: int) -> int:
    return _mix(seed * 1_000_003 + agency_no)


def business_fields(key: int, region: str, j: int) -> tuple:
    """Business ``j`` of a directory (key from the seed and the agency): (credit code, name,
    district, industry, risk class, address, active). Codes are unique within a directory:
    the organisation-code digits are an affine bijection of ``j`` modulo 10⁸."""
    h = _mix(key + j)
    org = f"{(j * 54435761 + key) % 100_000_000:08d}"
    individual = h % 100 < 15
    reg = region if (h >> 7) % 100 < 88 else OTHER_REGIONS[(h >> 14) % len(OTHER_REGIONS)]
    code = credit_code("92" if individual else "91", reg, org)
    streets = DISTRICTS[region]
    district = streets[(h >> 20) % len(streets)]
    industry, words, _w = INDUSTRIES[_INDUSTRY_PICK[(h >> 26) % len(_INDUSTRY_PICK)]]
    zihao = ZIHAO_1[(h >> 33) % len(ZIHAO_1)] + ZIHAO_2[(h >> 39) % len(ZIHAO_2)]
    h2 = _mix(h)
    if individual:
        shops = SHOP_WORDS[industry]
        shop = shops[h2 % len(shops)]
        name = f"{DISTRICT_NAME[region]}{district.removesuffix('街道')}{zihao}{shop}"
    else:
        name = f"上海{zihao}{words[h2 % len(words)]}{FORMS[(h2 >> 8) % len(FORMS)]}"
        if (h2 >> 12) % 4 == 0:  # fewer duplicate names: some carry a third character
            name = name.replace(zihao, zihao + ZIHAO_2[(h2 >> 16) % len(ZIHAO_2)], 1)
    roads = ROADS[region]
    address = (f"上海市{DISTRICT_NAME[region]}{roads[(h2 >> 22) % len(roads)]}"
               f"{(h2 >> 27) % 1500 + 1}号")
    risk = RISK[(h2 >> 40) % 100]
    active = (h2 >> 48) % 100 < 97
    return code, name, district, industry, risk, address, active


# ----------------------------------------------------------------------------- case paths

HAPPY = ["accept", "file", "investigate", "submit_review", "pass_review", "notify",
         "record_statement", "decide_penalty", "serve", "record_payment", "close"]
PATHS = [
    ["reject", "notify_reporter"],
    ["accept", "reject", "notify_reporter"],
    ["accept", "extend_verification", "reject"],
    ["accept", "terminate"],
    HAPPY,
    ["accept", "file", "investigate", "notify", "record_statement", "decide_penalty", "serve",
     "record_payment", "close"],
    ["accept", "file", "investigate", "submit_review", "pass_review", "notify", "request_hearing",
     "conclude_hearing", "pass_review", "decide_penalty", "serve", "record_payment", "close"],
    ["accept", "file", "investigate", "submit_review", "return_review", "submit_review",
     "pass_review", "notify", "record_statement", "decide_no_penalty", "close"],
    ["accept", "file", "investigate", "notify", "record_statement", "decide_no_penalty", "close"],
    ["accept", "file", "investigate", "suspend", "resume", "submit_review", "pass_review", "notify",
     "record_statement", "decide_penalty", "serve", "record_payment", "close"],
    ["accept", "extend_verification", "file", "investigate", "extend_decision", "pause_clock",
     "resume_clock", "submit_review", "pass_review", "notify", "record_statement", "decide_penalty",
     "serve", "record_payment", "close"],
    ["accept", "file", "investigate", "pause_clock", "resume_clock", "terminate"],
    ["accept", "file", "investigate", "suspend", "terminate"],
    ["accept", "file", "investigate", "refer"],
    ["accept", "file", "investigate", "refer", "referral_returned", "notify", "record_statement",
     "decide_penalty", "serve", "record_payment", "close"],
]
#: days from the step before (lo, hi)
GAPS = {
    "accept": (0, 4), "reject": (2, 14), "extend_verification": (10, 18), "file": (3, 14),
    "investigate": (0, 3), "submit_review": (15, 55), "return_review": (2, 8),
    "pass_review": (2, 9),
    "notify": (1, 6), "record_statement": (1, 5), "request_hearing": (1, 4),
    "conclude_hearing": (10, 20), "decide_penalty": (8, 16), "decide_no_penalty": (8, 16),
    "serve": (1, 6), "record_payment": (3, 14), "close": (1, 8), "suspend": (5, 30),
    "resume": (20, 80), "terminate": (5, 40), "refer": (10, 40), "referral_returned": (15, 45),
    "extend_decision": (60, 80), "pause_clock": (3, 15), "resume_clock": (10, 30),
    "notify_reporter": (1, 4),
}
REASONS = {
    "reject": ["经核查，举报内容与事实不符", "证据不足，不符合立案条件", "不属于本机关管辖", "权利人未能提供权属证明"],
    "extend_verification": ["线索涉及多个经营场所，需延长核查期限"],
    "suspend": ["等待权利人辨认鉴别", "涉案物品送检鉴定中", "当事人下落不明"],
    "terminate": ["当事人已注销", "违法事实不能成立", "超过行政处罚时效"],
    "extend_decision": ["案情复杂，经负责人批准延长办案期限"],
    "pause_clock": ["涉案物品送检", "权利人辨认鉴别"],
    "return_review": ["证据链不完整，退回补充调查"],
    "record_statement": ["当事人放弃陈述申辩", "当事人提出陈述申辩意见，经复核不予采纳"],
    "conclude_hearing": ["听证已举行，当事人意见已记录"],
    "decide_no_penalty": ["违法行为轻微并及时改正，没有造成危害后果", "初次违法且危害后果轻微并及时改正"],
    "referral_returned": ["公安机关决定不予立案，案件回到行政程序"],
}
CATEGORY_CHOICES = [(("罚款",), 45), (("警告", "罚款"), 10), (("罚款", "没收违法所得"), 20),
                    (("没收非法财物", "罚款"), 15), (("警告",), 10)]
FINES = [3000, 5000, 8000, 10000, 20000, 30000, 50000, 80000, 120000, 200000]
REFERRED_RSTATES = ["sent", "received", "filed", "handed_over", "not_filed", "reconsideration",
                    "upheld", "supervision"]
REFERRAL_CHAINS = {  # referral state → the steps that led to it, after propose/submit/approve/send
    "sent": [], "received": ["receive"], "filed": ["receive", "police_file"],
    "handed_over": ["receive", "police_file", "hand_over"],
    "not_filed": ["receive", "police_decline"],
    "reconsideration": ["receive", "police_decline", "request_reconsideration"],
    "upheld": ["receive", "police_decline", "request_reconsideration", "uphold"],
    "supervision": ["receive", "police_decline", "request_reconsideration", "uphold",
                    "propose_supervision"],
    "returned": ["receive", "police_decline", "accept_decline"],
}
R_TARGET = {"propose": "proposed", "submit": "pending_approval", "approve": "approved",
            "send": "sent",
            "receive": "received", "police_file": "filed", "hand_over": "handed_over",
            "police_decline": "not_filed", "request_reconsideration": "reconsideration",
            "uphold": "upheld", "propose_supervision": "supervision", "accept_decline": "returned",
            "refuse": "refused"}
POLICE_ACTIONS = {"receive", "police_file", "police_decline", "uphold"}
SHARE_PARTS = ["details", "parties", "amounts", "timeline"]
REFERRAL_PARTS = SHARE_PARTS + ["evidence"]
CLOSED = {"rejected", "closed", "terminated"}


def _walk(path: list[str]) -> list[str]:
    """The case's state after each step of a path (from clue)."""
    out, state, before_refer, suspended_from = [], "clue", None, None
    for action in path:
        if action == "refer":
            before_refer, state = state, "referred"
        elif action == "referral_returned":
            state = before_refer
        elif action == "resume":
            state = suspended_from
        else:
            t = TRANSITIONS[action]
            if state not in {s.value for s in t.sources}:
                raise AssertionError(f"path step {action} not allowed from {state}")
            if action == "suspend":
                suspended_from = state
            if t.target is not None:
                state = t.target.value
        out.append(state)
    return out


def _cuts() -> dict[str, list[tuple[int, int]]]:
    """For each state: every (path, number of steps) that leaves a case in it."""
    cuts: dict[str, list[tuple[int, int]]] = defaultdict(list)
    cuts["clue"].append((0, 0))
    for p, path in enumerate(PATHS):
        for i, state in enumerate(_walk(path)):
            cuts[state].append((p, i + 1))
    missing = {s.value for s in State} - set(cuts)
    assert not missing, missing
    return cuts


CUTS = _cuts()


# ----------------------------------------------------------------------------- calendar

class _MemoCalendar(WorkCalendar):
    """The app's calendar with its answers kept: a million cases ask the same few thousand
    (day, period) questions."""

    def __init__(self, overrides=None):
        super().__init__(overrides)
        self._wd: dict = {}
        self._cd: dict = {}
        self._unc: dict = {}

    def add_working_days(self, start, n):
        key = (start, n)
        try:
            return self._wd[key]
        except KeyError:
            value = self._wd[key] = super().add_working_days(start, n)
            return value

    def add_calendar_days(self, start, n):
        key = (start, n)
        try:
            return self._cd[key]
        except KeyError:
            value = self._cd[key] = super().add_calendar_days(start, n)
            return value

    def uncovered_between(self, start, end):
        key = (start.year, end.year)
        try:
            return self._unc[key]
        except KeyError:
            value = self._unc[key] = super().uncovered_between(start, end)
            return value


def next_due(facts: CaseFacts, today: dt.date, calendar: WorkCalendar,
             params: Params) -> dt.date | None:
    """What ``cases.operations.refresh_due`` stores: the earliest due date of the running,
    unpaused clocks that run against the agency."""
    running = [c.due for c in compute_clocks(facts, today, calendar, params)
               if c.stopped_on is None and not c.paused and not c.party_clock
               and c.days_left is not None]
    return min(running) if running else None


# ----------------------------------------------------------------------------- the builder

class _FastRandom(random.Random):
    """``random.Random`` with cheaper integer draws (one ``random()`` each): a million
    cases make ~40 million of them. Deterministic for a seed like its parent."""

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))

    def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int:
        if stop is None:
            return int(self.random() * start)
        return start + int(self.random() * (stop - start))

    def choice(self, seq):
        return seq[int(self.random() * len(seq))]


class _Ids:
    def __init__(self, start: dict[str, int]):
        self.next = dict(start)

    def __call__(self, table: str) -> int:
        value = self.next[table]
        self.next[table] = value + 1
        return value


class _Builder:
    """Makes the rows of one batch of cases; plain Python."""

    def __init__(self, rng: random.Random, today: dt.date, now: dt.datetime, agencies: list[dict],
                 staff: dict, new_id: _Ids, calendar: WorkCalendar, seed: int):
        self.rng, self.today, self.now = rng, today, now
        self.agencies = agencies
        self.by_code = {a["code"]: a for a in agencies}
        self.staff = staff  # agency code → {"officer": [ids], "approver": id, …}
        self.new_id = new_id
        self.calendar = calendar
        self.params = Params()
        self.seed = seed
        self.case_seq: Counter = Counter()  # (agency id, year) → last case number
        self.decision_seq: Counter = Counter()
        self.owners = [a for a in agencies if a["case_share"]]
        self.owner_w = [a["case_share"] for a in self.owners]
        self.state_names = [s for s, _ in TARGET_STATES]
        self.state_w = [w for _, w in TARGET_STATES]
        self.directories = [a for a in agencies if a["n_businesses"]]
        self._at: dict[dt.date, dt.datetime] = {}
        #: the latest moment of the generated history: 17:00 today (from ``today``, not the
        #: clock, so the same seed and day give the same data)
        self.horizon = self.at(today, 8 * 60)
        self.n_generated = 0
        self.share_targets = {a["code"]: [b for b in agencies if b["code"] != a["code"]
                                          and b["kind"] in ("market_supervision",
                                                            "cultural_enforcement", "ip_office")]
                              for a in agencies}

    # helpers ---------------------------------------------------------------
    def at(self, day: dt.date, minutes: int = 0) -> dt.datetime:
        base = self._at.get(day)
        if base is None:
            base = self._at[day] = dt.datetime(day.year, day.month, day.day, 9, tzinfo=LOCAL
                                               ).astimezone(UTC)
        return base + dt.timedelta(minutes=minutes)

    def person_name(self) -> str:
        rng = self.rng
        second = rng.choice(GIVEN) if rng.random() < 0.7 else ""
        return rng.choice(SURNAMES) + rng.choice(GIVEN) + second

    def party_for(self, agency: dict) -> tuple:
        """(kind, name, credit code, id number, address) — a business of a directory."""
        rng = self.rng
        if rng.random() < 0.82 and self.directories:
            directory = agency if agency["n_businesses"] else self.by_code.get("sj-amr")
            if directory is None or not directory["n_businesses"]:
                directory = self.directories[0]
            j = rng.randrange(directory["n_businesses"])
            code, name, _d, _i, _r, address, _a = business_fields(
                directory["key"], directory["region_code"], j)
            return ("business", name, code, None, address)
        region = agency["region_code"]
        born_in = region if rng.random() < 0.6 else rng.choice(OTHER_REGIONS)
        person = ids.make_id_number(rng, born_in)
        address = f"上海市{DISTRICT_NAME[region]}{rng.choice(ROADS[region])}{rng.randint(1, 1500)}号"
        return ("person", self.person_name(), None, person, address)

    # one case --------------------------------------------------------------
    def case(self, k: int, out: dict[str, list]) -> None:
        rng, today = self.rng, self.today
        agency = rng.choices(self.owners, self.owner_w)[0]
        target = self.state_names[k] if k < len(self.state_names) else \
            rng.choices(self.state_names, self.state_w)[0]
        p, n_steps = rng.choice(CUTS[target])
        path = list(PATHS[p][:n_steps])
        staff = self.staff[agency["code"]]
        officers = rng.sample(staff["officer"], 2)
        creator = rng.choice(staff.get("inspector") or staff["officer"])
        channel = rng.choices(CHANNELS, CHANNEL_W)[0]
        if "request_hearing" in path or "conclude_hearing" in path:
            channel = rng.choice(["inspection", "report", "complaint"])
        named = channel in ("complaint", "report") and rng.random() < 0.7
        if "notify_reporter" in path and not named:
            path.remove("notify_reporter")
        kinds, weights = IP_BY_KIND[agency["kind"]]
        ip_type = rng.choices(kinds, weights)[0]
        party = self.party_for(agency)

        fine = Decimal(0)
        categories: tuple = ()
        if "decide_penalty" in path:
            categories = rng.choices([c for c, _ in CATEGORY_CHOICES],
                                     [w for _, w in CATEGORY_CHOICES])[0]
            if "request_hearing" in path:
                categories = ("罚款", "没收非法财物")
            if "罚款" in categories:
                fine = Decimal(rng.choice(FINES[5:] if "request_hearing" in path else FINES))
            if fine == 0 and "record_payment" in path:  # a warning: nothing to pay
                path.remove("record_payment")

        # dates: gaps between steps, then a received day that keeps the last step in the past
        offsets, total = [], 0
        for action in path:
            lo, hi = GAPS[action]
            total += rng.randint(lo, hi)
            offsets.append(total)
        span = YEARS_BACK * 365
        if target in CLOSED:
            slack = rng.randint(0, max(span - total, 0))
        elif rng.random() < 0.75:
            slack = rng.randint(0, 25)
        else:
            slack = rng.randint(0, max(min(900, span - total), 0))
        received = today - dt.timedelta(days=total + slack)

        case_id = self.new_id("case_record")
        referred = "refer" in path
        volume = Decimal(rng.randint(60_000, 900_000) if referred else rng.randint(500, 40_000))
        share = rng.randint(30, 60) if referred else rng.randint(10, 30)
        gains = (volume * Decimal(share) / 100).quantize(Decimal("1"))
        if not referred:
            gains = min(gains, Decimal(25_000))
        brand = rng.choice(BRANDS)
        good, unit, price = rng.choice(GOODS)
        kind_text = rng.choice(INFRINGEMENT[ip_type])

        # the timeline -----------------------------------------------------
        ev_rows = out["case_event"]
        exits = out["case_stage_exit"]
        facts_events: list[EventFact] = []
        state, entered = "clue", received
        created_at = self.at(received, rng.randint(0, 180))
        events = [(received, 0, creator, "create", None, "clue", None, {"channel": channel})]
        events.append((received, 1, officers[0], "assign_officers", None, None, None,
                       {"changes": {"officers": [[], [staff["names"][o] for o in officers]]}}))
        number = filed_on = state_reason = suspended_from = None
        decide_day = None
        refer_day = None
        referral_id = None
        before_refer = None
        pending = None
        order = 2
        last_day = received
        left: dict[str, dt.date] = {}  # stage → the day the case last left it
        for action, off in zip(path, offsets):
            on = received + dt.timedelta(days=off)
            last_day = on
            t = TRANSITIONS.get(action)
            reason = rng.choice(REASONS[action]) if action in REASONS else None
            data: dict = {}
            actor = officers[0]
            if t is not None and t.roles == frozenset({"legal_reviewer"}):
                actor = staff["reviewer"]
            if t is not None and t.needs_approval:
                asked = max(on - dt.timedelta(days=rng.randint(0, 2)), last_of(events))
                req = {"requested_action": action}
                events.append((asked, order, officers[0], "request_approval", None, None, reason,
                               req))
                order += 1
                data = {"requested_by": officers[0], "approved_by": staff["approver"],
                        "approval_note": ""}
            from_state = state
            if action == "reject":
                state_reason = reason
            elif action == "file":
                number = self.case_number(agency, on.year)
                filed_on = on
                data["number"] = number
            elif action == "suspend":
                suspended_from = state
                data["from_state"] = state
            elif action == "resume":
                suspended_from = None
            elif action == "extend_decision":
                data["days"] = 30
            elif action == "pause_clock":
                data["pause_kind"] = "testing" if "送检" in reason else "rights_holder_identification"
            elif action == "notify":
                data["proposed_fine"] = str(fine or Decimal(rng.choice(FINES)))
                data["proposed_penalties"] = list(categories or ("罚款",))
            elif action == "request_hearing":
                data["hearing_date"] = self.calendar.add_working_days(on, 8).isoformat()
            elif action == "decide_penalty":
                data["fine_amount"] = str(fine)
                data["penalty_kinds"] = list(categories)
                data["decision_summary"] = _summary(categories, fine, gains)
                decide_day = on
            elif action == "decide_no_penalty":
                state_reason = reason
            elif action == "record_payment":
                data["paid_amount"] = str(fine)
                data["surcharge"] = "0.00"
            elif action == "terminate":
                state_reason = reason
                suspended_from = None
            elif action == "refer":
                referral_id = self.new_id("referral")
                data["referral_id"] = referral_id
                before_refer = state
                refer_day = on
            elif action == "referral_returned":
                data["referral_id"] = referral_id
            if action == "refer":
                state = "referred"
            elif action == "referral_returned":
                state = before_refer
            elif action == "resume":
                state = from_state_of_suspend(events)
            elif t.target is not None:
                state = t.target.value
            to_state = state if state != from_state else None
            if to_state:
                exits.append((self.new_id("case_stage_exit"), case_id, agency["id"], from_state,
                              entered, on, max((on - entered).days, 0), left.get(from_state)))
                left[from_state] = on
                entered = on
            events.append((on, order, actor, action, from_state, to_state, reason, data))
            order += 1
            facts_events.append(EventFact(action, on, data))

        # a few verifying cases wait for the approver to file them
        if state == "verifying" and rng.random() < 0.25:
            asked = min(last_day + dt.timedelta(days=rng.randint(1, 5)), today)
            pending = ("file", {"action": "file", "reason": "", "effective_on": asked.isoformat()},
                       officers[0])
            events.append((asked, order, officers[0], "request_approval", None, None, None,
                           {"requested_action": "file"}))
            order += 1
            last_day = max(last_day, asked)

        decision = None
        if decide_day is not None:
            decision = self.decision(agency, case_id, decide_day, categories, fine, gains, party,
                                     officers[0], kind_text, brand, good, out)
            events.append((decide_day, order, officers[0], "record_decision", None, None, None,
                           {"number": decision["number"]}))
            order += 1
            for channel_name in ("platform", "enterprise"):
                on = decision[channel_name]
                if on is not None:
                    events.append((on, order, staff["publisher"], "publish", None, None, None,
                                   {"channel": channel_name, "number": decision["number"]}))
                    order += 1

        events.sort(key=lambda e: (e[0], e[1]))
        for on, o, user_id, action, from_state, to_state, reason, data in events:
            ev_rows.append((self.new_id("case_event"), case_id,
                            created_at if o == 0 else self.at(on, 60 + o * 7), on, user_id,
                            action, from_state, to_state, reason, data))
            if on > last_day:
                last_day = on

        title = f"{party[1]}涉嫌{kind_text}"
        reporter = self.person_name() if named else ""
        facts = CaseFacts(state=State(state), channel=Channel(channel), received_on=received,
                          officer_count=2, is_major=False,
                          has_named_reporter=bool(reporter) and channel in ("complaint", "report"),
                          party_kinds=(PartyKind(party[0]),), events=facts_events)
        # compute_clocks leaves no clock running on a closed or terminated case
        due = None if state in ("closed", "terminated") else \
            next_due(facts, today, self.calendar, self.params)
        location = party[4]
        copies = rng.randint(50, 3000) if ip_type == "copyright" else 0
        out["case_record"].append((
            case_id, agency["id"], number, title[:200], channel, ip_type, kind_text,
            f"{'举报人' if channel == 'report' else '线索'}反映{party[1]}在{location}经营场所{kind_text}，"
            f"涉及“{brand}”{good}。", location, received,
            ",".join(str(rng.randint(1_000_000, 60_000_000))
                     for _ in range(rng.choice((0, 1, 1, 2))))
            if ip_type == "trademark" else "",
            reporter, f"1{rng.randint(3, 9)}{rng.randint(0, 999_999_999):09d}" if reporter else "",
            False, volume, gains, (volume * Decimal("0.8")).quantize(Decimal("1")),
            Decimal(rng.randint(0, 20_000)), copies, Decimal(0), False, False,
            None, None, state, state_reason, suspended_from, filed_on,
            fine if decide_day is not None else None, due,
            pending[0] if pending else None, pending[1] if pending else None,
            pending[2] if pending else None, officers[0], creator, created_at,
            self.at(last_day, 480), 1,
        ))
        self.listed = (created_at, state)  # copied into the case's share grants
        for o in officers:
            out["case_officer"].append((case_id, o))
        out["party"].append((self.new_id("party"), case_id, *party))
        if rng.random() < 0.7:
            qty = rng.randint(5, 2000)
            out["case_goods"].append((self.new_id("case_goods"), case_id, f"“{brand}”{good}",
                                      Decimal(qty), unit, Decimal(qty * price)))
        if referred:
            rstate = "returned" if "referral_returned" in path else rng.choice(REFERRED_RSTATES)
            self.referral(referral_id, case_id, agency, rstate, refer_day, officers, out)
        elif state == "investigating" and rng.random() < 0.04:
            rstate = rng.choice(["proposed", "pending_approval", "approved", "refused"])
            proposed = min(last_day + dt.timedelta(days=rng.randint(0, 10)), today)
            self.referral(self.new_id("referral"), case_id, agency, rstate, proposed, officers, out)
        if rng.random() < 0.03 and self.share_targets[agency["code"]]:
            self.share(case_id, agency, rng.choice(self.share_targets[agency["code"]]), officers[0],
                       max(received, today - dt.timedelta(days=rng.randint(0, 400))), out)
        self.n_generated += 1

    def case_number(self, agency: dict, year: int) -> str:
        key = (agency["id"], year)
        self.case_seq[key] += 1
        return f"{agency['case_prefix']}〔{year}〕{self.case_seq[key]:04d}号"

    def decision(self, agency, case_id, day, categories, fine, gains, party, officer, kind_text,
                 brand, good, out) -> dict:
        rng, today = self.rng, self.today
        key = (agency["id"], day.year)
        self.decision_seq[key] += 1
        number = f"{agency['case_prefix']}罚〔{day.year}〕{self.decision_seq[key]:04d}号"
        published = set(categories) != {"警告"}

        def publish_on(lo, hi):
            if not published or rng.random() < 0.12:
                return None
            on = day + dt.timedelta(days=rng.randint(lo, hi))
            return on if on <= today else None

        platform, enterprise = publish_on(1, 12), publish_on(2, 30)
        organisation = party[0] == "business"
        individual_business = organisation and party[2][:2] == "92"
        changed = withdrawn = reason = None
        if (platform or enterprise) and rng.random() < 0.01:
            changed = day + dt.timedelta(days=rng.randint(20, 60))
            withdrawn = changed + dt.timedelta(days=rng.randint(1, 3))
            if withdrawn <= today:
                reason = "行政复议决定撤销原行政处罚决定"
            else:
                changed = withdrawn = None
        confiscated = gains if "没收违法所得" in categories else Decimal(0)
        d_id = self.new_id("penalty_decision")
        at = self.at(day, 540)
        out["penalty_decision"].append((
            d_id, case_id, agency["id"], number, list(categories), kind_text,
            f"经查，当事人{party[1]}在经营场所{kind_text}，涉及“{brand}”{good}，违法所得{gains}元。",
            f"当事人{kind_text}。", _basis(kind_text), _summary(categories, fine, gains), fine,
            confiscated, "", day, None,
            rng.choices(["general", "minor", "serious"], [80, 10, 10])[0],
            bool(fine) and fine < (Decimal(100_000) if organisation else Decimal(10_000)),
            False, False, rng.random() < 0.04, party[1],
            "个体工商户" if individual_business else "法人及非法人组织" if organisation else "自然人",
            party[2] or "", self.person_name() if organisation else "",
            "" if organisation else "身份证", party[3] or "",
            platform, enterprise, changed, withdrawn, reason, None, None, None, None,
            officer, at, at, 1,
        ))
        return {"number": number, "platform": platform, "enterprise": enterprise}

    def referral(self, referral_id, case_id, agency, rstate, day, officers, out) -> None:
        rng = self.rng
        region = agency["region_code"]
        police = self.by_code["ja-police" if region == "310106" else "sj-police"]
        proc = self.by_code["ja-procuratorate" if region == "310106" else "sj-procuratorate"]
        steps = ["propose"]
        if rstate in ("pending_approval", "approved", "refused"):
            steps += {"pending_approval": ["submit"], "approved": ["submit", "approve"],
                      "refused": ["submit", "refuse"]}[rstate]
        elif rstate != "proposed":
            steps += ["submit", "approve", "send"] + REFERRAL_CHAINS[rstate]
        send_index = steps.index("send") if "send" in steps else None
        # the send is the case's refer day; the steps before it lead up to it
        start = day - dt.timedelta(days=3) if send_index is not None else day
        moment = self.at(start, 120)
        prev = None
        pstaff = self.staff[police["code"]]
        for i, action in enumerate(steps):
            if send_index is not None and i == send_index:
                moment = self.at(day, 60 + 50 + i)  # beside the case's refer event
            elif i:
                moment += dt.timedelta(hours=rng.randint(2, 60))
            moment = min(moment, self.horizon)
            by_police = action in POLICE_ACTIONS
            user = rng.choice(pstaff["officer"]) if by_police else officers[0]
            if action in ("approve", "refuse"):
                user = self.staff[agency["code"]]["approver"]
            to_state = R_TARGET[action]
            reason = "公安机关认为没有犯罪事实" if action == "police_decline" else \
                "负责人决定不予移送" if action == "refuse" else \
                "请求复议" if action in ("request_reconsideration", "uphold", "propose_supervision") \
                else None
            out["referral_event"].append((self.new_id("referral_event"), referral_id, moment, user,
                                          police["id"] if by_police else agency["id"], action, prev,
                                          to_state, reason, {}))
            prev = to_state
        created = self.at(start, 120)
        out["referral"].append((referral_id, case_id, agency["id"], police["id"], proc["id"],
                                rstate,
                                rng.choice(["213", "214", "215", "217", "218"]),
                                "经调查，当事人涉嫌销售假冒注册商标的商品，数额较大，涉嫌犯罪。",
                                {}, "investigating" if send_index is not None else None,
                                f"沪公（经）立字〔{day.year}〕{rng.randint(1, 9999):04d}号"
                                if rstate in ("filed", "handed_over") else "",
                                officers[0], created, moment, 1))
        for o in officers:
            out["referral_team"].append((referral_id, o))
        if send_index is not None:
            for target, purpose in ((police, "移送涉嫌犯罪案件"), (proc, "移送抄送（检察监督）")):
                out["share_grant"].append((self.new_id("share_grant"), case_id, target["id"],
                                           purpose,
                                           REFERRAL_PARTS, None, officers[0], self.at(day, 110),
                                           None, None, referral_id, *self.listed))

    def share(self, case_id, agency, target, officer, day, out) -> None:
        rng = self.rng
        granted = self.at(day, 200)
        r = rng.random()
        expires = None if r < 0.3 else granted + dt.timedelta(days=rng.randint(30, 720))
        revoked = None
        if rng.random() < 0.05:
            revoked = granted + dt.timedelta(days=rng.randint(1, 60))
            if revoked > self.horizon:
                revoked = None
        parts = SHARE_PARTS + (["complainant"] if rng.random() < 0.1 else [])
        out["share_grant"].append((self.new_id("share_grant"), case_id, target["id"],
                                   rng.choice(["案情信息共享：串案线索核查", "联合执法案情通报",
                                               "涉嫌同一当事人，协查取证"]),
                                   parts, expires, officer, granted, revoked,
                                   officer if revoked else None, None, *self.listed))


def last_of(events) -> dt.date:
    return max(e[0] for e in events)


def from_state_of_suspend(events) -> str:
    for e in reversed(events):
        if e[3] == "suspend":
            return e[7]["from_state"]
    return "investigating"


def _summary(categories, fine, gains) -> str:
    parts = []
    for c in categories:
        if c == "罚款":
            parts.append(f"罚款{fine}元")
        elif c == "没收违法所得":
            parts.append(f"没收违法所得{gains}元")
        elif c == "没收非法财物":
            parts.append("没收侵权商品")
        else:
            parts.append(c)
    return "；".join(parts)


def _basis(kind_text: str) -> str:
    if "商标" in kind_text:
        return "《中华人民共和国商标法》第六十条第二款"
    if "专利" in kind_text:
        return "《中华人民共和国专利法》第六十八条"
    if "地理标志" in kind_text:
        return "《中华人民共和国产品质量法》第五十三条"
    if "商业秘密" in kind_text or "名称" in kind_text:
        return "《中华人民共和国反不正当竞争法》第十八条、第二十一条"
    return "《中华人民共和国著作权法》第五十三条"


# ----------------------------------------------------------------------------- columns

CASE_COLS = ("id", "owner_agency_id", "number", "title", "channel", "ip_type", "infringement_kind",
             "description", "location", "received_on", "trademark_numbers", "reporter_name",
             "reporter_contact", "is_major", "illegal_business_volume", "illegal_gains",
             "sales_amount", "unsold_goods_value", "copies", "rights_holder_loss", "multiple_marks",
             "repeat_offence", "no_referral_reason", "joint_action_id", "state", "state_reason",
             "suspended_from", "filed_on", "fine_amount", "next_due_on", "pending_action",
             "pending_payload", "pending_by_id", "lead_officer_id", "created_by_id", "created_at",
             "updated_at", "version")
COLUMNS = {
    "case_record": CASE_COLS,
    "case_officer": ("case_id", "user_id"),
    "party": ("id", "case_id", "kind", "name", "credit_code", "id_number", "address"),
    "case_goods": ("id", "case_id", "name", "quantity", "unit", "value"),
    "case_event": ("id", "case_id", "at", "effective_on", "user_id", "action", "from_state",
                   "to_state", "reason", "data"),
    "case_stage_exit": ("id", "case_id", "agency_id", "stage", "entered_on", "left_on", "days",
                        "prev_left_on"),
    "referral": ("id", "case_id", "agency_id", "police_agency_id", "procuratorate_id", "state",
                 "suspected_crime", "report", "package", "case_state_before", "police_case_number",
                 "created_by_id", "created_at", "updated_at", "version"),
    "referral_team": ("referral_id", "user_id"),
    "referral_event": ("id", "referral_id", "at", "user_id", "agency_id", "action", "from_state",
                       "to_state", "reason", "data"),
    "penalty_decision": ("id", "case_id", "agency_id", "number", "categories", "violation_type",
                         "facts", "published_facts", "basis", "content", "fine_amount",
                         "confiscated_amount", "licence", "decision_date", "valid_until",
                         "severity",
                         "lower_amount", "simple_procedure", "special_sector", "other_province",
                         "subject_name", "subject_kind", "credit_code", "legal_rep", "id_type",
                         "id_number", "platform_published_on", "enterprise_published_on",
                         "changed_on", "withdrawn_on", "withdraw_reason", "ended_on", "end_reason",
                         "repaired_on", "repair_note", "recorded_by_id", "created_at", "updated_at",
                         "version"),
    "share_grant": ("id", "case_id", "agency_id", "purpose", "parts", "expires_at", "granted_by_id",
                    "granted_at", "revoked_at", "revoked_by_id", "referral_id", "case_created_at",
                    "case_state"),
    "business": ("id", "agency_id", "credit_code", "name", "district", "industry", "risk_class",
                 "address", "active"),
}
#: the order a batch is written in (parents first: foreign keys)
CASE_TABLES = ("case_record", "case_officer", "party", "case_goods", "case_event",
               "case_stage_exit",
               "referral", "referral_team", "referral_event", "penalty_decision", "share_grant")
#: tables whose non-unique indexes are rebuilt after the load (PostgreSQL)
REINDEXED = ("business", "case_record", "case_event", "case_stage_exit", "party", "case_goods",
             "share_grant", "penalty_decision", "referral", "referral_event")
ID_TABLES = ("agency", "unit", "user_account", "password_history", "business", "case_record",
             "party", "case_goods", "case_event", "case_stage_exit", "referral", "referral_event",
             "penalty_decision", "share_grant", "inspection_item", "roster_entry",
             "inspection_plan", "plan_item")


# ----------------------------------------------------------------------------- writing

class _Spec:
    __slots__ = ("name", "copy_sql", "insert_sql", "extra", "procs")


class _Sink:
    """Writes rows: COPY on PostgreSQL (psycopg 3), executemany on SQLite."""

    def __init__(self, conn, metadata):
        self.conn = conn
        self.raw = conn.connection.dbapi_connection
        self.dialect = conn.dialect
        self.pg = conn.dialect.name == "postgresql"
        self.metadata = metadata
        self.specs: dict[str, _Spec] = {}
        self.rows: Counter = Counter()
        self.seconds: Counter = Counter()

    def spec(self, name: str, cols: tuple[str, ...]) -> _Spec:
        key = (name, cols)
        if key in self.specs:
            return self.specs[key]
        from sqlalchemy import JSON

        table = self.metadata.tables[name]
        unknown = [c for c in cols if c not in table.c]
        if unknown:
            raise RuntimeError(f"{name}: no column(s) {', '.join(unknown)}")
        extra_cols, extra = [], []
        for col in table.columns:  # columns added since: their Python default, if they need one
            if col.name in cols:
                continue
            default = col.default
            if default is not None and getattr(default, "is_scalar", False):
                extra_cols.append(col.name)
                extra.append(default.arg)
            elif default is not None and getattr(default, "is_callable", False):
                extra_cols.append(col.name)
                extra.append(default.arg(None))
            elif not col.nullable and col.server_default is None and not col.primary_key:
                raise RuntimeError(f"{name}.{col.name} needs a value the generator does not give")
        all_cols = list(cols) + extra_cols
        s = _Spec()
        s.name = name
        quoted = ", ".join(f'"{c}"' for c in all_cols)
        s.copy_sql = f'COPY "{name}" ({quoted}) FROM STDIN'
        mark = "%s" if self.pg else "?"
        marks = ", ".join([mark] * len(all_cols))
        s.insert_sql = f'INSERT INTO "{name}" ({quoted}) VALUES ({marks})'  # nosec B608 (table and column names of the models)
        s.extra = tuple(extra)
        procs = []
        for i, c in enumerate(all_cols):
            typ = table.c[c].type
            if self.pg:
                if isinstance(typ, JSON):
                    procs.append((i, _dump_json))
            else:
                proc = typ._cached_bind_processor(self.dialect)
                if proc is not None:
                    procs.append((i, proc))
        s.procs = procs
        self.specs[key] = s
        return s

    def write(self, name: str, rows, cols: tuple[str, ...] | None = None) -> int:
        if not rows:
            return 0
        s = self.spec(name, cols or COLUMNS[name])
        t0 = time.perf_counter()
        extra, procs = s.extra, s.procs
        if extra or procs:
            rows = [_process(r + extra if extra else r, procs) for r in rows]
        if self.pg:
            with self.raw.cursor() as cur:
                with cur.copy(s.copy_sql) as copy:
                    write_row = copy.write_row
                    for r in rows:
                        write_row(r)
        else:
            cur = self.raw.cursor()
            cur.executemany(s.insert_sql, rows)
            cur.close()
        self.seconds[name] += time.perf_counter() - t0
        self.rows[name] += len(rows)
        return len(rows)


def _dump_json(value):
    return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _process(row, procs):
    if not procs:
        return row
    row = list(row)
    for i, proc in procs:
        row[i] = proc(row[i])
    return row


# ----------------------------------------------------------------------------- generate

def generate(bind, cases: int, businesses: int, seed: int = 1,
             progress: Callable[[str, int, int], None] | None = None, *,
             password: str | None = None, hash_password: Callable[[str], str] | None = None,
             today: dt.date | None = None) -> Generated:
    """Fill an empty database with ``cases`` cases and ``businesses`` businesses (and the
    agencies, users and everything the cases bring along). Returns rows written per table.

    ``bind``: a SQLAlchemy Engine or Connection (committed here). ``progress(phase, done,
    total)`` is called after each batch. ``password``: every generated user's password
    (default: a random one, returned in ``result.password``); ``hash_password``: the app's
    hasher (``accounts.operations.hash_password``; default argon2-cffi's defaults), called
    once. ``today``: the generation day (default: today in Beijing).
    """
    from sqlalchemy.engine import Connection

    if cases < 0 or businesses < 0:
        raise ValueError("cases and businesses must be 0 or more")
    if isinstance(bind, Connection):
        return _generate(bind, cases, businesses, seed, progress, password, hash_password, today)
    with bind.connect() as conn:
        return _generate(conn, cases, businesses, seed, progress, password, hash_password, today)


def _generate(conn, n_cases, n_businesses, seed, progress, password, hash_password, today):
    from sqlalchemy import text

    import caseflow.models  # noqa: F401  (every table in the metadata)
    from caseflow.core.timeutil import today_local
    from caseflow.extensions import db

    started = time.perf_counter()
    phases: dict[str, float] = {}
    today = today or today_local()
    now = dt.datetime.now(UTC)
    pg = conn.dialect.name == "postgresql"
    for table in ("agency", "user_account", "case_record", "business"):
        if conn.execute(text(f'SELECT 1 FROM "{table}" LIMIT 1')).first() is not None:  # nosec B608 (table name from a constant tuple)
            conn.rollback()
            raise DatabaseNotEmpty(
                f"the database already holds data (table {table} is not empty); the generator "
                "only fills an empty database (run `flask db upgrade` on a new one)")
    start_ids = {t: (conn.execute(text(f'SELECT max(id) FROM "{t}"')).scalar() or 0) + 1  # nosec B608 (table name from ID_TABLES)
                 for t in ID_TABLES}
    new_id = _Ids(start_ids)
    overrides = {d if isinstance(d, dt.date) else dt.date.fromisoformat(d): bool(w)
                 for d, w in conn.execute(text("SELECT day, is_workday FROM calendar_day"))}
    calendar = _MemoCalendar(overrides)
    rng = _FastRandom(seed)
    sink = _Sink(conn, db.metadata)
    report = progress or (lambda phase, done, total: None)

    try:
        if pg:
            conn.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
            dropped = _drop_indexes(conn)
        else:
            dropped = []

        # agencies, units, users ------------------------------------------------------
        t0 = time.perf_counter()
        agencies, staff, users, logins = _people(rng, new_id, now, sink, n_businesses, seed)
        names = tuple(x for a in agencies for x in (a["name"], a["code"]))
        if password is None:
            while True:
                password = "Cf-" + secrets.token_urlsafe(12)
                if not any(passwords.problems(password, u[0], names) for u in users):
                    break
        for username, _agency, _roles in users:
            problems = passwords.problems(password, username, names)
            if problems:
                raise ValueError(f"password refused by the policy ({', '.join(problems)})")
        if hash_password is None:
            from argon2 import PasswordHasher

            hash_password = PasswordHasher().hash
        hashed = hash_password(password)  # once: Argon2 costs ~50 ms a call
        user_rows, role_rows, history_rows = [], [], []
        for u in staff["_users"]:
            user_rows.append((u["id"], u["agency_id"], u["unit_id"], u["username"],
                              u["display_name"], hashed, True, None, 0, None, None, None, now, now))
            role_rows.extend((u["id"], r) for r in u["roles"])
            history_rows.append((new_id("password_history"), u["id"], hashed, now))
        sink.write("user_account", user_rows, (
            "id", "agency_id", "unit_id", "username", "display_name", "password_hash", "active",
            "locale", "failed_logins", "first_failed_at", "locked_until", "last_login_at",
            "password_changed_at", "created_at"))
        sink.write("user_role", role_rows, ("user_id", "role"))
        sink.write("password_history", history_rows,
                   ("id", "user_id", "password_hash", "created_at"))
        _inspection_setup(rng, new_id, now, today, agencies, staff, sink)
        phases["agencies and users"] = time.perf_counter() - t0

        # businesses --------------------------------------------------------------------
        t0 = time.perf_counter()
        done = 0
        for a in agencies:
            n, key, region, aid = a["n_businesses"], a["key"], a["region_code"], a["id"]
            for lo in range(0, n, BUSINESS_CHUNK):
                rows = []
                append = rows.append
                for j in range(lo, min(n, lo + BUSINESS_CHUNK)):
                    append((new_id("business"), aid, *business_fields(key, region, j)))
                sink.write("business", rows)
                done += len(rows)
                report("businesses", done, n_businesses)
        phases["businesses"] = time.perf_counter() - t0

        # cases -------------------------------------------------------------------------
        t0 = time.perf_counter()
        builder = _Builder(rng, today, now, agencies, staff, new_id, calendar, seed)
        build_s = 0.0
        for lo in range(0, n_cases, CHUNK):
            b0 = time.perf_counter()
            out: dict[str, list] = {t: [] for t in CASE_TABLES}
            for k in range(lo, min(n_cases, lo + CHUNK)):
                builder.case(k, out)
            build_s += time.perf_counter() - b0
            for t in CASE_TABLES:
                sink.write(t, out[t])
            report("cases", min(n_cases, lo + CHUNK), n_cases)
        counters = [(aid, year, last) for (aid, year), last in sorted(builder.case_seq.items())]
        sink.write("case_number_counter", counters, ("agency_id", "year", "last_value"))
        phases["cases (building rows in Python)"] = build_s
        phases["cases (total)"] = time.perf_counter() - t0

        # indexes, sequences, statistics -------------------------------------------------
        if pg:
            t0 = time.perf_counter()
            for _table, _name, ddl in dropped:
                conn.execute(text(ddl))
            report("indexes and foreign keys", len(dropped), len(dropped))
            phases["rebuilding indexes and foreign keys"] = time.perf_counter() - t0
            for t in ID_TABLES:
                conn.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('\"{t}\"', 'id'), "  # nosec B608 (table name from ID_TABLES)
                    f"(SELECT COALESCE(max(id), 0) + 1 FROM \"{t}\"), false)"))
        t0 = time.perf_counter()
        conn.commit()
        phases["commit"] = time.perf_counter() - t0
    except BaseException:
        conn.rollback()
        raise

    t0 = time.perf_counter()
    if pg:
        # VACUUM as well: the visibility map lets counts and the draw read their indexes
        # alone (index-only scans), as in a database autovacuum has long since visited
        conn.commit()
        autocommit = conn.execution_options(isolation_level="AUTOCOMMIT")
        autocommit.execute(text("VACUUM (ANALYZE)"))
        autocommit.commit()  # ends SQLAlchemy's autobegun (no-op) transaction
        autocommit.execution_options(isolation_level=conn.default_isolation_level)
        phases["vacuum and analyze"] = time.perf_counter() - t0
    else:
        conn.execute(text("ANALYZE"))
        conn.commit()
        phases["analyze"] = time.perf_counter() - t0

    result = Generated(sorted(sink.rows.items()))
    result.password = password
    result.logins = logins
    result.users = users
    result.seconds = dict(sink.seconds)
    result.phases = phases
    result.elapsed = time.perf_counter() - started
    return result


def _drop_indexes(conn) -> list[tuple[str, str, str]]:
    """PostgreSQL: drop the foreign keys and non-unique secondary indexes of the big tables,
    to be restored after the load in the same transaction (a failure leaves the schema as it
    was). Checking a foreign key row by row (a trigger per key per row) is what makes a bulk
    COPY slow; adding the constraint back validates every row in one join. Returns
    (table, name, statement that restores it), indexes first."""
    from sqlalchemy import text

    tables = list(REINDEXED) + ["case_officer", "referral_team"]
    indexes = conn.execute(text(
        "SELECT t.relname, i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
        "JOIN pg_namespace n ON n.oid = t.relnamespace "
        "WHERE n.nspname = current_schema() AND t.relname = ANY(:tables) "
        "AND NOT x.indisprimary AND NOT x.indisunique "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) "
        "ORDER BY t.relname, i.relname"), {"tables": list(REINDEXED)}).all()
    fkeys = conn.execute(text(
        "SELECT t.relname, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
        "JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
        "WHERE n.nspname = current_schema() AND c.contype = 'f' AND t.relname = ANY(:tables) "
        "ORDER BY t.relname, c.conname"), {"tables": tables}).all()
    restore = []
    for table, index, ddl in indexes:
        conn.execute(text(f'DROP INDEX "{index}"'))
        restore.append((table, index, ddl))
    for table, name, definition in fkeys:
        conn.execute(text(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"'))
        restore.append((table, name, f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}'))
    return restore


def _people(rng, new_id, now, sink, n_businesses, seed):
    """Agencies (with their share of cases and businesses), units and users."""
    agencies, agency_rows, unit_rows = [], [], []
    total_share = sum(a[7] for a in AGENCIES) or 1
    left = n_businesses
    with_directory = [a for a in AGENCIES if a[7]]
    for no, agency in enumerate(AGENCIES):
        code, kind, name, prefix, region, region_code, case_share, biz_share = agency
        aid = new_id("agency")
        if biz_share:
            n_b = left if code == with_directory[-1][0] else n_businesses * biz_share // total_share
            left -= n_b
        else:
            n_b = 0
        org = f"{_mix(seed * 7 + no) % 100_000_000:08d}"
        agencies.append({"id": aid, "code": code, "kind": kind, "name": name, "case_prefix": prefix,
                         "region": region, "region_code": region_code, "case_share": case_share,
                         "n_businesses": n_b, "key": _directory_key(seed, no)})
        agency_rows.append((aid, code, name, kind, region, credit_code("11", region_code, org),
                            prefix, now))
        for unit in UNITS[kind]:
            unit_rows.append((new_id("unit"), aid, unit))
    sink.write("agency", agency_rows, ("id", "code", "name", "kind", "region", "credit_code",
                                       "case_prefix", "created_at"))
    sink.write("unit", unit_rows, ("id", "agency_id", "name"))
    units_of = defaultdict(list)
    for uid, aid, _name in unit_rows:
        units_of[aid].append(uid)

    staff: dict = {"_users": []}
    users: list[tuple[str, str, str]] = []
    logins: dict[str, tuple[str, str]] = {}
    for a in agencies:
        district = a["code"].split("-")[0]
        s = {"names": {}}
        for suffix, roles, count in STAFF[a["kind"]]:
            for i in range(1, count + 1):
                username = f"{district}_{KIND_SHORT[a['kind']]}_{suffix}{i}"
                uid = new_id("user_account")
                display = (rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN))
                staff["_users"].append({"id": uid, "agency_id": a["id"], "username": username,
                                        "unit_id": (units_of[a["id"]] or [None])[0],
                                        "display_name": display, "roles": roles})
                users.append((username, a["code"], ",".join(roles)))
                s["names"][uid] = display
                s.setdefault(suffix, []).append(uid)
                for r in roles:
                    logins.setdefault(r, (username, a["code"]))
        for single in ("reviewer", "approver", "publisher"):
            if single in s:
                s[single] = s[single][0]
        s.setdefault("reviewer", s.get("approver"))
        s.setdefault("publisher", s["officer"][0] if "officer" in s else None)
        if "officer" not in s and "procurator" in s:
            s["officer"] = s["procurator"]
        staff[a["code"]] = s
    return agencies, staff, users, logins


def _inspection_setup(rng, new_id, now, today, agencies, staff, sink) -> None:
    """双随机: the market-supervision bureaus' inspection lists, inspector rosters and a
    yearly plan (no draws: a draw snapshots its whole population)."""
    items, roster, plans, plan_items = [], [], [], []
    for a in agencies:
        if a["kind"] != "market_supervision":
            continue
        s = staff[a["code"]]
        ids_ = []
        for code, name, kind, cap in (("SJ-01", "商标使用行为的检查", "key", None),
                                      ("SJ-02", "专利标识标注行为的检查", "general", Decimal("0.05")),
                                      ("SJ-03", "地理标志使用行为的检查", "general", Decimal("0.05"))):
            iid = new_id("inspection_item")
            ids_.append(iid)
            items.append((iid, a["id"], code, name, kind, cap, "《市场监督管理随机抽查事项清单》", True))
        for uid in s.get("inspector", []) + s.get("officer", []):
            roster.append((new_id("roster_entry"), a["id"], uid, "行政执法证", True))
        pid = new_id("inspection_plan")
        plans.append((pid, a["id"], today.year, f"{today.year}年度知识产权领域双随机抽查计划",
                      dt.date(today.year, 1, 1), dt.date(today.year, 12, 31), s["approver"], now))
        plan_items.append((new_id("plan_item"), pid, ids_[0], {"classes": ["A", "B", "C", "D"]},
                           Decimal("0.03"), None, {"C": "0.1", "D": "0.2"}, 2,
                           dt.date(today.year, 11, 30)))
    sink.write("inspection_item", items, ("id", "agency_id", "code", "name", "kind", "ratio_cap",
                                          "basis", "active"))
    sink.write("roster_entry", roster, ("id", "agency_id", "user_id", "qualifications", "active"))
    sink.write("inspection_plan", plans, ("id", "agency_id", "year", "name", "period_start",
                                          "period_end", "created_by_id", "created_at"))
    sink.write("plan_item", plan_items, ("id", "plan_id", "item_id", "filters", "ratio", "count",
                                         "class_ratios", "inspectors_per_target", "due_date"))
