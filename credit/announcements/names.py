"""Firm names as announcements print them: cleaning, the normalised matching key, and the split of a
multi-party cell (`委托方：…；受委托方：…`, `进口商：…（原产国：…）`) into parties with roles.

The key is what two spellings of one registered name have in common and nothing more: NFKC (full-width
and half-width forms), no whitespace (announcements wrap names across lines and pad them with U+3000),
no brackets, 有限责任公司 ≡ 有限公司, and a trailing note such as （分装） dropped. A branch (…分公司, …分店)
keeps its own name, so it never collapses onto its head office."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# A cell that means "none": announcements print these where a column does not apply (SPEC issue 13).
PLACEHOLDERS = frozenset(
    {"", "/", "／", "\\", "-", "--", "—", "——", "－", "无", "空", "空白", "不详", "未知", "n/a", "na", "null", "none"}
)

# Roles a multi-party cell names, by the labels announcements use (longest label first when matching).
ROLE_LABELS: dict[str, tuple[str, ...]] = {
    "producer": (
        "受委托生产商", "受委托生产企业", "受委托生产者", "受委托方", "受委托单位", "受委托企业", "受委托商",
        "受托方", "受托单位", "受托企业", "受托生产企业", "被委托方", "被委托商", "被委托单位", "被委托生产商",
        "被委托企业", "生产加工单位", "生产加工者", "生产商", "生产者", "生产企业", "生产单位", "生产厂家",
        "制造商", "制造者", "标称生产企业", "标称生产者", "标称", "标示",
    ),
    "commissioner": (
        "委托方", "委托单位", "委托商", "委托企业", "委托生产商", "委托生产企业", "委托者", "出品商", "出品方",
        "出品单位", "出品", "品牌方", "品牌商",
    ),
    "importer": ("进口商", "进口代理商", "进口经销商", "境内代理商", "代理商"),
    "distributor": ("经销商", "经销者", "销售商", "总经销商", "总经销", "供货商", "供应商", "分销商"),
    "origin": ("原产国", "原产地", "原产国/地区", "产地"),
    "lab": ("初检机构", "复检机构", "检验机构", "承检机构"),
    "online_store": ("被抽样网络店铺名称", "网络店铺名称", "网店名称"),
    "online_address": ("被抽样网络店铺地址", "网络店铺地址", "网店地址"),
}  # fmt: skip
PARTY_ROLES = ("producer", "commissioner", "importer", "distributor", "seller")
_LABEL_ROLE = {label: role for role, labels in ROLE_LABELS.items() for label in labels}
_LABEL_RE = re.compile(r"(" + "|".join(sorted(map(re.escape, _LABEL_ROLE), key=len, reverse=True)) + r")\s*:")
# Notes in a trailing bracket that say how the product was handled, not who the firm is.
_NOTE_RE = re.compile(r"\((?:分装|分装产品|代码[^()]*|原[^()]*|曾用名[^()]*)\)$")
_BRACKETS = str.maketrans("", "", "()[]{}<>【】〔〕〈〉《》「」『』")
_SPACE_RE = re.compile(r"\s+")
_CJK = r"\u3400-\u9fff\uf900-\ufaff"
_CJK_GAP_RE = re.compile(rf"(?<=[{_CJK}(){_CJK}])\s+(?=[{_CJK}()])|\s*\n\s*")
_BRANCH_RE = re.compile(r"^(.+?公司)(.+?(?:分公司|分店|分厂|分部|营业部|门店|店))$|^(.+?)(分公司|分店|分厂)$")
_DATE_RE = re.compile(r"^\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?$|^\d{4}-\d{2}-\d{2}[ T][\d:]+$")


@lru_cache(maxsize=65536)
def _clean(text: str) -> str:
    text = _CJK_GAP_RE.sub("", unicodedata.normalize("NFKC", text).strip())
    return _SPACE_RE.sub(" ", text).strip()


def clean(value: object) -> str:
    """A cell as people read it: NFKC, line wraps inside Chinese text removed, other spaces single."""
    return _clean("" if value is None else str(value))  # cells repeat a lot: names, dates, publishers


def tidy(value: object) -> str:
    """A value kept as published (no NFKC: 10⁵ must not become 105), only its line wraps and padding gone."""
    text = ("" if value is None else str(value)).replace("\u3000", " ")
    text = _CJK_GAP_RE.sub("", text.strip())
    return _SPACE_RE.sub(" ", text).strip()


def is_placeholder(value: object) -> bool:
    """Whether a cell means "none" (`/`, `—`, `无`, empty…)."""
    return clean(value).casefold() in PLACEHOLDERS


def looks_like_date(value: str) -> bool:
    """A cell holding a date (a date in a name column is a sign of a shifted row)."""
    return bool(_DATE_RE.match(clean(value)))


@lru_cache(maxsize=65536)
def name_key(name: str) -> str:
    """The matching key of a firm name (see the module docstring); equal keys name one firm."""
    text = unicodedata.normalize("NFKC", name or "")
    text = _SPACE_RE.sub("", text).casefold()
    while True:
        trimmed = _NOTE_RE.sub("", text)
        if trimmed == text:
            break
        text = trimmed
    text = text.translate(_BRACKETS)
    return text.replace("有限责任公司", "有限公司")


def split_branch(key: str) -> tuple[str, str]:
    """(head office, branch) of a normalised name; branch is "" for a name that is not a branch."""
    match = _BRANCH_RE.match(key)
    if not match:
        return key, ""
    if match.group(1):
        return match.group(1), match.group(2)
    return match.group(3), match.group(4)


@dataclass(frozen=True)
class Party:
    """One firm an announcement names, and in what role."""

    role: str  # producer | commissioner | importer | distributor | seller
    name: str
    address: str = ""

    @property
    def key(self) -> str:
        return name_key(self.name)


def _tidy(segment: str) -> str:
    text = segment.strip().strip(";,、。 ")
    if text.endswith("(") or (text.endswith(")") and text.count(")") > text.count("(")):
        text = text[:-1].rstrip(";,、。 ")
    if text.startswith(")"):
        text = text[1:].lstrip(";,、。 ")
    return text.strip()


def split_parties(value: object, default_role: str | None) -> list[tuple[str, str]]:
    """The (role, text) parts of a cell. Unlabelled text takes `default_role` (None: ignored, as in a
    remark); labelled parts take their label's role; placeholders are dropped."""
    text = clean(value)
    if is_placeholder(text):
        return []
    parts: list[tuple[str, str]] = []
    matches = list(_LABEL_RE.finditer(text))
    head = text[: matches[0].start()] if matches else text
    if default_role is not None and not is_placeholder(_tidy(head)):
        parts.append((default_role, _tidy(head)))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        body = _tidy(text[match.end() : end])
        if not is_placeholder(body):
            parts.append((_LABEL_ROLE[match.group(1)], body))
    return parts


def parties_of(
    *,
    producer: object = "",
    producer_address: object = "",
    seller: object = "",
    seller_address: object = "",
    remark: object = "",
) -> list[Party]:
    """Every firm a row names: the producer cell (its unlabelled text is the producer), the seller cell
    (unlabelled text is the sampled seller) and labelled parties in the remark. Each name once per role."""  # fmt: skip
    found: list[Party] = []
    seen: set[tuple[str, str]] = set()
    sources = ((producer, "producer", producer_address), (seller, "seller", seller_address), (remark, None, ""))
    for cell, default_role, address in sources:
        for role, text in split_parties(cell, default_role):
            if role not in PARTY_ROLES:
                continue
            party = Party(role, text[:200], clean(address)[:300] if role == default_role else "")
            if (role, party.key) not in seen and party.key:
                seen.add((role, party.key))
                found.append(party)
    return found
