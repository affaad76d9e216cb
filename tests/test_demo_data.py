"""Tests for credit.demo_data (synthetic Dongguan firm generator)."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from credit.demo_data import generate_firms
from credit.reference import REGIONS, validate_industry, validate_scale
from credit.uscc import validate_uscc

KEYS = {"uscc", "name", "legal_representative", "address", "region", "industry", "scale"}
N = 5000


@pytest.fixture(scope="module")
def firms() -> list[dict]:
    return generate_firms(N)


def test_count_and_keys(firms: list[dict]) -> None:
    assert len(firms) == N
    assert all(set(f) == KEYS for f in firms)
    assert all(isinstance(v, str) and v for f in firms for v in f.values())


@pytest.mark.parametrize("seed", [2026, 0, 7])
def test_same_seed_same_output(seed: int) -> None:
    assert generate_firms(300, seed=seed) == generate_firms(300, seed=seed)


def test_default_seed_is_2026(firms: list[dict]) -> None:
    assert generate_firms(50) == generate_firms(50, seed=2026) == firms[:50]


def test_different_seed_different_output() -> None:
    assert generate_firms(50, seed=1) != generate_firms(50, seed=2)


@pytest.mark.parametrize("n", [0, 1, 2])
def test_small_n(n: int) -> None:
    assert len(generate_firms(n)) == n


def test_negative_n_refused() -> None:
    with pytest.raises(ValueError):
        generate_firms(-1)


def test_unique_uscc_and_names(firms: list[dict]) -> None:
    assert len({f["uscc"] for f in firms}) == N
    assert len({f["name"] for f in firms}) == N


def test_all_rows_valid(firms: list[dict]) -> None:
    for f in firms:
        assert validate_uscc(f["uscc"]) == f["uscc"]
        assert f["uscc"].startswith("91441900")
        assert validate_industry(f["industry"]) == f["industry"]
        assert validate_scale(f["scale"]) == f["scale"]
        assert f["region"] in REGIONS


def test_names_and_addresses_are_plausible(firms: list[dict]) -> None:
    name_re = re.compile(r"^东莞市[\u4e00-\u9fff]{4,}(股份)?有限公司$")
    person_re = re.compile(r"^[\u4e00-\u9fff]{2,4}$")
    for f in firms:
        assert name_re.match(f["name"]), f["name"]
        assert person_re.match(f["legal_representative"]), f["legal_representative"]
        assert f["address"].startswith("东莞市" + f["region"])
        assert re.search(r"路\d+号$", f["address"]), f["address"]


def test_industry_words_match_industry(firms: list[dict]) -> None:
    expected_words = {
        "C39": ("电子", "光电", "通讯", "智能", "半导体"),
        "C21": ("家具", "家居"),
        "C19": ("鞋", "皮具"),
    }
    for f in firms:
        words = expected_words.get(f["industry"])
        if words:
            assert any(w in f["name"] for w in words), f


def test_industry_mix_mostly_manufacturing(firms: list[dict]) -> None:
    sections = Counter(f["industry"][0] for f in firms)
    assert sections["C"] / N > 0.6
    divisions = Counter(f["industry"] for f in firms)
    assert divisions.most_common(1)[0][0] == "C39"
    assert {"F51", "F52", "I65"} <= set(divisions)
    assert any(code.startswith("G") for code in divisions)
    assert any(code.startswith("M") for code in divisions)


def test_scale_about_twenty_percent(firms: list[dict]) -> None:
    share = sum(f["scale"] == "规上" for f in firms) / N
    assert 0.15 < share < 0.25


def test_regions_spread(firms: list[dict]) -> None:
    assert len({f["region"] for f in firms}) == len(REGIONS)


def test_100k_firms_are_unique() -> None:
    # Uniqueness must hold at scale, not only for a small sample (speed is for bench/, not tests).
    rows = generate_firms(100_000)
    assert len(rows) == 100_000
    assert len({f["uscc"] for f in rows}) == 100_000
    assert len({f["name"] for f in rows}) == 100_000
