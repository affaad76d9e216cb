"""Builds the test register and the answer file for matching the real sample announcement
(../shared/data/spotcheck_foodmate_2022.csv) to it: `spotcheck_register.csv` and `spotcheck_answers.csv`.

    python tests/data/make_spotcheck_register.py /path/to/spotcheck_foodmate_2022.csv

The register is built from the sample's producer names, as a bureau's register would hold them:
* most names as printed, a third of them spelled with a variant that normalisation must absorb
  (full-width/half-width brackets, U+3000 and spaces, 有限责任公司 for 有限公司 and back);
* SAME_FIRM: spellings found in the sample that name one firm (checked by hand, one by one: typos such
  as 松惠/松慧, 微记/徽记, 恒盛/恒胜, a place prefix present or not). The register holds the first
  spelling; announcements that print another must reach it through the confirmation queue;
* DROPPED_PLACE: names the register holds with the administrative suffix of their place dropped
  (招远市宏润… → 招远宏润…), a frequent real difference, likewise for the queue;
* ABSENT: about one firm in ten is not registered at all (a firm of another jurisdiction);
* decoys that must never be matched automatically: branches of registered and of absent firms, and
  firms differing from an announced one only in legal form (有限公司 vs 股份有限公司).

The answer file lists every name that would get a record (producer side, or the seller where no
producer is named) with the register name it must reach, or nothing."""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from credit.announcements.names import clean, name_key, parties_of  # noqa: E402
from credit.reference import REGIONS  # noqa: E402
from credit.rules.ruleset import default_ruleset  # noqa: E402
from credit.rules.spotcheck import record_owners  # noqa: E402
from credit.uscc import org_code_check_char, uscc_check_char  # noqa: E402

HERE = Path(__file__).resolve().parent

# Spellings that name one firm, checked by hand (the register holds the first).
SAME_FIRM = [
    ("重庆市万州区高梁镇松惠粉条加工厂", "万州区高梁镇松惠粉条加工厂", "重庆市万州区高梁镇松慧粉条加工厂"),
    ("内黄县华豫豆制品厂", "内黄内华豫豆制品厂"),
    ("四川剑阁县剑门关镇志公寺食品有限公司", "剑阁县剑门关镇志公寺食品有限公司"),
    ("北京市庆和食品有限公司", "北京庆和食品有限公司"),
    ("北京恒盛天祥工贸有限公司燕山分公司", "北京恒胜天祥工贸有限公司燕山分公司"),
    ("吉林市万家乐食品有限公司", "吉林万家乐食品有限公司"),
    ("四川南溪徽记食品有限公司", "四川南溪微记食品有限公司"),
    ("四川蓬安县利远条粉厂", "蓬安县利远条粉厂"),
    ("张家界祥和春旅游食品有限公司", "祥和春旅游食品有限公司"),
    ("德州市德城区名永豆制品厂", "德州市德州区名永豆制品厂"),
    ("重庆市武隆区栾氏食品有限公司", "武隆区栾氏食品有限公司"),
    ("泰州市好食惠调味品有限公司", "泰州好食惠调味品有限公司"),
    ("祖名豆制品股份有限公司", "祖明豆制品股份有限公司"),
    ("贵阳南明春梅酿造有限公司", "贵阳南明春梅酿选有限公司"),
    ("重庆市永川豆豉食品有限公司", "重庆市永州豆豉食品有限公司"),
    # a note in brackets after the name: how the product was handled, not another firm
    ("马鞍山市黄池恒香食品有限公司", "马鞍山市黄池恒香食品有限公司(代码X)"),
    ("河南博欣调味品有限公司", "河南博欣调味品有限公司(分装)"),
]
# Names of different firms that look alike; listed so nobody "fixes" them into SAME_FIRM.
NOT_SAME = [
    ("招远市康宝食品有限公司", "招远市康鑫食品有限公司"),
    ("湖南金磨坊食品有限公司", "金磨坊食品有限公司"),
    ("成都香香嘴豆制品有限公司", "成都香香嘴食品有限公司"),
    ("浏阳市太平桥豆豉厂", "浏阳市太平桥食品豆豉厂"),
    ("枣庄市山亭区满香园食品厂", "枣庄市山亭区满香源食品厂"),
]
PLACE_SUFFIXES = ("市", "县")


def owner_names(sample: Path) -> tuple[list[str], set[str]]:
    """Every name that gets a record in the sample (cleaned, first-seen order) and the producer-side ones."""
    rules = default_ruleset().announcements
    names: dict[str, None] = {}
    producers: set[str] = set()
    with sample.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            parties = parties_of(producer=row["生产商"], seller=row["供应商"], remark=row["备注"])
            for party in record_owners(parties, failed=row["判定"] == "不合格", remark=row["备注"], rules=rules):
                names.setdefault(clean(party.name))
                if party.role != "seller":
                    producers.add(clean(party.name))
    return list(names), producers


def uscc(rng: random.Random) -> str:
    """A valid, random code of a Dongguan firm (GB 32100-2015, with its GB 11714 organisation code)."""
    org8 = "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(8))
    body17 = "91441900" + org8 + org_code_check_char(org8)
    return body17 + uscc_check_char(body17)


def normalisation_variant(name: str, rng: random.Random) -> str:
    """The same name as another clerk typed it: what normalisation must absorb."""
    choice = rng.randrange(4)
    if choice == 0 and ("(" in name or ")" in name):
        return name.replace("(", "\uff08").replace(")", "\uff09")  # full-width brackets
    if choice == 1 and name.endswith("有限公司") and not name.endswith("股份有限公司"):
        return name[: -len("有限公司")] + "有限责任公司"
    if choice == 2 and name.endswith("有限责任公司"):
        return name[: -len("有限责任公司")] + "有限公司"
    cut = max(2, len(name) // 2)
    return name[:cut] + ("\u3000" if rng.random() < 0.5 else " ") + name[cut:] + " "


def dropped_place(name: str) -> str | None:
    """招远市宏润食品有限公司 → 招远宏润食品有限公司: the place's administrative suffix left out."""
    for suffix in PLACE_SUFFIXES:
        index = name.find(suffix)
        if 2 <= index <= 3 and not name.startswith(("北京", "上海", "天津", "重庆")):
            return name[:index] + name[index + 1 :]
    return None


def main(sample: Path) -> None:
    rng = random.Random(13)
    names, producers = owner_names(sample)
    same_as: dict[str, str] = {}
    for group in SAME_FIRM:
        for spelling in group:
            same_as[name_key(spelling)] = group[0]
    register: list[dict] = []
    answers: list[dict] = []
    used: set[str] = set()
    dropped = 0

    def add(name: str) -> None:
        register.append(
            {"uscc": uscc(rng), "name": name, "legal_representative": "", "address": "",
             "region": rng.choice(REGIONS), "industry": "C14", "scale": rng.choice(("规上", "规下"))}
        )  # fmt: skip

    for name in names:
        key = name_key(name)
        if name not in producers and key not in same_as:
            answers.append({"announced": name, "register": "", "kind": "absent", "note": "被抽样单位,名录中没有"})
            continue
        if key in same_as:
            canonical = same_as[key]
            if canonical not in used:
                used.add(canonical)
                add(canonical)
            kind = "same" if name_key(canonical) == key else "variant"
            answers.append({"announced": name, "register": canonical, "kind": kind, "note": "人工核对的同一企业"})
            continue
        roll = rng.random()
        if roll < 0.1:
            answers.append({"announced": name, "register": "", "kind": "absent", "note": "名录中没有"})
            if rng.random() < 0.5:
                add(name + "东莞分公司")  # a branch of an absent firm: never its match
            elif name.endswith("有限公司") and not name.endswith("股份有限公司"):
                add(name[: -len("有限公司")] + "股份有限公司")  # another legal form: another firm
            continue
        variant = dropped_place(name) if dropped < 40 and rng.random() < 0.08 else None
        if variant and name_key(variant) != key:
            dropped += 1
            add(variant)
            answers.append({"announced": name, "register": variant, "kind": "variant", "note": "名录中省略了市/县"})
            continue
        registered = normalisation_variant(name, rng) if rng.random() < 0.33 else name
        add(registered)
        answers.append({"announced": name, "register": registered, "kind": "same", "note": ""})
        if rng.random() < 0.05:
            add(name + "东城分公司")  # a branch beside its head office: the head office must win
    rng.shuffle(register)
    with (HERE / "spotcheck_register.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(register[0]))
        writer.writeheader()
        writer.writerows(register)
    with (HERE / "spotcheck_answers.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["announced", "register", "kind", "note"])
        writer.writeheader()
        writer.writerows(answers)
    kinds = {k: sum(1 for a in answers if a["kind"] == k) for k in ("same", "variant", "absent")}
    print(f"register {len(register)} firms; answers {len(answers)} names {kinds}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
