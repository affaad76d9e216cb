"""Importing spot-check announcements by firm name (issue 13): layouts, outcomes and severity, whose
record, garbled rows, unknown layouts, idempotence, the confirmation queue and the four-eyes batch."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlmodel import func, select

from credit.announcements.layouts import Defaults
from credit.announcements.names import name_key, parties_of, split_parties
from credit.models import (
    Announcement,
    AnnouncementParty,
    AnnouncementRow,
    AuditEntry,
    CreditEvent,
    EventStatus,
    Firm,
    FirmCreate,
    ImportBatch,
    NameAlias,
    PartyState,
)
from credit.rules.ruleset import default_ruleset
from credit.rules.spotcheck import failure_severity, record_owners
from credit.services.announcements import AnnouncementError, import_announcement, save_mapping
from credit.services.events import EventError, approve_batch
from credit.services.name_queue import confirm_name, mark_outside, referrals, register_and_confirm, waiting_names
from credit.services.rulesets import ensure_default_ruleset
from tests.factories import firm_row, make_firm, make_user

SAMPLE = Path(__file__).resolve().parent / "data" / "spotcheck_foodmate_2022.csv"
PROVINCIAL = [
    "信息来源",
    "搜索条件",
    "物料名称",
    "产品分类",
    "生产商",
    "供应商",
    "生产日期",
    "批号",
    "项目分类",
    "检测项目",
    "单位",
    "检测结果",
    "限量值",
    "判定",
    "发布单位",
    "发布日期",
    "备注",
]
SAMR = [
    "序号",
    "标称生产企业名称",
    "标称生产企业地址",
    "被抽样单位名称",
    "被抽样单位地址",
    "食品名称",
    "规格型号",
    "商标",
    "生产日期/批号",
    "不合格项目║检验结果║标准值",
    "分类",
    "公告号",
    "公告日期",
    "任务来源/项目名称",
    "检验机构",
    "备注",
]
RULES = default_ruleset().announcements


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def provincial(
    product: str,
    producer: str,
    seller: str,
    outcome: str = "合格",
    *,
    item: str = "",
    result: str = "",
    limit: str = "",
    publisher: str = "国内监督抽查(广东市场监管局)",
    published: str = "2026-03-02",
    remark: str = "",
) -> list[str]:
    return [
        "食品伙伴网",
        "",
        product,
        "豆制品",
        producer + " ",
        seller + " ",
        published,
        "",
        "",
        item,
        "",
        result,
        limit,
        outcome,
        publisher,
        published,
        remark,
    ]


def shifted(row: list[str]) -> list[str]:
    """The row with one stray cell after the product, everything after it one column to the right."""
    return [*row[:3], "散装", *row[3:]]


def counts(session) -> dict[str, int]:
    return {
        model.__name__: session.exec(select(func.count()).select_from(model)).one()
        for model in (Announcement, AnnouncementRow, AnnouncementParty, CreditEvent, ImportBatch, NameAlias)
    }


@pytest.fixture
def recorder(session):
    ensure_default_ruleset(session)
    return make_user(session, username="lu", role="recorder")


# --- names, parties, rules (pure) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("北京王致和（桂林腐乳）食品有限公司", "北京王致和(桂林腐乳)食品有限公司 "),
        ("汪清县关东 粉王食品有 限责任公司", "汪清县关东\n粉王食品有限公司"),
        ("东莞市ＡＢＣ电子有限公司\u3000", "东莞市abc电子有限责任公司"),
        ("兰州迎客松商贸有限责任公司（分装）", "兰州迎客松商贸有限公司"),
    ],
)
def test_spellings_of_one_name_share_a_key(a, b):
    assert name_key(a) == name_key(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("沃尔玛(四川)百货有限公司", "沃尔玛(四川)百货有限公司泸州蜀泸大道分店"),  # a branch is kept apart
        ("上海福鼎食品有限公司", "上海福鼎食品有限公司(嘉定分公司)"),
        ("烟台双塔食品股份有限公司", "烟台双塔食品有限公司"),  # another legal form, another firm
    ],
)
def test_different_firms_keep_different_keys(a, b):
    assert name_key(a) != name_key(b)


def test_multi_party_cells_are_split_by_role():
    assert split_parties("委托方:东莞市甲食品有限公司;受委托方:东莞市乙食品有限公司", "producer") == [
        ("commissioner", "东莞市甲食品有限公司"),
        ("producer", "东莞市乙食品有限公司"),
    ]
    assert split_parties("进口商:东莞市丙贸易有限公司(原产国:泰国)", "producer") == [
        ("importer", "东莞市丙贸易有限公司"),
        ("origin", "泰国"),
    ]
    assert split_parties("初检机构:广东省食品检验所;复检机构:东莞市质检中心", None) == [
        ("lab", "广东省食品检验所"),
        ("lab", "东莞市质检中心"),
    ]
    for none in ("/ ", "—", "无", "\u3000", ""):
        assert split_parties(none, "producer") == []
    parties = parties_of(producer="/", seller="东莞市丁超市 ", remark="委托商:东莞市戊食品有限公司")
    assert [(p.role, p.name) for p in parties] == [("seller", "东莞市丁超市"), ("commissioner", "东莞市戊食品有限公司")]


def test_severity_comes_from_the_rule_sets_list_of_serious_items():
    assert failure_severity(["黄曲霉毒素B₁"], RULES) == "serious"
    assert failure_severity(["沙门氏菌"], RULES) == "serious"
    assert failure_severity(["铅(以Pb计)"], RULES) == "serious"
    assert failure_severity(["毒死蜱", "菌落总数"], RULES) == "serious"
    assert failure_severity(["铝的残留量(干样品,以Al计)"], RULES) == "general"
    assert failure_severity(["菌落总数"], RULES) == "general"


def test_whose_record_follows_the_rule_set():
    both = parties_of(producer="受委托方:东莞市乙食品有限公司;委托方:东莞市甲食品有限公司", seller="东莞市丁超市")
    assert {p.role for p in record_owners(both, failed=True, remark="", rules=RULES)} == {"producer", "commissioner"}
    seller_fault = record_owners(both, failed=True, remark="经核查,系经营环节贮存不当所致", rules=RULES)
    assert [p.role for p in seller_fault] == ["seller"]
    assert [p.role for p in record_owners(both, failed=False, remark="", rules=RULES)] == ["producer", "commissioner"]
    no_producer = parties_of(producer="/", seller="东莞市丁超市")
    assert [p.role for p in record_owners(no_producer, failed=False, remark="", rules=RULES)] == ["seller"]
    from dataclasses import replace

    strict = replace(RULES, seller_records=(), record_roles=("producer",))
    assert record_owners(no_producer, failed=True, remark="", rules=strict) == []
    assert [p.role for p in record_owners(both, failed=True, remark="经营环节", rules=strict)] == ["producer"]


# --- the sample ----------------------------------------------------------------------------------------


def test_the_sample_imports_and_a_reimport_adds_nothing(session, recorder):
    firm = make_firm(session, name="重庆市天润食品开发有限公司")
    first = import_announcement(session, SAMPLE, recorder=recorder)
    assert first.ok
    assert (first.rows, first.passes, first.failures, first.skipped) == (2297, 2242, 55, [])
    assert first.matched == 14  # the register holds one of the sample's firms, named on 14 rows
    assert len(first.announcements) == 105  # one per publisher and date
    events = session.exec(select(CreditEvent).where(CreditEvent.firm_id == firm.id)).all()
    assert len(events) == 14 and {e.status for e in events} == {EventStatus.pending}
    assert {e.source for e in events} == {"import"} and {e.recorded_by_id for e in events} == {recorder.id}
    assert {e.document_no.split(" ")[0] for e in events} == {
        "上海市场监管局",
        "北京市场监管局",
        "福建市场监管局",
        "贵州市场监管局",
    }
    before = counts(session)
    again = import_announcement(session, SAMPLE, recorder=recorder)
    assert again.ok and again.already_imported == 2297 and again.events_created == 0
    assert (again.matched, again.to_confirm, again.unmatched) == (0, 0, 0)
    assert counts(session) == before


def test_failures_keep_item_result_and_limit_and_get_their_severity(session, recorder):
    aflatoxin = make_firm(session, name="成都罗氏食品发展有限公司")
    aluminium = make_firm(session, name="资阳市德心食品有限公司")
    import_announcement(session, SAMPLE, recorder=recorder)
    serious = session.exec(
        select(CreditEvent).where(CreditEvent.firm_id == aflatoxin.id, CreditEvent.event_type == "spot_check_fail")
    ).all()
    assert len(serious) == 2 and {e.severity for e in serious} == {"serious"}
    assert {e.failed_item for e in serious} == {"黄曲霉毒素B₁"}
    assert {e.failed_result for e in serious} == {"9.74μg/kg", "13.7μg/kg"}
    assert {e.failed_limit for e in serious} == {"≤5.0μg/kg"}
    (general,) = session.exec(select(CreditEvent).where(CreditEvent.firm_id == aluminium.id)).all()
    assert (general.event_type, general.severity, general.failed_result) == ("spot_check_fail", "general", "333mg/kg")
    assert general.product == "土豆粉丝（湿粉条）" and "复检不合格" in general.description


# --- garbled rows and unknown layouts -------------------------------------------------------------------


def test_garbled_rows_are_skipped_and_named_the_rest_go_on(session, recorder):
    firm = make_firm(session, name="东莞市虎门豆制品有限公司")
    rows = [
        provincial("腐竹", firm.name, "东莞市某超市"),
        shifted(provincial("豆干", firm.name, "东莞市某超市", remark="网络抽样")),  # a cell beyond the header
        provincial("豆浆", "2026-03-02", "东莞市某超市"),  # a date in the producer column
        ["食品伙伴网"] + [""] * 16,  # an empty shell
        provincial("豆皮", firm.name, "东莞市某超市", outcome="≤100mg/kg"),  # the outcome column holds a limit
        provincial("豆腐", firm.name, "东莞市某超市", published="2026-13-45"),
        provincial("腐乳", firm.name, "东莞市某超市", outcome="不合格"),  # failed, but no item named
        provincial("豆芽", firm.name, "东莞市某超市", published="2027-01-01"),  # after today
        provincial(
            "素鸡", firm.name, "东莞市某超市", outcome="不合格", item="苯甲酸", result="0.5g/kg", limit="不得使用"
        ),
        shifted(provincial("豆花", firm.name, "东莞市某超市")),  # shifted: 判定 holds what 限量值 held
    ]
    summary = import_announcement(session, csv_bytes(PROVINCIAL, rows), recorder=recorder, filename="garbled.csv")
    assert summary.ok
    assert [(s.file_row, s.code) for s in summary.skipped] == [
        (3, "extra_cells"),
        (4, "date_in_name"),
        (5, "empty_row"),
        (6, "bad_outcome"),
        (7, "bad_date"),
        (8, "no_failed_item"),
        (9, "bad_date"),
        (11, "bad_outcome"),
    ]
    assert "晚于今天" in summary.skipped[-2].detail
    assert (summary.rows, summary.passes, summary.failures, summary.matched) == (10, 1, 1, 2)
    assert session.exec(select(func.count()).select_from(CreditEvent)).one() == 2
    assert session.exec(select(func.count()).select_from(AnnouncementRow)).one() == 2


def test_a_file_in_an_unknown_layout_changes_nothing(session, recorder):
    before = counts(session)
    audit = session.exec(select(func.count()).select_from(AuditEntry)).one()
    unknown = csv_bytes(["企业", "结果", "日期"], [["东莞市甲公司", "合格", "2026-01-01"]])
    summary = import_announcement(session, unknown, recorder=recorder)
    assert not summary.ok and "无法识别的表头" in str(summary.errors[0])
    for broken in (b"", b"\xff\xfe not utf-8", b"PK\x03\x04 broken zip"):
        assert not import_announcement(session, broken, recorder=recorder, filename="x.xlsx").ok
    assert counts(session) == before
    assert session.exec(select(func.count()).select_from(AuditEntry)).one() == audit


# --- the SAMR layout, XLSX, mappings -------------------------------------------------------------------


def samr_rows(producer: str, seller: str) -> list[list[str]]:
    return [
        [
            "1",
            f"委托方:{producer};受委托方:东莞市代工食品有限公司",
            "东莞市长安镇",
            seller,
            "东莞市南城",
            "腊肠",
            "500g/袋",
            "某牌",
            "2026-02-01",
            "沙门氏菌║检出║不得检出\n菌落总数║1.2×10⁶CFU/g║≤10⁵CFU/g",
            "肉制品",
            "2026年第3号",
            "2026-03-20",
            "国家市场监督管理总局",
            "广东省食品检验所",
            "",
        ],
        [
            "2",
            producer,
            "",
            seller,
            "",
            "腊肉",
            "",
            "",
            "",
            "亚硝酸盐║35mg/kg║≤30mg/kg",
            "肉制品",
            "2026年第3号",
            "2026-03-20",
            "",
            "",
            "",
        ],
    ]


def test_samr_layout_from_xlsx_splits_parties_and_reads_every_failed_item(session, recorder, tmp_path):
    producer = make_firm(session, name="东莞市腊味食品有限公司")
    maker = make_firm(session, name="东莞市代工食品有限公司")
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(SAMR)
    for row in samr_rows(producer.name, "东莞市某商行"):
        sheet.append(row)
    path = tmp_path / "samr.xlsx"
    workbook.save(path)
    summary = import_announcement(session, path, recorder=recorder, defaults=Defaults(publisher="东莞市市场监督管理局"))
    assert summary.ok and summary.layout == "samr" and summary.failures == 2
    (announcement,) = session.exec(select(Announcement)).all()
    assert (announcement.number, announcement.key) == ("2026年第3号", "东莞市市场监督管理局|2026年第3号")
    events = session.exec(select(CreditEvent).order_by(CreditEvent.id)).all()
    assert [(e.firm_id, e.severity) for e in events] == [
        (producer.id, "serious"),  # 委托方
        (maker.id, "serious"),  # 受委托方
        (producer.id, "general"),
    ]
    assert events[0].failed_item == "沙门氏菌；菌落总数"
    assert events[0].failed_limit == "不得检出；≤10⁵CFU/g"
    assert events[0].document_no == "东莞市市场监督管理局 2026年第3号 #1"


def test_samr_layout_without_a_publisher_is_skipped_row_by_row(session, recorder):
    summary = import_announcement(session, csv_bytes(SAMR, samr_rows("东莞市甲食品有限公司", "乙")), recorder=recorder)
    assert summary.ok and {s.code for s in summary.skipped} == {"no_publisher"}
    assert session.exec(select(func.count()).select_from(Announcement)).one() == 0


def test_a_saved_mapping_reads_another_layout(session, recorder):
    firm = make_firm(session, name="东莞市映射食品有限公司")
    header = ["企业名称", "抽样单位", "样品", "结论", "不合格项", "发布机关", "日期"]
    rows = [[firm.name, "东莞市某店", "月饼", "不合格", "铅(以Pb计)", "东莞市市场监督管理局", "2026年9月30日"]]
    data = csv_bytes(header, rows)
    assert not import_announcement(session, data, recorder=recorder).ok  # not a layout we know
    with pytest.raises(AnnouncementError, match="判定"):
        save_mapping(session, "东莞月报", {"producer": "企业名称", "product": "样品"}, user=recorder)
    mapping = save_mapping(
        session,
        "东莞月报",
        {
            "producer": "企业名称",
            "seller": "抽样单位",
            "product": "样品",
            "outcome": "结论",
            "item": "不合格项",
            "publisher": "发布机关",
            "published_on": "日期",
        },
        user=recorder,
    )
    summary = import_announcement(session, data, recorder=recorder, mapping=mapping)
    assert summary.ok and summary.layout == "mapping:东莞月报" and summary.matched == 1
    (event,) = session.exec(select(CreditEvent)).all()
    assert (event.occurred_on, event.severity, event.failed_item) == (date(2026, 9, 30), "serious", "铅(以Pb计)")


# --- the queue ------------------------------------------------------------------------------------------


@pytest.fixture
def queued(session, recorder):
    """An announcement naming a registered firm exactly, a variant of it, an unregistered firm and a
    firm of another city."""
    firm = make_firm(session, name="东莞市长安五金制品有限公司")
    rows = [
        provincial("螺丝", firm.name, "东莞市甲商行"),
        provincial(
            "垫片",
            "东莞长安五金制品有限责任公司",
            "东莞市甲商行",
            outcome="不合格",
            item="镉(以Cd计)",
            result="0.3mg/kg",
            limit="≤0.1mg/kg",
        ),
        provincial("钉子", "东莞市新登记五金有限公司", "东莞市甲商行"),
        provincial(
            "铁丝", "烟台外地五金有限公司", "东莞市甲商行", outcome="不合格", item="铅", result="1", limit="0.5"
        ),
    ]
    summary = import_announcement(session, csv_bytes(PROVINCIAL, rows), recorder=recorder)
    assert (summary.matched, summary.to_confirm, summary.unmatched) == (1, 1, 2)
    return firm, summary


def test_confirming_a_variant_adds_its_event_to_the_batch_and_remembers_the_alias(session, recorder, queued):
    firm, summary = queued
    (batch_id,) = [a["batch_id"] for a in summary.announcements]
    names, total = waiting_names(session)
    assert total == 3
    variant = next(n for n in names if n.state == PartyState.to_confirm)
    assert variant.candidates[0]["firm_id"] == firm.id and variant.products == ["垫片"]
    decision = confirm_name(session, variant.name_key, firm, recorder=recorder)
    assert decision.events_created == 1 and decision.batches == {batch_id}
    batch = session.get(ImportBatch, batch_id)
    assert batch.created == 2
    fail = session.exec(select(CreditEvent).where(CreditEvent.event_type == "spot_check_fail")).one()
    assert (fail.firm_id, fail.import_batch_id, fail.severity, fail.failed_result) == (
        firm.id,
        batch_id,
        "serious",
        "0.3mg/kg",
    )
    assert session.exec(select(NameAlias)).one().firm_id == firm.id
    # The next announcement with that spelling matches at once.
    again = import_announcement(
        session,
        csv_bytes(PROVINCIAL, [provincial("垫圈", "东莞长安五金制品有限责任公司", "乙", published="2026-04-01")]),
        recorder=recorder,
    )
    assert again.matched == 1 and again.to_confirm == 0
    with pytest.raises(AnnouncementError, match="没有待确认"):
        confirm_name(session, variant.name_key, firm, recorder=recorder)


def test_registering_the_firm_or_referring_it_elsewhere(session, recorder, queued):
    row = firm_row(name="东莞市新登记五金有限公司", region="长安镇")
    firm, decision = register_and_confirm(
        session, name_key("东莞市新登记五金有限公司"), FirmCreate.model_validate(row), recorder=recorder
    )
    assert firm.uscc == row["uscc"] and decision.events_created == 1
    outside = mark_outside(session, name_key("烟台外地五金有限公司"), recorder=recorder, note="转烟台市市场监管局")
    assert outside.parties == 1
    (referral,) = referrals(session)
    assert (referral.name, referral.event_type, referral.failed_item, referral.note) == (
        "烟台外地五金有限公司",
        "spot_check_fail",
        "铅",
        "转烟台市市场监管局",
    )
    assert waiting_names(session)[1] == 1  # only the variant is left
    later = import_announcement(
        session,
        csv_bytes(PROVINCIAL, [provincial("铁钉", "烟台外地五金有限公司", "丙", published="2026-05-01")]),
        recorder=recorder,
    )
    assert later.out_of_jurisdiction == 1 and later.events_created == 0


def test_a_firm_outside_the_regions_never_gets_an_event(session, recorder, queued):
    firm, _ = queued
    session.exec(select(Firm).where(Firm.id == firm.id)).one().region = "外省某县"
    session.flush()
    key = name_key("东莞长安五金制品有限责任公司")
    with pytest.raises(AnnouncementError, match="不在本局辖区"):
        confirm_name(session, key, session.get(Firm, firm.id), recorder=recorder)
    later = import_announcement(
        session,
        csv_bytes(PROVINCIAL, [provincial("铆钉", firm.name, "丙", published="2026-05-02")]),
        recorder=recorder,
    )
    assert later.matched == 0 and later.events_created == 0


def test_four_eyes_on_the_announcement_batch(session, recorder, queued):
    _, summary = queued
    batch = session.get(ImportBatch, summary.announcements[0]["batch_id"])
    assert approve_batch(session, batch, make_user(session, role="reviewer")).approved == 1
    with pytest.raises(EventError, match="不是审核员"):
        approve_batch(session, batch, recorder)
    assert approve_batch(session, batch, make_user(session, role="reviewer")).approved == 0  # nothing left


def test_the_cli_prints_the_summary_as_json(runner, tx, tmp_path):
    with tx() as s:
        ensure_default_ruleset(s)
        make_user(s, username="lu", role="recorder")
        make_firm(s, name="重庆市天润食品开发有限公司")
    result = runner.invoke(args=["credit", "import-announcement", str(SAMPLE), "--by", "lu", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {
        "rows",
        "passes",
        "failures",
        "matched",
        "to_confirm",
        "unmatched",
        "out_of_jurisdiction",
        "skipped",
    } <= set(data)
    assert (data["rows"], data["passes"], data["failures"], data["matched"]) == (2297, 2242, 55, 14)
    again = runner.invoke(args=["credit", "import-announcement", str(SAMPLE), "--by", "lu", "--json"])
    assert json.loads(again.stdout)["already_imported"] == 2297
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    refused = runner.invoke(args=["credit", "import-announcement", str(bad)])
    assert refused.exit_code == 1 and "无法识别的表头" in refused.output
    future = runner.invoke(args=["credit", "import-announcement", str(bad), "--date", "2027-01-01"])
    assert future.exit_code == 1 and "晚于今天" in future.output


def test_a_preview_is_the_import_rolled_back(session, recorder):
    make_firm(session, name="重庆市天润食品开发有限公司")
    before = counts(session)
    preview = import_announcement(session, SAMPLE, recorder=recorder, dry_run=True, preview_rows=5)
    assert counts(session) == before
    assert len(preview.preview) == 5 and preview.preview[0]["row"] == 2
    real = import_announcement(session, SAMPLE, recorder=recorder)
    keys = ("rows", "passes", "failures", "matched", "to_confirm", "unmatched", "out_of_jurisdiction", "skipped")
    assert {k: preview.as_dict()[k] for k in keys} == {k: real.as_dict()[k] for k in keys}
    assert real.events_created == preview.events_created == 14


def test_the_name_index_follows_new_and_renamed_firms(session, recorder):
    from credit.services.firms import update_firm
    from credit.services.name_matching import refresh_name_keys

    firm = make_firm(session, name="东莞市旧名食品有限公司")
    assert refresh_name_keys(session) >= 1 and refresh_name_keys(session) == 0
    data = FirmCreate.model_validate(
        {**firm.model_dump(include=set(FirmCreate.model_fields)), "name": "东莞市新名食品有限公司"}
    )
    update_firm(session, firm, data)
    assert refresh_name_keys(session) == 1
    summary = import_announcement(
        session, csv_bytes(PROVINCIAL, [provincial("月饼", "东莞市新名食品有限公司", "乙")]), recorder=recorder
    )
    assert summary.matched == 1
    assert session.exec(select(AuditEntry).where(AuditEntry.action == "reindex")).first() is not None
