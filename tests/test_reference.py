"""Tests for credit.reference (东莞 镇街, GB/T 4754-2017 industries, scales)."""

from __future__ import annotations

import pytest

from credit.reference import (
    INDUSTRY_DIVISIONS,
    INDUSTRY_SECTIONS,
    REGIONS,
    SCALES,
    industry_label,
    validate_industry,
    validate_scale,
)

# Section letter → (first division, last division) in GB/T 4754-2017.
SECTION_RANGES = {
    "A": (1, 5),
    "B": (6, 12),
    "C": (13, 43),
    "D": (44, 46),
    "E": (47, 50),
    "F": (51, 52),
    "G": (53, 60),
    "H": (61, 62),
    "I": (63, 65),
    "J": (66, 69),
    "K": (70, 70),
    "L": (71, 72),
    "M": (73, 75),
    "N": (76, 79),
    "O": (80, 82),
    "P": (83, 83),
    "Q": (84, 85),
    "R": (86, 90),
    "S": (91, 96),
    "T": (97, 97),
}


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("C", "C"),
        ("C39", "C39"),
        ("F52", "F52"),
        ("A01", "A01"),
        ("T97", "T97"),
        ("K70", "K70"),
        (" C39 ", "C39"),
        ("T", "T"),
    ],
)
def test_validate_industry_accepts(code: str, expected: str) -> None:
    assert validate_industry(code) == expected


@pytest.mark.parametrize(
    ("code", "fragments"),
    [
        ("U", ["门类", "'U'", "不存在"]),
        ("Z39", ["门类", "'Z'"]),
        ("C5", ["格式错误", "两位数字"]),
        ("C399", ["格式错误"]),
        ("F39", ["39", "属于门类 C", "不属于门类 F"]),
        ("A13", ["属于门类 C", "不属于门类 A"]),
        ("C51", ["属于门类 F"]),
        ("00", ["门类", "不存在"]),
        ("C00", ["00", "不在 GB/T 4754-2017"]),
        ("C98", ["98", "不在 GB/T 4754-2017"]),
        ("c", ["大写"]),
        ("c39", ["大写"]),
        ("C3a", ["格式错误"]),
        ("C３９", ["格式错误"]),
        ("", ["不能为空"]),
        ("   ", ["不能为空"]),
        ("39", ["门类", "不存在"]),
    ],
)
def test_validate_industry_refuses(code: str, fragments: list[str]) -> None:
    with pytest.raises(ValueError) as excinfo:
        validate_industry(code)
    for fragment in fragments:
        assert fragment in str(excinfo.value), (fragment, str(excinfo.value))


def test_validate_industry_refuses_non_string() -> None:
    with pytest.raises(ValueError):
        validate_industry(39)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "label"),
    [
        ("C39", "C39 计算机、通信和其他电子设备制造业"),
        ("C", "C 制造业"),
        ("F52", "F52 零售业"),
        ("A01", "A01 农业"),
        ("T97", "T97 国际组织"),
        ("C18", "C18 纺织服装、服饰业"),
        ("C19", "C19 皮革、毛皮、羽毛及其制品和制鞋业"),
        ("C24", "C24 文教、工美、体育和娱乐用品制造业"),
        ("C26", "C26 化学原料和化学制品制造业"),
        ("I", "I 信息传输、软件和信息技术服务业"),
        (" C29 ", "C29 橡胶和塑料制品业"),
    ],
)
def test_industry_label(code: str, label: str) -> None:
    assert industry_label(code) == label


def test_industry_label_refuses_invalid() -> None:
    with pytest.raises(ValueError):
        industry_label("F39")


def test_sections_are_a_to_t() -> None:
    assert list(INDUSTRY_SECTIONS) == [chr(c) for c in range(ord("A"), ord("T") + 1)]
    assert all(INDUSTRY_SECTIONS.values())


def test_divisions_are_01_to_97() -> None:
    assert list(INDUSTRY_DIVISIONS) == [f"{i:02d}" for i in range(1, 98)]
    assert len(INDUSTRY_DIVISIONS) == 97


@pytest.mark.parametrize(("section", "bounds"), SECTION_RANGES.items())
def test_division_ranges_per_section(section: str, bounds: tuple[int, int]) -> None:
    first, last = bounds
    divisions = [code for code, (sec, _) in INDUSTRY_DIVISIONS.items() if sec == section]
    assert divisions == [f"{i:02d}" for i in range(first, last + 1)]


def test_every_division_belongs_to_a_section() -> None:
    names = set()
    for code, (section, name) in INDUSTRY_DIVISIONS.items():
        assert section in INDUSTRY_SECTIONS
        assert name and name.strip() == name
        assert validate_industry(section + code) == section + code
        names.add(name)
    assert len(names) == len(INDUSTRY_DIVISIONS)


def test_every_section_has_divisions() -> None:
    used = {section for section, _ in INDUSTRY_DIVISIONS.values()}
    assert used == set(INDUSTRY_SECTIONS)


@pytest.mark.parametrize("value", ["规上", "规下", " 规上 "])
def test_validate_scale_accepts(value: str) -> None:
    assert validate_scale(value) == value.strip()


@pytest.mark.parametrize("value", ["", "规模以上", "大型", "规 上", None, 1])
def test_validate_scale_refuses(value: object) -> None:
    with pytest.raises(ValueError) as excinfo:
        validate_scale(value)  # type: ignore[arg-type]
    assert "企业规模" in str(excinfo.value)


def test_scales() -> None:
    assert SCALES == ("规上", "规下")


def test_regions() -> None:
    assert isinstance(REGIONS, tuple)
    assert len(REGIONS) == 33
    assert len(set(REGIONS)) == 33
    assert sum(r.endswith("街道") for r in REGIONS) == 4
    assert sum(r.endswith("镇") for r in REGIONS) == 28
    assert "松山湖高新区" in REGIONS
    for town in ("虎门镇", "长安镇", "樟木头镇", "望牛墩镇", "高埗镇", "莞城街道"):
        assert town in REGIONS
