"""Deterministic generator of a realistic synthetic Dongguan-like (东莞市) firm population.

Every generated firm has a valid 统一社会信用代码 (GB 32100-2015, see
:mod:`credit.uscc`), a GB/T 4754-2017 industry code (see
:mod:`credit.reference`), a 镇街 of 东莞市 and a scale (规上 / 规下).  The data
are synthetic: the codes are checksum-valid but are not meant to identify real
enterprises.

This module is pure Python (standard library only).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from itertools import accumulate

from credit.reference import REGIONS, SCALES
from credit.uscc import ALPHABET, org_code_check_char, uscc_check_char

__all__ = ["INDUSTRY_MIX", "generate_events", "generate_firms", "iter_events", "iter_firms"]

#: 登记管理部门码 9 (工商) + 机构类别码 1 (企业).
_USCC_HEAD = "91"
#: Administrative division code under which Dongguan firms are registered
#: (东莞市 is a prefecture-level city without districts).
_DIVISION = "441900"

#: Industry code → (relative weight, words used in firm names).  Weighted like
#: Dongguan: mostly manufacturing, electronics first.
INDUSTRY_MIX: dict[str, tuple[int, tuple[str, ...]]] = {
    "C39": (180, ("电子科技", "电子", "光电科技", "通讯科技", "智能科技", "半导体科技")),
    "C38": (110, ("电器", "电气", "照明科技", "电源科技", "电线电缆", "电池科技")),
    "C34": (80, ("精密机械", "机械设备", "自动化设备", "机电设备")),
    "C33": (90, ("五金制品", "金属制品", "五金模具", "精密五金")),
    "C29": (80, ("塑胶制品", "塑料制品", "橡塑制品", "硅胶制品")),
    "C24": (50, ("玩具", "文具", "体育用品", "工艺品")),
    "C21": (45, ("家具", "家居用品", "实木家具")),
    "C19": (35, ("鞋业", "皮具", "鞋材")),
    "C18": (45, ("服饰", "制衣", "服装", "针织服饰")),
    "C14": (20, ("食品", "饼业", "饮品")),
    "C13": (15, ("粮油", "饲料", "农产品加工")),
    "C26": (25, ("化工", "新材料", "涂料", "胶粘剂")),
    "F51": (60, ("贸易", "商贸", "进出口", "供应链管理")),
    "F52": (40, ("百货", "商业连锁", "超市")),
    "G54": (15, ("运输", "货运")),
    "G58": (15, ("物流", "国际货运代理")),
    "G59": (10, ("仓储", "仓储服务")),
    "I65": (30, ("软件科技", "信息技术", "网络科技")),
    "M73": (10, ("科技研发", "技术研究")),
    "M74": (15, ("检测技术", "工程设计", "认证服务")),
    "M75": (10, ("科技服务", "技术推广")),
}

#: Relative weights of the 镇街 (manufacturing towns weighted up).
_REGION_WEIGHTS: dict[str, int] = {
    "莞城街道": 2,
    "南城街道": 4,
    "东城街道": 4,
    "万江街道": 3,
    "石碣镇": 4,
    "石龙镇": 2,
    "茶山镇": 3,
    "石排镇": 3,
    "企石镇": 2,
    "横沥镇": 3,
    "桥头镇": 3,
    "谢岗镇": 2,
    "东坑镇": 2,
    "常平镇": 5,
    "寮步镇": 5,
    "樟木头镇": 3,
    "大朗镇": 5,
    "黄江镇": 4,
    "清溪镇": 5,
    "塘厦镇": 6,
    "凤岗镇": 5,
    "大岭山镇": 5,
    "长安镇": 8,
    "虎门镇": 7,
    "厚街镇": 6,
    "沙田镇": 2,
    "道滘镇": 2,
    "洪梅镇": 1,
    "麻涌镇": 2,
    "望牛墩镇": 1,
    "中堂镇": 2,
    "高埗镇": 2,
    "松山湖高新区": 4,
}

#: Syllables for 字号 (trade names).
_TRADE_SYLLABLES: tuple[str, ...] = tuple(
    dict.fromkeys(
        "华盛鑫达宏源丰泰永富利兴裕和嘉信金德长恒通荣昌隆瑞祥佳美创新骏众联立正光明成安润博宝汇海森"
        "科凯豪锦顺升星诚辉耀晶越弘腾迅峰力威俊翔卓启益全万东南莞粤伟远展亿协域欣宇鸿鹏捷胜洋志精铭"
        "思晟奥特尔普维拓领航智微芯驰迪雅格朗乐天高中大亚欧锐泓煌晖灿茂鼎冠杰庆康健福禾盈运旺振际"
    )
)

#: Common surnames, weighted towards Guangdong.
_SURNAMES: tuple[tuple[str, int], ...] = (
    ("陈", 60),
    ("李", 45),
    ("黄", 40),
    ("张", 35),
    ("梁", 25),
    ("林", 25),
    ("刘", 30),
    ("王", 30),
    ("叶", 18),
    ("钟", 15),
    ("何", 18),
    ("罗", 15),
    ("邓", 14),
    ("周", 12),
    ("吴", 14),
    ("郑", 10),
    ("杨", 14),
    ("谢", 10),
    ("袁", 8),
    ("莫", 6),
    ("麦", 6),
    ("卢", 8),
    ("蔡", 8),
    ("曾", 9),
    ("彭", 6),
    ("赖", 6),
    ("朱", 8),
    ("徐", 7),
    ("许", 7),
    ("冯", 6),
    ("苏", 6),
    ("邱", 6),
    ("方", 5),
    ("温", 5),
    ("赵", 8),
    ("孙", 6),
    ("马", 5),
    ("胡", 6),
    ("郭", 6),
    ("高", 5),
    ("唐", 5),
    ("萧", 5),
    ("江", 4),
    ("潘", 4),
    ("欧阳", 2),
    ("司徒", 1),
)

#: Characters for given names (1 or 2 of them).
_GIVEN_CHARS: tuple[str, ...] = tuple(
    dict.fromkeys(
        "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红建文辉力斌宇浩凯健俊峰志鹏飞婷雪琳"
        "晓海波东国荣家豪子轩思怡梓欣嘉诗颖锦泽晨阳佳宏立新永春燕丹慧琴振德成龙坤伦卓瑞祥耀彬淑惠"
    )
)

#: Road-name stems for addresses.
_ROAD_STEMS: tuple[str, ...] = (
    "工业",
    "兴业",
    "振兴",
    "环城",
    "新城",
    "创业",
    "富民",
    "金龙",
    "科技",
    "东风",
    "人民",
    "建设",
    "沿江",
    "莞樟",
    "莞长",
    "莞太",
    "松山",
    "园区",
    "广场",
    "宏图",
    "鸿福",
    "迎宾",
    "长青",
    "创新",
    "锦绣",
    "育才",
    "南兴",
    "北环",
    "东环",
    "西城",
)

_DIGITS = "0123456789"


def _cumulative(weights: list[int]) -> list[int]:
    return list(accumulate(weights))


def _make_uscc(rng: random.Random) -> str:
    """Build a valid USCC with a random organisation-code body.

    About 70 % of bodies are post-2015 style (``MA`` + 6 alphabet characters),
    the rest legacy all-digit organisation codes.
    """
    body = "MA" + "".join(rng.choices(ALPHABET, k=6)) if rng.random() < 0.7 else "".join(rng.choices(_DIGITS, k=8))
    first17 = _USCC_HEAD + _DIVISION + body + org_code_check_char(body)
    return first17 + uscc_check_char(first17)


def generate_firms(n: int, seed: int = 2026) -> list[dict]:
    """The ``n`` firms of :func:`iter_firms` as a list."""
    return list(iter_firms(n, seed=seed))


def iter_firms(n: int, seed: int = 2026) -> Iterator[dict]:
    """Generate ``n`` synthetic firms of a Dongguan-like city, deterministically for a given ``seed``.

    Each firm is a dict with keys ``uscc``, ``name``, ``legal_representative``,
    ``address``, ``region``, ``industry`` and ``scale``.  USCCs and names are
    unique; every USCC passes :func:`credit.uscc.validate_uscc`, every industry
    :func:`credit.reference.validate_industry`, every scale
    :func:`credit.reference.validate_scale` and every region is in
    :data:`credit.reference.REGIONS`.  About 20 % of firms are 规上.

    :raises ValueError: if ``n`` is negative.
    """
    if n < 0:
        raise ValueError(f"企业数量不能为负数:{n}")
    rng = random.Random(seed)

    industries = list(INDUSTRY_MIX)
    industry_cum = _cumulative([INDUSTRY_MIX[k][0] for k in industries])
    regions = list(REGIONS)
    region_cum = _cumulative([_REGION_WEIGHTS[r] for r in regions])
    surnames = [s for s, _ in _SURNAMES]
    surname_cum = _cumulative([w for _, w in _SURNAMES])
    scale_above, scale_below = SCALES

    seen_uscc: set[str] = set()
    seen_names: set[str] = set()
    choices = rng.choices
    random_ = rng.random
    randint = rng.randint

    for _ in range(n):
        uscc = _make_uscc(rng)
        while uscc in seen_uscc:
            uscc = _make_uscc(rng)
        seen_uscc.add(uscc)

        industry = choices(industries, cum_weights=industry_cum)[0]
        words = INDUSTRY_MIX[industry][1]
        while True:
            trade = "".join(choices(_TRADE_SYLLABLES, k=2 if random_() < 0.6 else 3))
            suffix = "股份有限公司" if random_() < 0.05 else "有限公司"
            name = f"东莞市{trade}{words[int(random_() * len(words))]}{suffix}"
            if name not in seen_names:
                break
        seen_names.add(name)

        surname = choices(surnames, cum_weights=surname_cum)[0]
        given = "".join(choices(_GIVEN_CHARS, k=1 if random_() < 0.3 else 2))

        region = choices(regions, cum_weights=region_cum)[0]
        road = _ROAD_STEMS[int(random_() * len(_ROAD_STEMS))]
        address = f"东莞市{region}{road}路{randint(1, 388)}号"

        yield {
            "uscc": uscc,
            "name": name,
            "legal_representative": surname + given,
            "address": address,
            "region": region,
            "industry": industry,
            "scale": scale_above if random_() < 0.2 else scale_below,
        }


_AUTHORITY = "东莞市市场监督管理局"
_PRODUCTS = (
    "电热水壶",
    "电源适配器",
    "儿童玩具",
    "皮鞋",
    "童装",
    "LED 灯具",
    "插头插座",
    "塑料水杯",
    "办公椅",
    "电线电缆",
)
_WINDOW_DAYS = 4 * 365


def generate_events(firms: list[dict], *, today: date, seed: int = 2026) -> list[dict]:
    """The events of :func:`iter_events` for a list of firms, as a list."""
    return list(iter_events(firms, count=len(firms), today=today, seed=seed))


def iter_events(firms: Iterable[dict], *, count: int, today: date, seed: int = 2026) -> Iterator[dict]:
    """A plausible credit history for each of `count` firms over the last four years, deterministic for a
    seed, firm after firm (a re-check right after the failure it closes), so a caller can stream it.

    Most firms have a spot check or two and pass; some fail (and usually rectify); a few are penalised,
    fewer heavily; 规上 firms more often hold certifications, awards, brand titles and a 首席质量官. Each
    dict has the import-file fields plus `rectifies_document_no` for re-checks."""
    rng = random.Random(seed * 7919 + count)
    events: list[dict] = []
    counter = 0

    def add(firm: dict, event_type: str, days_ago: int, **extra: object) -> dict:
        nonlocal counter
        counter += 1
        occurred = today - timedelta(days=max(1, days_ago))
        row = {
            "uscc": firm["uscc"],
            "event_type": event_type,
            "occurred_on": occurred,
            "document_no": f"东市监〔{occurred.year}〕{counter:06d}号",
            "authority": _AUTHORITY,
            "severity": None,
            "amount": None,
            "product": "",
            "valid_until": None,
            "description": "",
            "person_name": "",
            "certificate_no": "",
            "rectifies_document_no": "",
            **extra,
        }
        events.append(row)
        return row

    for firm in firms:
        large = firm["scale"] == "规上"
        for _ in range(rng.choices((0, 1, 2, 3), (20, 45, 25, 10))[0]):
            add(firm, "spot_check_pass", rng.randint(1, _WINDOW_DAYS), product=rng.choice(_PRODUCTS))
        if rng.random() < 0.18:
            severity = "serious" if rng.random() < 0.3 else "general"
            days = rng.randint(30, _WINDOW_DAYS)
            fail = add(firm, "spot_check_fail", days, severity=severity, product=rng.choice(_PRODUCTS))
            if rng.random() < 0.7:
                add(
                    firm,
                    "rectified",
                    days - rng.randint(20, 90),
                    product=fail["product"],
                    rectifies_document_no=fail["document_no"],
                )
            if rng.random() < 0.25:
                add(
                    firm,
                    "spot_check_fail",
                    rng.randint(1, _WINDOW_DAYS),
                    severity="general",
                    product=rng.choice(_PRODUCTS),
                )
        if rng.random() < 0.06:
            heavy = rng.random() < 0.2
            add(
                firm,
                "penalty",
                rng.randint(1, _WINDOW_DAYS),
                severity="heavy" if heavy else "general",
                amount=str(rng.choice((5000, 8000, 20000, 50000, 120000, 300000)) * (3 if heavy else 1)),
                product=rng.choice(_PRODUCTS),
            )
        if rng.random() < 0.05:
            add(firm, "complaint_substantiated", rng.randint(1, 365))
        if rng.random() < 0.02:
            add(firm, "interview", rng.randint(1, 365))
        if rng.random() < 0.01:
            add(firm, "recall_voluntary", rng.randint(1, 365), product=rng.choice(_PRODUCTS))
        if rng.random() < 0.004:
            add(firm, rng.choice(("spot_check_refused", "serious_dishonesty")), rng.randint(1, _WINDOW_DAYS))
        if rng.random() < (0.5 if large else 0.15):
            days = rng.randint(30, _WINDOW_DAYS)
            add(firm, "certification", days, valid_until=today - timedelta(days=days) + timedelta(days=3 * 365))
        if large and rng.random() < 0.5:
            add(
                firm,
                "cqo_appointed",
                rng.randint(60, _WINDOW_DAYS),
                person_name=rng.choice(_SURNAMES)[0] + "".join(rng.choices(_GIVEN_CHARS, k=2)),
                certificate_no=f"ZLG-{counter:06d}",
            )
        if large and rng.random() < 0.08:
            days = rng.randint(30, 3 * 365)
            add(
                firm,
                "famous_brand",
                days,
                valid_until=today - timedelta(days=days) + timedelta(days=3 * 365),
                product=rng.choice(_PRODUCTS),
            )
        if large and rng.random() < 0.05:
            add(firm, rng.choice(("award_municipal", "award_municipal", "award_provincial")), rng.randint(30, 3 * 365))
        if rng.random() < (0.3 if large else 0.05):
            add(firm, "credit_report", rng.randint(1, 365))
        if large and rng.random() < 0.1:
            add(firm, "standard_leadership", rng.randint(30, 3 * 365))
        yield from events
        events.clear()
