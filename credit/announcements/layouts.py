"""The table layouts announcements are published in, and reading one row of them.

Two layouts are built in: the national one of 国家市场监督管理总局 (also used by provincial and city
bureaus for their own announcements) and the provincial one of the sample data set (物料名称, 生产商,
供应商 … 判定, 发布单位, 发布日期). Any other is read through a column mapping a recorder saves by name.
A row is either a SpotCheckRow or a RowSkip with a coded reason: nothing is guessed."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from credit.announcements.names import Party, clean, is_placeholder, looks_like_date, parties_of, tidy
from credit.clock import parse_past_date

# Canonical fields of an announcement row and the title people know them by.
FIELDS: dict[str, str] = {
    "row_no": "序号",
    "producer": "标称生产企业名称",
    "producer_address": "标称生产企业地址",
    "seller": "被抽样单位名称",
    "seller_address": "被抽样单位地址",
    "product": "食品/产品名称",
    "spec": "规格型号",
    "brand": "商标",
    "batch": "生产日期/批号",
    "failed": "不合格项目║检验结果║标准值",
    "item": "检测项目/不合格项目",
    "result": "检验结果",
    "unit": "单位",
    "limit": "标准值/限量值",
    "outcome": "判定/检验结论",
    "category": "分类",
    "number": "公告号",
    "published_on": "公告日期",
    "publisher": "发布单位",
    "task": "任务来源/项目名称",
    "lab": "检验机构",
    "remark": "备注",
}


@dataclass(frozen=True)
class Layout:
    """A table layout: the header titles of each canonical field, and the fields it cannot do without."""

    code: str
    label: str
    columns: dict[str, tuple[str, ...]]
    required: tuple[str, ...]


SAMR = Layout(
    code="samr",
    label="市场监管总局公告表（序号、标称生产企业名称……公告号、公告日期）",
    columns={
        "row_no": ("序号",),
        "producer": ("标称生产企业名称", "标称生产者名称", "标称生产企业", "生产企业名称"),
        "producer_address": ("标称生产企业地址", "标称生产者地址", "生产企业地址"),
        "seller": ("被抽样单位名称", "被抽样单位", "被抽检单位名称"),
        "seller_address": ("被抽样单位地址", "被抽样单位所在省份", "被抽检单位地址"),
        "product": ("食品名称", "产品名称", "样品名称", "食品/产品名称"),
        "spec": ("规格型号", "规格"),
        "brand": ("商标",),
        "batch": ("生产日期/批号", "生产日期或批号", "生产日期", "批号"),
        "failed": ("不合格项目|检验结果|标准值", "不合格项目/检验结果/标准值", "不合格项目"),
        "category": ("分类", "食品分类", "产品类别"),
        "number": ("公告号", "公告编号"),
        "published_on": ("公告日期", "发布日期"),
        "task": ("任务来源/项目名称", "任务来源", "项目名称"),
        "lab": ("检验机构", "承检机构"),
        "remark": ("备注",),
        "outcome": ("判定", "检验结论", "结论"),
    },
    required=("row_no", "producer", "seller", "product"),
)

PROVINCIAL = Layout(
    code="provincial",
    label="省局抽检信息表（物料名称、生产商、供应商……判定、发布单位、发布日期）",
    columns={
        "product": ("物料名称",),
        "category": ("产品分类",),
        "producer": ("生产商",),
        "seller": ("供应商",),
        "batch": ("批号",),
        "item": ("检测项目",),
        "unit": ("单位",),
        "result": ("检测结果",),
        "limit": ("限量值",),
        "outcome": ("判定",),
        "publisher": ("发布单位",),
        "published_on": ("发布日期",),
        "remark": ("备注",),
    },
    required=("product", "producer", "seller", "outcome", "publisher", "published_on"),
)

BUILT_IN = (SAMR, PROVINCIAL)
LAYOUT_LABELS = {layout.code: layout.label for layout in BUILT_IN}


def header_key(title: object) -> str:
    """A header title as compared: NFKC, no spaces, one kind of separator bar."""
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(title or "")))
    return re.sub(r"[║|｜]+", "|", text).casefold()


def mapping_layout(name: str, columns: dict[str, str]) -> Layout:
    """A layout from a saved column mapping {field: header title}."""
    return Layout(
        code=f"mapping:{name}",
        label=name,
        columns={f: (title,) for f, title in columns.items() if title.strip()},
        required=tuple(f for f, title in columns.items() if title.strip()),
    )


def mapping_problems(columns: dict[str, str]) -> list[str]:
    """What a column mapping lacks to be read safely (empty: it can be saved)."""
    problems = [f"未知字段 {f}" for f in columns if f not in FIELDS]
    named = {f for f, title in columns.items() if title.strip()}
    if "product" not in named:
        problems.append("须指定产品名称列")
    if not named & {"producer", "seller"}:
        problems.append("须指定生产企业或被抽样单位列")
    if not named & {"outcome", "failed", "item"}:
        problems.append("须指定判定列或不合格项目列，否则无法区分合格与不合格")
    titles = [header_key(t) for t in columns.values() if t.strip()]
    if len(titles) != len(set(titles)):
        problems.append("同一列不能对应两个字段")
    return problems


@dataclass(frozen=True)
class Detected:
    """A recognised header: its layout and the position of each field present."""

    layout: Layout
    positions: dict[str, int]
    width: int


def detect_layout(header: list[str], layouts: tuple[Layout, ...] = BUILT_IN) -> Detected | None:
    """The layout whose required columns the header has (the one matching most columns when several do);
    None when no layout fits: such a file must change nothing."""
    keys = [header_key(title) for title in header]
    best: Detected | None = None
    for layout in layouts:
        positions: dict[str, int] = {}
        for name, titles in layout.columns.items():
            wanted = {header_key(t) for t in titles}
            for index, key in enumerate(keys):
                if key in wanted and index not in positions.values():
                    positions[name] = index
                    break
        if all(name in positions for name in layout.required) and (
            best is None or len(positions) > len(best.positions)
        ):
            best = Detected(layout, positions, max(i for i, k in enumerate(keys) if k) + 1)
    return best


@dataclass(frozen=True)
class Defaults:
    """What the recorder says of the whole file when its columns do not: publisher, number, date."""

    publisher: str = ""
    number: str = ""
    published_on: date | None = None


@dataclass(frozen=True)
class RowSkip:
    """A row that cannot be read safely, why (a code for logic, a sentence for people)."""

    file_row: int
    code: str
    detail: str


@dataclass(frozen=True)
class SpotCheckRow:
    """One readable result of an announcement."""

    file_row: int
    row_key: str
    failed: bool
    product: str
    parties: tuple[Party, ...]
    publisher: str
    number: str
    published_on: date
    items: tuple[str, ...] = ()
    results: tuple[str, ...] = ()
    limits: tuple[str, ...] = ()
    remark: str = ""
    details: dict[str, str] = field(default_factory=dict)  # spec, brand, batch, category, task, lab
    raw: dict[str, str] = field(default_factory=dict)


PASS_WORDS = frozenset({"合格", "符合", "pass", "passed", "qualified"})
FAIL_WORDS = frozenset({"不合格", "不符合", "fail", "failed", "unqualified"})
_DATE_PARTS = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T][\d:.]+)?$")
_SUP = re.compile(r"<sup>\s*([0-9+-]+)\s*</sup>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]{1,20}>")
_SUPERSCRIPT = str.maketrans("0123456789+-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻")
_DETAILS = ("spec", "brand", "batch", "category", "task", "lab")


def parse_date(text: str, *, field: str = "公告日期") -> date:
    """An announcement date as printed (2022-01-14, 2022/1/14, 2022年1月14日, 2022.01.14), not after today
    nor before 1990; ValueError with a reason otherwise."""
    match = _DATE_PARTS.match(clean(text))
    if not match:
        raise ValueError(f"{field}「{clean(text)[:40]}」不是日期")
    year, month, day = (int(g) for g in match.groups())
    return parse_past_date(f"{year:04d}-{month:02d}-{day:02d}", field=field)


def _markup(text: str) -> str:
    """Published HTML residue in a cell: <sup>4</sup> → ⁴, other tags dropped."""
    return _TAG.sub("", _SUP.sub(lambda m: m.group(1).translate(_SUPERSCRIPT), text))


def _failed_items(cell: str) -> tuple[list[str], list[str], list[str]]:
    """不合格项目║检验结果║标准值: one item per line (or per ；), its three parts separated by bars."""
    items: list[str] = []
    results: list[str] = []
    limits: list[str] = []
    for chunk in re.split(r"[\n;；]+", cell):
        parts = [tidy(p) for p in re.split(r"[║|｜]+", chunk)]
        if not parts or not parts[0]:
            continue
        items.append(parts[0])
        results.append(parts[1] if len(parts) > 1 else "")
        limits.append(parts[2] if len(parts) > 2 else "")
    return items, results, limits


def read_row(file_row: int, cells: list[str], detected: Detected, defaults: Defaults) -> SpotCheckRow | RowSkip:
    """Read one data row; a RowSkip (with its reason) for anything that cannot be read safely."""
    positions = detected.positions

    def cell(name: str) -> str:
        index = positions.get(name)
        return cells[index] if index is not None and index < len(cells) else ""

    def skip(code: str, detail: str) -> RowSkip:
        return RowSkip(file_row, code, detail)

    extra = [c for c in cells[detected.width :] if c.strip()]
    if extra:
        return skip("extra_cells", f"本行有 {len(cells)} 列，多于表头的 {detected.width} 列（列错位）")
    product, producer, seller = tidy(cell("product")), cell("producer"), cell("seller")
    if is_placeholder(product) and is_placeholder(producer) and is_placeholder(seller):
        return skip("empty_row", "空行：没有产品，也没有企业")
    for name in ("product", "producer", "seller"):
        if looks_like_date(cell(name)):
            return skip("date_in_name", f"{FIELDS[name]}列是日期「{clean(cell(name))}」（列错位）")
    row_no = clean(cell("row_no"))
    if "row_no" in positions and not row_no.isdigit():
        return skip("bad_row_no", f"序号「{row_no[:40]}」不是数字（列错位）")

    outcome = clean(cell("outcome")).casefold()
    if "outcome" in positions and outcome:
        if outcome in FAIL_WORDS:
            failed = True
        elif outcome in PASS_WORDS:
            failed = False
        else:
            return skip("bad_outcome", f"判定「{clean(cell('outcome'))[:40]}」既不是合格也不是不合格（列错位？）")
    elif "failed" in positions:
        failed = True  # a table of failures (不合格产品信息) carries the failed-items column
    elif "outcome" in positions:
        return skip("bad_outcome", "判定为空")
    else:
        failed = False  # a table of passes (合格产品信息) has neither

    date_text = clean(cell("published_on"))
    if date_text:
        try:
            published_on = parse_date(date_text, field=FIELDS["published_on"])
        except ValueError as exc:
            return skip("bad_date", str(exc))
    elif defaults.published_on is not None:
        published_on = defaults.published_on
    else:
        return skip("no_date", "缺少公告日期（表中没有，导入时也未指定）")
    publisher = clean(cell("publisher")) or clean(defaults.publisher)
    if not publisher:
        return skip("no_publisher", "缺少发布单位（表中没有，导入时也未指定）")
    if looks_like_date(publisher):
        return skip("date_in_name", f"发布单位列是日期「{publisher}」（列错位）")
    number = clean(cell("number")) or clean(defaults.number)

    items: list[str] = []
    results: list[str] = []
    limits: list[str] = []
    if failed:
        if "failed" in positions and not is_placeholder(cell("failed")):
            items, results, limits = _failed_items(_markup(cell("failed")))
        elif not is_placeholder(cell("item")):
            items = [tidy(_markup(cell("item")))]
            results = [tidy(_markup(cell("result") + cell("unit")))]
            limits = [tidy(_markup(cell("limit")))]
        if not items:
            return skip("no_failed_item", "判定为不合格，但没有列明不合格项目")
        if any(looks_like_date(item) for item in items):
            return skip("date_in_name", "不合格项目列是日期（列错位）")

    parties = parties_of(
        producer=producer,
        producer_address=cell("producer_address"),
        seller=seller,
        seller_address=cell("seller_address"),
        remark=cell("remark"),
    )
    if not parties:
        return skip("no_firm", "没有列明任何企业（生产企业与被抽样单位均为空）")
    header_names = {name: cell(name) for name in positions}
    return SpotCheckRow(
        file_row=file_row,
        row_key=row_no or str(file_row),
        failed=failed,
        product=product[:200],
        parties=tuple(parties),
        publisher=publisher[:200],
        number=number[:100],
        published_on=published_on,
        items=tuple(i[:200] for i in items),
        results=tuple(r[:200] for r in results),
        limits=tuple(limit[:200] for limit in limits),
        remark=tidy(cell("remark"))[:1000],
        details={name: tidy(cell(name))[:200] for name in _DETAILS if tidy(cell(name))},
        raw=header_names,
    )
