"""Validation of the 统一社会信用代码 (Unified Social Credit Identifier, USCC).

The code is defined by GB 32100-2015 《法人和其他组织统一社会信用代码编码规则》.
It has 18 characters:

====  ===========================================================
 pos  meaning
====  ===========================================================
   1  登记管理部门码 (registration authority, e.g. ``9`` = 工商; :data:`AUTHORITIES`)
   2  机构类别码 (organisation type, e.g. ``1`` = 企业; only the types of the authority)
 3-8  登记管理机关行政区划码 (GB/T 2260 administrative division)
9-17  主体标识码 (organisation code, GB 11714-1997, incl. its check digit)
  18  校验码 (check character, GB 32100-2015 §5 / 附录 A)
====  ===========================================================

Characters are taken from the 31-symbol alphabet ``0-9`` plus the capital
letters without ``I``, ``O``, ``S``, ``V`` and ``Z``.  The value of a character
is its index in :data:`ALPHABET`.

The organisation code (positions 9-17) follows GB 11714-1997: its 9th
character is a modulus-11 check over the first eight, with weights
``3, 7, 9, 10, 5, 8, 4, 2``, digits counting as their value and letters
``A``-``Z`` as ``ord(c) - 55`` (A = 10 ... Z = 35).

The 18th character is a modulus-31 check over the first 17, with weights
``3**(i-1) mod 31``.

This module is pure Python (standard library only).
"""

from __future__ import annotations

from collections.abc import Container
from functools import lru_cache

__all__ = [
    "ALPHABET",
    "AUTHORITIES",
    "CHECKSUM_RULES",
    "ORG_WEIGHTS",
    "PILOT_HINT",
    "RULES",
    "USCC_WEIGHTS",
    "UsccError",
    "is_valid_uscc",
    "org_code_check_char",
    "uscc_check_char",
    "validate_uscc",
]

#: The GB 32100-2015 code alphabet; a character's value is its index.
ALPHABET: str = "0123456789ABCDEFGHJKLMNPQRTUWXY"

_VALUE: dict[str, int] = {c: i for i, c in enumerate(ALPHABET)}

#: Weights of positions 1-17 for the final check character (3**(i-1) mod 31).
USCC_WEIGHTS: tuple[int, ...] = tuple(pow(3, i, 31) for i in range(17))

#: Weights of positions 1-8 of the GB 11714 organisation code.
ORG_WEIGHTS: tuple[int, ...] = (3, 7, 9, 10, 5, 8, 4, 2)

#: Letters excluded from the USCC alphabet.
_FORBIDDEN_LETTERS = frozenset("IOSVZ")

#: GB 32100-2015 表 1 (with the later assignments of the national standards body): the registration
#: authority (position 1) and, for each, the organisation types (position 2) it may issue.
AUTHORITIES: dict[str, tuple[str, dict[str, str]]] = {
    "1": ("机构编制", {"1": "机关", "2": "事业单位", "3": "中央编办直接管理机构编制的群众团体", "9": "其他"}),
    "2": ("外交", {"1": "外国常驻新闻机构", "9": "其他"}),
    "3": (
        "司法行政",
        {
            "1": "律师执业机构",
            "2": "公证处",
            "3": "基层法律服务所",
            "4": "司法鉴定机构",
            "5": "仲裁委员会",
            "9": "其他",
        },
    ),
    "4": ("文化", {"1": "外国在华文化中心", "9": "其他"}),
    "5": ("民政", {"1": "社会团体", "2": "民办非企业单位", "3": "基金会", "9": "其他"}),
    "6": (
        "旅游",
        {"1": "外国旅游部门常驻代表机构", "2": "港澳台地区旅游部门常驻内地（大陆）代表机构", "9": "其他"},
    ),
    "7": ("宗教", {"1": "宗教活动场所", "2": "宗教院校", "9": "其他"}),
    "8": ("工会", {"1": "基层工会", "9": "其他"}),
    "9": ("工商", {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"}),
    "A": ("中央军委改革和编制办公室", {"1": "军队事业单位", "9": "其他"}),
    "N": ("农业", {"1": "组级集体经济组织", "2": "村级集体经济组织", "3": "乡镇级集体经济组织", "9": "其他"}),
    "Y": ("其他", {"1": "其他"}),
}

#: Rule code → short Chinese description, in the order the rules are checked.
RULES: dict[str, str] = {
    "length": "长度必须为18位",
    "charset": "只能包含数字和大写字母(不含 I、O、S、V、Z)",
    "authority": "第1-2位登记管理部门码和机构类别码必须是 GB 32100-2015 表1 所列的组合",
    "division": "第3-8位登记管理机关行政区划码必须为6位数字",
    "org_check": "第9-17位主体标识码(组织机构代码)校验位必须符合 GB 11714 规则",
    "check_char": "第18位校验码必须符合 GB 32100-2015 规则",
}


#: The rules a legal pilot code (issued before the check rules applied) may fail: only the check
#: characters. Every other rule holds for every code, pilot or not.
CHECKSUM_RULES: frozenset[str] = frozenset({"org_check", "check_char"})
#: Added to a check-character refusal where a recorded exception would have accepted the code.
PILOT_HINT = "；如为合法的试点代码，须由管理员先登记例外"


class UsccError(ValueError):
    """A USCC failed one of the :data:`RULES`.

    :ivar rule: the rule code (a key of :data:`RULES`).
    :ivar message: a Chinese message naming the rule and, where there is one,
        the expected value.
    """

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message

    def __str__(self) -> str:
        return self.message


def _gb11714_value(char: str) -> int:
    """Value of a character in a GB 11714 organisation code (A=10 … Z=35)."""
    if "0" <= char <= "9":
        return ord(char) - 48
    if "A" <= char <= "Z":
        return ord(char) - 55
    raise ValueError(f"组织机构代码中不允许出现字符 {char!r}")


def org_code_check_char(first8: str) -> str:
    """Return the GB 11714 check character for the first eight organisation-code characters.

    ``check = 11 - (Σ value(cᵢ)·wᵢ mod 11)`` with weights ``3,7,9,10,5,8,4,2``;
    a result of 10 is written ``X`` and 11 is written ``0``.

    :raises ValueError: if ``first8`` is not eight digits / capital letters.
    """
    if len(first8) != 8:
        raise ValueError(f"组织机构代码本体应为8位,实为{len(first8)}位")
    total = sum(_gb11714_value(c) * w for c, w in zip(first8, ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    if check == 10:
        return "X"
    if check == 11:
        return "0"
    return str(check)


def uscc_check_char(first17: str) -> str:
    """Return the GB 32100-2015 check character (18th position) for the first 17 characters.

    ``check = (31 - Σ value(cᵢ)·3^(i-1) mod 31) mod 31``, mapped back through
    :data:`ALPHABET`.

    :raises ValueError: if ``first17`` is not 17 characters of :data:`ALPHABET`.
    """
    if len(first17) != 17:
        raise ValueError(f"统一社会信用代码前17位应为17位,实为{len(first17)}位")
    try:
        total = sum(_VALUE[c] * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    except KeyError as exc:
        raise ValueError(f"统一社会信用代码中不允许出现字符 {exc.args[0]!r}") from None
    return ALPHABET[(31 - total % 31) % 31]


def _charset_error(char: str, position: int) -> UsccError:
    if "a" <= char <= "z":
        detail = f"小写字母 {char!r},统一社会信用代码中的字母必须大写(应为 {char.upper()!r})"
        if char.upper() in _FORBIDDEN_LETTERS:
            detail += f",且字母 {char.upper()} 不在代码字符集中"
    elif char in _FORBIDDEN_LETTERS:
        detail = f"字母 {char!r},该字母不在代码字符集中(不使用 I、O、S、V、Z)"
    elif char.isspace():
        detail = "空白字符"
    elif not char.isascii():
        detail = f"非ASCII字符 {char!r}(全角字符或汉字),只允许半角数字和大写字母"
    else:
        detail = f"字符 {char!r}"
    return UsccError(
        "charset",
        f"统一社会信用代码含非法字符:第{position}位为{detail}(GB 32100-2015 代码字符集)",
    )


def validate_uscc(code: str, *, pilot_codes: Container[str] = ()) -> str:
    """Validate a 统一社会信用代码 and return it normalised (surrounding whitespace stripped).

    A code in ``pilot_codes`` (the exceptions an admin recorded, credit.services.pilot_codes) is accepted
    when the only rule it fails is a check character (:data:`CHECKSUM_RULES`).

    Valid codes are remembered (a bulk import names the same firms again and again); a refusal is
    computed each time, so its message is always the one below.

    Rules are checked in the order of :data:`RULES`; the first failing rule is
    reported.  The code is **not** upper-cased: lowercase letters fail the
    ``charset`` rule.

    :raises UsccError: with ``rule`` set to the failing rule code.
    """
    if not isinstance(code, str):
        raise UsccError("length", f"统一社会信用代码必须是字符串,实为 {type(code).__name__}")
    code = code.strip()
    try:
        return _validated(code)
    except UsccError as exc:
        if exc.rule in CHECKSUM_RULES and code in pilot_codes:
            return code
        raise


@lru_cache(maxsize=1 << 16)
def _validated(code: str) -> str:

    if len(code) != 18:
        if not code:
            message = "统一社会信用代码长度错误:不能为空,应为18位"
        else:
            message = f"统一社会信用代码长度错误:应为18位,实为{len(code)}位"
        raise UsccError("length", message)

    for position, char in enumerate(code, start=1):
        if char not in _VALUE:
            raise _charset_error(char, position)

    authority = AUTHORITIES.get(code[0])
    if authority is None:
        raise UsccError(
            "authority",
            f"统一社会信用代码登记管理部门码错误：第1位 {code[0]!r} 不是 GB 32100-2015 规定的登记管理部门码"
            f"（{'、'.join(AUTHORITIES)}）",
        )
    if code[1] not in authority[1]:
        raise UsccError(
            "authority",
            f"统一社会信用代码机构类别码错误：登记管理部门 {code[0]}（{authority[0]}）下没有机构类别 {code[1]!r}"
            f"（可为 {'、'.join(authority[1])}）",
        )

    division = code[2:8]
    if not division.isdigit():
        bad = next(i for i, c in enumerate(division, start=3) if not c.isdigit())
        raise UsccError(
            "division",
            f"统一社会信用代码行政区划码错误:第3-8位应为6位数字,实为 {division}(第{bad}位为 {code[bad - 1]!r})",
        )

    org = code[8:17]
    expected_org = org_code_check_char(org[:8])
    if org[8] != expected_org:
        raise UsccError(
            "org_check",
            f"统一社会信用代码主体标识码校验位错误:第17位应为 {expected_org},实为 {org[8]}"
            f"(组织机构代码 {org[:8]}-{org[8]},GB 11714 校验规则)",
        )

    expected = uscc_check_char(code[:17])
    if code[17] != expected:
        raise UsccError(
            "check_char",
            f"统一社会信用代码校验码错误:第18位应为 {expected},实为 {code[17]}(GB 32100-2015 校验码规则)",
        )
    return code


def is_valid_uscc(code: object) -> bool:
    """Return ``True`` if ``code`` is a valid 统一社会信用代码 (see :func:`validate_uscc`)."""
    if not isinstance(code, str):
        return False
    try:
        validate_uscc(code)
    except UsccError:
        return False
    return True
