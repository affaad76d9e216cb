"""Tests for credit.uscc (统一社会信用代码, GB 32100-2015)."""

from __future__ import annotations

import pytest

from credit.uscc import (
    ALPHABET,
    AUTHORITIES,
    RULES,
    UsccError,
    is_valid_uscc,
    org_code_check_char,
    uscc_check_char,
    validate_uscc,
)

VALID = [
    "914403001922038216",
    "91310110666007217T",
    "91350100M000100Y43",
    "9144190018724467X5",  # organisation-code check digit X
    "91441900399224160K",  # organisation-code check digit 0
]


@pytest.mark.parametrize("code", VALID)
def test_valid_codes_pass(code: str) -> None:
    assert validate_uscc(code) == code
    assert is_valid_uscc(code)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  914403001922038216", "914403001922038216"),
        ("91310110666007217T \n", "91310110666007217T"),
        ("\t91350100M000100Y43\t", "91350100M000100Y43"),
        ("\u300091350100M000100Y43\u3000", "91350100M000100Y43"),  # ideographic space is whitespace
    ],
)
def test_surrounding_whitespace_is_stripped(raw: str, expected: str) -> None:
    assert validate_uscc(raw) == expected
    assert is_valid_uscc(raw)


@pytest.mark.parametrize(
    ("code", "rule", "fragments"),
    [
        # length
        ("", "length", ["长度", "不能为空", "18位"]),
        ("   ", "length", ["长度", "不能为空"]),
        ("91440300192203821", "length", ["应为18位", "实为17位"]),
        ("9144030019220382166", "length", ["应为18位", "实为19位"]),
        ("9", "length", ["实为1位"]),
        ("9144 030019220382166", "length", ["实为20位"]),
        # charset: forbidden letters
        ("91440300192203821I", "charset", ["第18位", "'I'", "I、O、S、V、Z"]),
        ("91440300192203821O", "charset", ["第18位", "'O'"]),
        ("91440300S922038216", "charset", ["第9位", "'S'"]),
        ("V14403001922038216", "charset", ["第1位", "'V'"]),
        ("9Z4403001922038216", "charset", ["第2位", "'Z'"]),
        # charset: lowercase is not silently upper-cased
        ("91310110666007217t", "charset", ["第18位", "小写", "大写", "'T'"]),
        ("91350100m000100Y43", "charset", ["第9位", "小写", "'M'"]),
        ("91350100M000100y43", "charset", ["第16位", "小写"]),
        ("91350100M000100o43", "charset", ["第16位", "小写", "不在代码字符集"]),
        # charset: non-ASCII / full-width
        ("９14403001922038216", "charset", ["第1位", "非ASCII", "全角"]),
        ("91440300192203821Ａ", "charset", ["第18位", "全角"]),
        ("9144030019220382中6", "charset", ["第17位", "非ASCII"]),
        ("914403001922 38216", "charset", ["第13位", "空白"]),
        ("91440300-922038216", "charset", ["第9位", "'-'"]),
        # authority: positions 1-2 must be a registration authority and one of its organisation types
        # (GB 32100-2015 表 1); each code below is otherwise valid, check character included
        ("ER440300192203821N", "authority", ["第1位 'E'", "登记管理部门码"]),
        ("94440300192203821W", "authority", ["登记管理部门 9（工商）", "机构类别 '4'", "1、2、3"]),
        ("Y2440300192203821D", "authority", ["Y（其他）", "机构类别 '2'"]),
        # division: positions 3-8 must be digits
        ("91A403001922038216", "division", ["第3-8位", "6位数字", "A40300", "第3位"]),
        ("914403B01922038216", "division", ["B", "第7位"]),
        ("9144030X1922038216", "division", ["第8位"]),
        # org_check: position 17 (GB 11714)
        ("914403001922038226", "org_check", ["第17位应为 1", "实为 2", "GB 11714"]),
        ("91310110666007218T", "org_check", ["第17位应为 7", "实为 8"]),
        ("91350100M000100Y53", "org_check", ["第17位应为 4", "实为 5"]),
        ("914403001922038X16", "org_check", ["第17位应为 5", "实为 1", "1922038X"]),  # X = 33 in GB 11714
        ("914419001872446705", "org_check", ["应为 X", "实为 0"]),
        # check_char: position 18 (GB 32100-2015)
        ("914403001922038217", "check_char", ["第18位应为 6,实为 7", "GB 32100-2015"]),
        ("91310110666007217U", "check_char", ["第18位应为 T,实为 U"]),
        ("91350100M000100Y40", "check_char", ["第18位应为 3,实为 0"]),
    ],
)
def test_each_rule_fails_with_code_and_message(code: str, rule: str, fragments: list[str]) -> None:
    with pytest.raises(UsccError) as excinfo:
        validate_uscc(code)
    err = excinfo.value
    assert err.rule == rule
    assert err.rule in RULES
    assert isinstance(err, ValueError)
    assert str(err) == err.message
    assert err.message.startswith("统一社会信用代码")
    for fragment in fragments:
        assert fragment in err.message, (fragment, err.message)
    assert not is_valid_uscc(code)


def test_check_char_message_matches_documented_format() -> None:
    with pytest.raises(UsccError) as excinfo:
        validate_uscc("914403001922038217")
    assert str(excinfo.value) == "统一社会信用代码校验码错误:第18位应为 6,实为 7(GB 32100-2015 校验码规则)"


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        # length is checked before charset, charset before division, division before checks
        ("9144030019220382o", "length"),
        ("9144O3001922038216", "charset"),
        ("91A40300192203821a", "charset"),
        ("E1A403001922038299", "authority"),
        ("91A403001922038299", "division"),
        ("914403001922038299", "org_check"),
    ],
)
def test_rules_are_checked_in_order(code: str, rule: str) -> None:
    with pytest.raises(UsccError) as excinfo:
        validate_uscc(code)
    assert excinfo.value.rule == rule


def test_rules_table() -> None:
    assert list(RULES) == ["length", "charset", "authority", "division", "org_check", "check_char"]
    assert all(isinstance(v, str) and v for v in RULES.values())


@pytest.mark.parametrize(
    "code", ["59440300192203821H", "N1440300192203821Q", "A14403001922038215", "31440300192203821C"]
)
def test_every_authority_of_the_table_is_accepted(code: str) -> None:
    """Codes of 民政, 农业, the military and 司法行政 are as valid as an enterprise's 91…."""
    assert validate_uscc(code) == code


def test_the_authority_table_has_the_standards_combinations() -> None:
    assert sorted(AUTHORITIES) == sorted("123456789ANY")
    assert sorted(AUTHORITIES["9"][1]) == ["1", "2", "3"]
    assert list(AUTHORITIES["Y"][1]) == ["1"]


@pytest.mark.parametrize("value", [None, 914403001922038216, b"914403001922038216"])
def test_non_string_is_invalid(value: object) -> None:
    assert not is_valid_uscc(value)


def test_alphabet() -> None:
    assert len(ALPHABET) == 31
    assert len(set(ALPHABET)) == 31
    assert not set("IOSVZ") & set(ALPHABET)


@pytest.mark.parametrize("code", VALID[:3])
@pytest.mark.parametrize("position", range(18))
def test_single_character_substitution_is_detected(code: str, position: int) -> None:
    """Every single-character change of a valid code is rejected.

    The modulus-31 check character alone catches every substitution within the
    alphabet (31 is prime and every weight 3^k mod 31 is non-zero); characters
    outside the alphabet fail the charset rule.
    """
    original = code[position]
    substitutes = [c for c in ALPHABET if c != original] + ["I", "O", "S", "V", "Z", "a", "Ｆ", "#"]
    for sub in substitutes:
        mutated = code[:position] + sub + code[position + 1 :]
        assert not is_valid_uscc(mutated), mutated
        if sub in ALPHABET:
            assert uscc_check_char(mutated[:17]) != mutated[17], mutated
        else:
            with pytest.raises(UsccError) as excinfo:
                validate_uscc(mutated)
            assert excinfo.value.rule == "charset"


def test_adjacent_transpositions_are_detected() -> None:
    code = VALID[0]
    detected = 0
    total = 0
    for i in range(17):
        if code[i] == code[i + 1]:
            continue
        total += 1
        swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
        detected += not is_valid_uscc(swapped)
    assert detected == total


@pytest.mark.parametrize(
    ("first8", "expected"),
    [
        ("19220382", "1"),
        ("66600721", "7"),
        ("M000100Y", "4"),
        ("12345678", "8"),  # 201 mod 11 = 3 → 8
        ("D2143569", "X"),  # GB 11714 textbook example D2143569-X
        ("00000006", "X"),  # 12 mod 11 = 1 → 10 → X
        ("18724467", "X"),
        ("00000000", "0"),  # 0 mod 11 = 0 → 11 → 0
        ("39922416", "0"),
        ("MA4W0000", "3"),
    ],
)
def test_org_code_check_char(first8: str, expected: str) -> None:
    assert org_code_check_char(first8) == expected


@pytest.mark.parametrize("first8", ["1234567", "123456789", "", "1234567a", "1234567-"])
def test_org_code_check_char_rejects_bad_input(first8: str) -> None:
    with pytest.raises(ValueError):
        org_code_check_char(first8)


@pytest.mark.parametrize(
    ("first17", "expected"),
    [
        ("91440300192203821", "6"),
        ("91310110666007217", "T"),
        ("91350100M000100Y4", "3"),
        ("00000000000000000", "0"),
        ("10000000000000000", "Y"),  # (31 - 1) mod 31 = 30 → Y
    ],
)
def test_uscc_check_char(first17: str, expected: str) -> None:
    assert uscc_check_char(first17) == expected


@pytest.mark.parametrize("first17", ["9144030019220382", "914403001922038216", "9144030019220382I"])
def test_uscc_check_char_rejects_bad_input(first17: str) -> None:
    with pytest.raises(ValueError):
        uscc_check_char(first17)
