"""Benchmark: importing spot-check announcement rows by firm name against a large register (issue 13),
matching included, against the import of the same results as USCC-coded event rows (`import_events`,
the path a recorder had before: every firm looked up by hand) in the same run.

    python bench/announcements.py DATABASE_URL FIRMS ROWS [--generate] [--runs 3]

`--generate` migrates an empty database and fills the register with FIRMS synthetic Dongguan firms in
one set-based INSERT … SELECT (a recursive CTE on SQLite, generate_series on PostgreSQL), then indexes
their normalised names (timed and printed: a one-time cost, later imports re-index only changed firms).
The announcement file has ROWS rows in the provincial layout, a few hundred announcements: 60 % name a
registered firm exactly (a third of those spelled with brackets, spaces or 有限责任公司 that
normalisation absorbs), 15 % a variant (a character changed or 市 left out: ranked candidates), 25 % a
firm of another city (a full candidate search that finds nothing). 5 % are failures. Each run imports
inside a transaction that is rolled back, so every run starts from the same database; the two imports
alternate and the medians are compared."""

from __future__ import annotations

import argparse
import csv
import io
import random
import resource
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text

from credit import clock
from credit.db import make_engine, new_session
from credit.migrate import upgrade_to_head
from credit.models import Actor
from credit.services.announcements import import_announcement
from credit.services.event_import import import_events
from credit.services.events import ensure_system_user
from credit.services.name_matching import refresh_name_keys
from credit.services.rulesets import ensure_default_ruleset
from credit.uscc import org_code_check_char, uscc_check_char

# 400 distinct characters for trade names (字号: common ones, then a stride through CJK) and 20 industry words: name(i) = 东莞市 + 3 characters + word + 有限公司.
TRADE = (
    "安宝邦昌晨诚达大德鼎东丰富冠广国海豪浩和恒泓宏鸿华辉汇佳嘉建金锦晶精巨骏凯康科乐力利联良隆龙美明铭南鹏"
    "品琪启千强勤庆荣瑞润森盛胜世仕泰腾天通万旺威伟文祥翔欣新鑫信星兴旭雅亚扬耀业一亿益毅银永勇友宇裕元远"
    "源跃云展兆振正志智中众洲卓资子宗嘉骐驰骋锋瀚灏珑璟瑾琳玮炜熠烁煜焱森淼鑫垚磊犇骉芯晟昊昱旻暄晔晖曜"
    "峰岚岳嵘崇巍峻屹翱翔鹰鸿鹤凤麟骏驿津港湾澳潮涌浪涛澜泽润沣沛淳清澄湛溢涵淇漫溪沐泓灵秀雅韵馨芳菲茂"
    "蔚蓝青碧翠绿红紫金银铜铁钢锐钧铭锋镇钰钜鑫川山石岩林森松柏桦梓楠榕樟枫桐杉竹梅兰菊荷莲桂樱桃杏李果"
    "禾稻粮麦豆谷米粟丰穗田园圃农牧渔耕织纺纱棉麻丝绸锦绣缘福禄寿喜财吉祥瑞庆如意顺利通达和谐美好佳"
)
TRADE = "".join(dict.fromkeys(TRADE + "".join(chr(0x4E00 + (k * 97) % 20902) for k in range(400))))[:400]
WORDS = ("电子", "五金", "塑胶", "食品", "模具", "家具", "纺织", "服饰", "玩具", "包装", "印刷", "照明", "机械",
         "化工", "陶瓷", "皮具", "鞋业", "科技", "贸易", "实业")  # fmt: skip
OTHER_CITIES = ("烟台", "招远", "龙口", "郑州", "成都", "重庆", "长沙", "武汉", "南昌", "合肥", "济南", "沈阳")
PROVINCIAL = ["信息来源", "搜索条件", "物料名称", "产品分类", "生产商", "供应商", "生产日期", "批号", "项目分类", "检测项目",
              "单位", "检测结果", "限量值", "判定", "发布单位", "发布日期", "备注"]  # fmt: skip


def trade(i: int) -> str:
    return TRADE[i % 400] + TRADE[(i // 400) % 400] + TRADE[(i // 160000) % 400]


def firm_name(i: int) -> str:
    return f"东莞市{trade(i)}{WORDS[(i * 7) % len(WORDS)]}有限公司"


DIGITS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def uscc(i: int) -> str:
    """A valid code (GB 32100-2015) for firm i: its organisation code is i written in base 31."""
    org = ""
    for _ in range(8):
        i, digit = divmod(i, 31)
        org = DIGITS[digit] + org
    body = "91441900" + org + org_code_check_char(org)
    return body + uscc_check_char(body)


def generate(engine, firms: int) -> None:
    """The register in one INSERT … SELECT from a scratch table of (i, code): the valid codes are computed
    here (a check character is awkward in SQL), the names in SQL by the same formula as firm_name()."""
    upgrade_to_head(engine)
    words = "".join(WORDS)  # every word has two characters
    name = (
        "'东莞市' || substr(:trade, (c.i % 400) + 1, 1) || substr(:trade, ((c.i / 400) % 400) + 1, 1)"
        " || substr(:trade, ((c.i / 160000) % 400) + 1, 1) || substr(:words, ((c.i * 7) % 20) * 2 + 1, 2)"
        " || '有限公司'"
    )
    temporary = "CREATE TEMPORARY TABLE codes (i integer PRIMARY KEY, code varchar(18))"
    with engine.begin() as conn:
        conn.execute(text(temporary))
        for start in range(1, firms + 1, 100_000):
            chunk = range(start, min(firms, start + 99_999) + 1)
            conn.execute(
                text("INSERT INTO codes (i, code) VALUES (:i, :code)"), [{"i": i, "code": uscc(i)} for i in chunk]
            )
        conn.execute(
            text(
                "INSERT INTO firm (id, uscc, name, legal_representative, address, region, industry, scale, created_at,"
                f" updated_at) SELECT c.i, c.code, {name}, '', '', '南城街道', 'C', '规上', CURRENT_TIMESTAMP,"
                " CURRENT_TIMESTAMP FROM codes c"
            ),
            {"trade": TRADE, "words": words},
        )
        conn.execute(text("DROP TABLE codes"))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))


def variant(name: str, rng: random.Random) -> str:
    """A spelling that normalisation absorbs."""
    choice = rng.randrange(3)
    if choice == 0:
        return name.replace("有限公司", "有限责任公司")
    if choice == 1:
        return name[:5] + "\u3000" + name[5:] + " "
    return name.replace("东莞市", "东莞市 ")


def near(name: str, rng: random.Random) -> str:
    """A spelling a person must confirm: 市 left out, or one trade-name character changed."""
    if rng.random() < 0.5:
        return name.replace("东莞市", "东莞", 1)
    index = 3 + rng.randrange(3)
    return name[:index] + rng.choice(TRADE) + name[index + 1 :]


def files(firms: int, rows: int, seed: int = 13) -> tuple[bytes, bytes]:
    """The announcement file and the same results as an events file with the firms' USCCs."""
    rng = random.Random(seed)
    announcement, events = io.StringIO(), io.StringIO()
    a, e = csv.writer(announcement), csv.writer(events)
    a.writerow(PROVINCIAL)
    e.writerow(["uscc", "event_type", "occurred_on", "document_no", "authority", "severity"])
    for row in range(rows):
        i = rng.randrange(1, firms + 1)
        roll = rng.random()
        if roll < 0.6:
            name = firm_name(i) if rng.random() < 0.67 else variant(firm_name(i), rng)
        elif roll < 0.75:
            name = near(firm_name(i), rng)
        else:
            name = f"{rng.choice(OTHER_CITIES)}市{rng.choice(TRADE)}{rng.choice(TRADE)}{rng.choice(WORDS)}有限公司"
        published = date(2026, 1, 5) + timedelta(days=(row // 200) % 300)  # about 200 rows an announcement
        publisher = f"国内监督抽查({('广东', '湖南', '四川')[row // 60000 % 3]}市场监管局)"
        failed = rng.random() < 0.05
        item, result, limit = ("铅(以Pb计)", "0.8", "≤0.5mg/kg") if failed else ("", "", "")
        a.writerow(["食品伙伴网", "", f"产品{row}", "食品", name + " ", "东莞市某超市 ", published.isoformat(), "", "",
                    item, "", result, limit, "不合格" if failed else "合格", publisher, published.isoformat(), ""])  # fmt: skip
        e.writerow([uscc(i), "spot_check_fail" if failed else "spot_check_pass", published.isoformat(),
                    f"{publisher} {published} #{row + 2}", publisher, "serious" if failed else ""])  # fmt: skip
    return announcement.getvalue().encode("utf-8"), events.getvalue().encode("utf-8")


def timed(engine, label: str, work) -> float:
    session = new_session(engine, Actor(label="bench", source="cli"))
    try:
        start = time.perf_counter()
        outcome = work(session)
        elapsed = time.perf_counter() - start
        print(f"  {label}: {elapsed:.1f}s {outcome}", flush=True)
        return elapsed
    finally:
        session.rollback()
        session.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("firms", type=int)
    parser.add_argument("rows", type=int)
    parser.add_argument("--generate", action="store_true")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    clock.set_today("2026-11-22")
    engine = make_engine(args.url)
    if args.generate:
        start = time.perf_counter()
        generate(engine, args.firms)
        print(f"register of {args.firms} firms generated in {time.perf_counter() - start:.1f}s", flush=True)
    session = new_session(engine, Actor(label="bench", source="cli"))
    ensure_default_ruleset(session)
    recorder = ensure_system_user(session)
    start = time.perf_counter()
    indexed = refresh_name_keys(session)
    session.commit()
    print(f"name index: {indexed} firms (re)indexed in {time.perf_counter() - start:.1f}s", flush=True)
    recorder_id = recorder.id
    session.close()
    announcement, events = files(args.firms, args.rows)

    def by_name(s):
        summary = import_announcement(s, announcement, recorder=s.get(type(recorder), recorder_id), filename="a.csv")
        return f"matched {summary.matched}, to confirm {summary.to_confirm}, unmatched {summary.unmatched}, events {summary.events_created}"

    def by_code(s):
        report = import_events(s, events, recorder=s.get(type(recorder), recorder_id), filename="e.csv")
        return f"created {report.created}, errors {len(report.errors)}"

    baseline, candidate = [], []
    for run in range(args.runs):
        print(f"run {run + 1}", flush=True)
        baseline.append(timed(engine, "events by USCC (baseline)", by_code))
        candidate.append(timed(engine, "announcement by name", by_name))
    b, c = statistics.median(baseline), statistics.median(candidate)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"RESULT {engine.dialect.name} {args.firms} firms, {args.rows} rows: by USCC {b:.1f}s ({args.rows / b:.0f} rows/s), "
        f"by name {c:.1f}s ({args.rows / c:.0f} rows/s), ratio {c / b:.2f}, peak memory {peak:.0f} MiB"
    )


if __name__ == "__main__":
    main()
