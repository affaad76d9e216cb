"""The catalogue of credit events (SPEC §2): each type's code, Chinese label and the fields its documents
carry. Points and windows are not here: they belong to the versioned rule set (credit/rules)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EventType:
    """One kind of credit event and what a record of it must carry."""

    code: str
    label: str
    label_en: str
    severities: tuple[str, ...] = ()  # non-empty: a severity is required and must be one of these
    needs_valid_until: bool = False  # certificates and brand titles expire
    needs_person: bool = False  # 首席质量官: the person's name and training certificate number
    closes_failure: bool = False  # 整改复查: points at the spot-check failure it closes


# Short labels for tables and choices; the form's help text says what serious and heavy mean.
SEVERITY_LABELS = {"general": "一般", "serious": "严重", "heavy": "从重"}

EVENT_TYPES: dict[str, EventType] = {
    t.code: t
    for t in (
        EventType("spot_check_pass", "监督抽查合格", "Spot check passed"),
        EventType("spot_check_fail", "监督抽查不合格", "Spot check failed", severities=("general", "serious")),
        EventType("rectified", "不合格整改复查合格", "Failure rectified and re-checked", closes_failure=True),
        EventType("spot_check_refused", "拒绝、阻碍监督抽查", "Spot check refused or obstructed"),
        EventType("penalty", "行政处罚", "Administrative penalty", severities=("general", "heavy")),
        EventType("serious_dishonesty", "列入严重违法失信名单决定", "Listed as seriously dishonest"),
        EventType("recall_voluntary", "主动召回", "Voluntary recall"),
        EventType("recall_ordered", "责令召回", "Ordered recall"),
        EventType("complaint_substantiated", "投诉举报经查属实", "Complaint substantiated"),
        EventType("interview", "质量约谈", "Quality interview"),
        EventType("false_test_data", "出具虚假检验检测数据或认证结论", "False test data or certification"),
        EventType("award_national", "中国质量奖(含提名)", "China Quality Award (incl. nomination)"),
        EventType("award_provincial", "省政府质量奖", "Provincial Government Quality Award"),
        EventType("award_municipal", "市政府质量奖", "Municipal Government Quality Award"),
        EventType("famous_brand", "广东省名牌产品", "Guangdong famous-brand product", needs_valid_until=True),
        EventType(
            "certification", "质量管理体系认证", "Quality management system certification", needs_valid_until=True
        ),
        EventType("standard_leadership", "主导制修订标准", "Led a standard's drafting or revision"),
        EventType("cqo_appointed", "首席质量官任命", "Chief quality officer appointed", needs_person=True),
        EventType("cqo_left", "首席质量官离任", "Chief quality officer left", needs_person=True),
        EventType("credit_report", "发布企业质量信用报告", "Published a quality-credit report"),
        EventType("excellence_model", "导入卓越绩效模式", "Adopted the performance-excellence model"),
    )
}


def event_label(code: str) -> str:
    """The Chinese label of an event type (the code itself when unknown)."""
    event_type = EVENT_TYPES.get(code)
    return event_type.label if event_type else code
