"""Reference data for the quality-credit system, as plain constants plus small validators.

* :data:`REGIONS` – the 33 镇街 (town / sub-district level units) of 东莞市:
  4 街道, 28 镇 and 松山湖高新区.
* :data:`INDUSTRY_SECTIONS` and :data:`INDUSTRY_DIVISIONS` – the 门类 (sections
  A–T) and 大类 (divisions 01–97) of GB/T 4754-2017 《国民经济行业分类》.
* :data:`SCALES` – enterprise scale: 规上 (规模以上, above designated size) or 规下.

This module is pure Python (standard library only).
"""

from __future__ import annotations

__all__ = [
    "INDUSTRY_DIVISIONS",
    "INDUSTRY_SECTIONS",
    "REGIONS",
    "SCALES",
    "industry_label",
    "validate_industry",
    "validate_scale",
]

#: The 镇街 of 东莞市: 4 街道, 28 镇 and 松山湖高新区 (33 entries).
REGIONS: tuple[str, ...] = (
    # 街道
    "莞城街道",
    "南城街道",
    "东城街道",
    "万江街道",
    # 镇
    "石碣镇",
    "石龙镇",
    "茶山镇",
    "石排镇",
    "企石镇",
    "横沥镇",
    "桥头镇",
    "谢岗镇",
    "东坑镇",
    "常平镇",
    "寮步镇",
    "樟木头镇",
    "大朗镇",
    "黄江镇",
    "清溪镇",
    "塘厦镇",
    "凤岗镇",
    "大岭山镇",
    "长安镇",
    "虎门镇",
    "厚街镇",
    "沙田镇",
    "道滘镇",
    "洪梅镇",
    "麻涌镇",
    "望牛墩镇",
    "中堂镇",
    "高埗镇",
    # 功能区
    "松山湖高新区",
)

#: GB/T 4754-2017 门类: section letter → Chinese name.
INDUSTRY_SECTIONS: dict[str, str] = {
    "A": "农、林、牧、渔业",
    "B": "采矿业",
    "C": "制造业",
    "D": "电力、热力、燃气及水生产和供应业",
    "E": "建筑业",
    "F": "批发和零售业",
    "G": "交通运输、仓储和邮政业",
    "H": "住宿和餐饮业",
    "I": "信息传输、软件和信息技术服务业",
    "J": "金融业",
    "K": "房地产业",
    "L": "租赁和商务服务业",
    "M": "科学研究和技术服务业",
    "N": "水利、环境和公共设施管理业",
    "O": "居民服务、修理和其他服务业",
    "P": "教育",
    "Q": "卫生和社会工作",
    "R": "文化、体育和娱乐业",
    "S": "公共管理、社会保障和社会组织",
    "T": "国际组织",
}

#: GB/T 4754-2017 大类: two-digit division code → (section letter, Chinese name).
INDUSTRY_DIVISIONS: dict[str, tuple[str, str]] = {
    # A 农、林、牧、渔业
    "01": ("A", "农业"),
    "02": ("A", "林业"),
    "03": ("A", "畜牧业"),
    "04": ("A", "渔业"),
    "05": ("A", "农、林、牧、渔专业及辅助性活动"),
    # B 采矿业
    "06": ("B", "煤炭开采和洗选业"),
    "07": ("B", "石油和天然气开采业"),
    "08": ("B", "黑色金属矿采选业"),
    "09": ("B", "有色金属矿采选业"),
    "10": ("B", "非金属矿采选业"),
    "11": ("B", "开采专业及辅助性活动"),
    "12": ("B", "其他采矿业"),
    # C 制造业
    "13": ("C", "农副食品加工业"),
    "14": ("C", "食品制造业"),
    "15": ("C", "酒、饮料和精制茶制造业"),
    "16": ("C", "烟草制品业"),
    "17": ("C", "纺织业"),
    "18": ("C", "纺织服装、服饰业"),
    "19": ("C", "皮革、毛皮、羽毛及其制品和制鞋业"),
    "20": ("C", "木材加工和木、竹、藤、棕、草制品业"),
    "21": ("C", "家具制造业"),
    "22": ("C", "造纸和纸制品业"),
    "23": ("C", "印刷和记录媒介复制业"),
    "24": ("C", "文教、工美、体育和娱乐用品制造业"),
    "25": ("C", "石油、煤炭及其他燃料加工业"),
    "26": ("C", "化学原料和化学制品制造业"),
    "27": ("C", "医药制造业"),
    "28": ("C", "化学纤维制造业"),
    "29": ("C", "橡胶和塑料制品业"),
    "30": ("C", "非金属矿物制品业"),
    "31": ("C", "黑色金属冶炼和压延加工业"),
    "32": ("C", "有色金属冶炼和压延加工业"),
    "33": ("C", "金属制品业"),
    "34": ("C", "通用设备制造业"),
    "35": ("C", "专用设备制造业"),
    "36": ("C", "汽车制造业"),
    "37": ("C", "铁路、船舶、航空航天和其他运输设备制造业"),
    "38": ("C", "电气机械和器材制造业"),
    "39": ("C", "计算机、通信和其他电子设备制造业"),
    "40": ("C", "仪器仪表制造业"),
    "41": ("C", "其他制造业"),
    "42": ("C", "废弃资源综合利用业"),
    "43": ("C", "金属制品、机械和设备修理业"),
    # D 电力、热力、燃气及水生产和供应业
    "44": ("D", "电力、热力生产和供应业"),
    "45": ("D", "燃气生产和供应业"),
    "46": ("D", "水的生产和供应业"),
    # E 建筑业
    "47": ("E", "房屋建筑业"),
    "48": ("E", "土木工程建筑业"),
    "49": ("E", "建筑安装业"),
    "50": ("E", "建筑装饰、装修和其他建筑业"),
    # F 批发和零售业
    "51": ("F", "批发业"),
    "52": ("F", "零售业"),
    # G 交通运输、仓储和邮政业
    "53": ("G", "铁路运输业"),
    "54": ("G", "道路运输业"),
    "55": ("G", "水上运输业"),
    "56": ("G", "航空运输业"),
    "57": ("G", "管道运输业"),
    "58": ("G", "多式联运和运输代理业"),
    "59": ("G", "装卸搬运和仓储业"),
    "60": ("G", "邮政业"),
    # H 住宿和餐饮业
    "61": ("H", "住宿业"),
    "62": ("H", "餐饮业"),
    # I 信息传输、软件和信息技术服务业
    "63": ("I", "电信、广播电视和卫星传输服务"),
    "64": ("I", "互联网和相关服务"),
    "65": ("I", "软件和信息技术服务业"),
    # J 金融业
    "66": ("J", "货币金融服务"),
    "67": ("J", "资本市场服务"),
    "68": ("J", "保险业"),
    "69": ("J", "其他金融业"),
    # K 房地产业
    "70": ("K", "房地产业"),
    # L 租赁和商务服务业
    "71": ("L", "租赁业"),
    "72": ("L", "商务服务业"),
    # M 科学研究和技术服务业
    "73": ("M", "研究和试验发展"),
    "74": ("M", "专业技术服务业"),
    "75": ("M", "科技推广和应用服务业"),
    # N 水利、环境和公共设施管理业
    "76": ("N", "水利管理业"),
    "77": ("N", "生态保护和环境治理业"),
    "78": ("N", "公共设施管理业"),
    "79": ("N", "土地管理业"),
    # O 居民服务、修理和其他服务业
    "80": ("O", "居民服务业"),
    "81": ("O", "机动车、电子产品和日用产品修理业"),
    "82": ("O", "其他服务业"),
    # P 教育
    "83": ("P", "教育"),
    # Q 卫生和社会工作
    "84": ("Q", "卫生"),
    "85": ("Q", "社会工作"),
    # R 文化、体育和娱乐业
    "86": ("R", "新闻和出版业"),
    "87": ("R", "广播、电视、电影和录音制作业"),
    "88": ("R", "文化艺术业"),
    "89": ("R", "体育"),
    "90": ("R", "娱乐业"),
    # S 公共管理、社会保障和社会组织
    "91": ("S", "中国共产党机关"),
    "92": ("S", "国家机构"),
    "93": ("S", "人民政协、民主党派"),
    "94": ("S", "社会保障"),
    "95": ("S", "群众团体、社会团体和其他成员组织"),
    "96": ("S", "基层群众自治组织及其他组织"),
    # T 国际组织
    "97": ("T", "国际组织"),
}

#: Enterprise scale: 规模以上 / 规模以下.
SCALES: tuple[str, ...] = ("规上", "规下")

_STANDARD = "GB/T 4754-2017"


def validate_industry(code: str) -> str:
    """Validate an industry code and return it normalised (surrounding whitespace stripped).

    Accepted forms are a GB/T 4754-2017 门类 letter (``"C"``) or a 门类 letter
    followed by a two-digit 大类 code belonging to that section (``"C39"``).
    Letters must be upper case.

    :raises ValueError: with a Chinese message naming the problem.
    """
    if not isinstance(code, str):
        # ValueError (not TypeError) on purpose: callers validating form input catch ValueError.
        raise ValueError(f"行业代码必须是字符串,实为 {type(code).__name__}")
    value = code.strip()
    if not value:
        raise ValueError("行业代码不能为空,应为门类字母(如 C)或门类字母加两位大类代码(如 C39)")

    letter, division = value[0], value[1:]
    if "a" <= letter <= "z":
        raise ValueError(f"行业代码 {value!r} 的门类字母必须大写(应为 {letter.upper()!r})")
    if letter not in INDUSTRY_SECTIONS:
        raise ValueError(f"行业代码 {value!r} 的门类 {letter!r} 不存在:{_STANDARD} 门类为 A–T 的大写字母")
    if not division:
        return value
    if len(division) != 2 or not (division.isascii() and division.isdigit()):
        raise ValueError(f"行业代码 {value!r} 格式错误:门类字母后应为两位数字大类代码(如 C39),实为 {division!r}")
    if division not in INDUSTRY_DIVISIONS:
        raise ValueError(f"行业代码 {value!r} 错误:大类 {division} 不在 {_STANDARD} 中(大类为 01–97)")
    section, name = INDUSTRY_DIVISIONS[division]
    if section != letter:
        raise ValueError(
            f"行业代码 {value!r} 错误:大类 {division}({name})属于门类 {section}"
            f"({INDUSTRY_SECTIONS[section]}),不属于门类 {letter}({INDUSTRY_SECTIONS[letter]})"
        )
    return value


def industry_label(code: str) -> str:
    """Return a human-readable label, e.g. ``"C39 计算机、通信和其他电子设备制造业"`` or ``"C 制造业"``.

    :raises ValueError: if ``code`` is not a valid industry code (see :func:`validate_industry`).
    """
    value = validate_industry(code)
    if len(value) == 1:
        return f"{value} {INDUSTRY_SECTIONS[value]}"
    return f"{value} {INDUSTRY_DIVISIONS[value[1:]][1]}"


def validate_scale(value: str) -> str:
    """Validate an enterprise scale (``"规上"`` or ``"规下"``) and return it stripped.

    :raises ValueError: with a Chinese message if the value is not one of :data:`SCALES`.
    """
    if not isinstance(value, str):
        raise ValueError(f"企业规模必须是字符串,实为 {type(value).__name__}")
    stripped = value.strip()
    if stripped not in SCALES:
        raise ValueError(f"企业规模 {value!r} 无效:只能为 {'、'.join(SCALES)}(规模以上 / 规模以下)")
    return stripped
