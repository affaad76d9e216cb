"""The leadership dashboard `/admin/stats` (staff), its downloads, the 红黄牌警示 detail, the 首席质量官
registry `/admin/cqo`, and the public `/statistics` page showing the figures the rule set publishes. Each
figure is a chart (an ECharts option in a `data-chart` attribute, drawn by static/js/charts.js with the
SVG renderer) with its numbers in a table beside it."""

from __future__ import annotations

import json

from flask import Blueprint, abort, make_response, render_template, request
from flask_babel import gettext as _

from credit.clock import today
from credit.reference import INDUSTRY_SECTIONS, REGIONS
from credit.services.grade_history import GRADES
from credit.services.rulesets import active_ruleset
from credit.services.spreadsheet import CSV_MIMETYPE, XLSX_MIMETYPE, csv_bytes, xlsx_bytes
from credit.services.statistics import (
    CityStatistics,
    StatisticsError,
    city_statistics,
    cqo_summary,
    current_cqos,
    firms_without_cqo,
    resolve_period,
    warning_failures,
    warning_since,
    warnings_on,
)
from credit.web.db import get_session
from credit.web.helpers import date_arg
from credit.web.security import STAFF, roles_required

bp = Blueprint("stats", __name__)
public_bp = Blueprint("public_stats", __name__)

PAGE = 50
LEVEL_LABELS = {"red": "红牌", "yellow": "黄牌"}
DIMENSION_LABELS = {"region": "镇街", "industry": "行业"}
# What the dashboard template compares a table cell with (the cells are these labels).
_LABELS = {"red": LEVEL_LABELS["red"], "region": DIMENSION_LABELS["region"]}


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def _period() -> tuple[int, object]:
    try:
        year = int(request.args["year"]) if request.args.get("year") else None
    except ValueError:
        abort(400)
    try:
        return resolve_period(year, date_arg("as_of", _("统计日")), today())
    except StatisticsError:
        abort(400)


def _rate_rows(rates, label=lambda key: key):
    return [[label(r.key), r.checks, r.passed, _pct(r.rate)] for r in rates]


def _industry(key: str) -> str:
    return f"{key} {INDUSTRY_SECTIONS.get(key, '')}".strip()


RATE_HEADER = ["{0}", "抽查批次", "合格批次", "合格率"]


def figure_tables(stats: CityStatistics) -> dict[str, tuple[str, list[str], list[list]]]:
    """Each figure's numbers as (title, Chinese header, rows): the table beside the chart and its download."""
    target = _pct(stats.rules.pass_rate_target)
    return {
        "pass_rate_years": (
            f"监督抽查合格率(按年度,目标 {target})",
            ["年度", "抽查批次", "合格批次", "合格率"],
            _rate_rows(stats.by_year),
        ),
        "pass_rate_regions": (
            f"{stats.year} 年监督抽查合格率(按镇街,目标 {target})",
            ["镇街", "抽查批次", "合格批次", "合格率"],
            _rate_rows(stats.by_region),
        ),
        "pass_rate_industries": (
            f"{stats.year} 年监督抽查合格率(按行业门类,目标 {target})",
            ["行业门类", "抽查批次", "合格批次", "合格率"],
            _rate_rows(stats.by_industry, _industry),
        ),
        "grades": (
            "企业信用等级分布(按月末)",
            ["日期", *GRADES],
            [[day.isoformat(), *(counts[g] for g in GRADES)] for day, counts in stats.grade_trend.items()],
        ),
        "lists": (
            "红黑榜在榜企业数(按月末)",
            ["日期", "红榜", "黑榜"],
            [[day.isoformat(), c["red"], c["black"]] for day, c in stats.list_trend.items()],
        ),
        "cqo": (
            f"首席质量官({stats.cqo.scale}企业覆盖率,目标 {_pct(stats.cqo.target)})",
            ["项目", "数值"],
            [
                ["设有首席质量官的企业", stats.cqo.with_cqo],
                [f"{stats.cqo.scale}企业", stats.cqo.scale_firms],
                [f"设有首席质量官的{stats.cqo.scale}企业", stats.cqo.scale_with_cqo],
                ["覆盖率", _pct(stats.cqo.coverage)],
                ["目标", _pct(stats.cqo.target)],
            ],
        ),
        "warnings": (
            "红黄牌警示(近期不合格率远高于全市)",
            ["维度", "镇街或行业", "警示", "抽查批次", "不合格批次", "不合格率", "全市不合格率"],
            [
                [
                    DIMENSION_LABELS[w.dimension],
                    w.key if w.dimension == "region" else _industry(w.key),
                    LEVEL_LABELS[w.level],
                    w.checks,
                    w.failed,
                    _pct(w.rate),
                    _pct(w.city_rate),
                ]
                for w in stats.warnings
            ],
        ),
    }


def _bar(names, values, target, name):
    return {
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 48, "right": 16, "top": 24, "bottom": 64},
        "xAxis": {"type": "category", "data": names, "axisLabel": {"rotate": 45 if len(names) > 8 else 0}},
        "yAxis": {"type": "value", "min": 0, "max": 100},
        "series": [
            {
                "type": "bar",
                "name": name,
                "data": values,
                "markLine": {"symbol": "none", "data": [{"yAxis": round(target * 100, 2), "name": "目标"}]},
            }
        ],
    }


def _rate_values(rates):
    return [None if r.rate is None else round(r.rate * 100, 2) for r in rates]


def chart_specs(stats: CityStatistics) -> dict[str, dict]:
    """An ECharts option per figure (plain data: the page carries it as JSON in a data attribute)."""
    target = stats.rules.pass_rate_target
    months = [d.isoformat() for d in stats.grade_trend]
    colours = {"A": "#2e7d32", "B": "#1565c0", "C": "#ef6c00", "D": "#c62828"}
    return {
        "pass_rate_years": _bar([r.key for r in stats.by_year], _rate_values(stats.by_year), target, "合格率 %"),
        "pass_rate_regions": _bar([r.key for r in stats.by_region], _rate_values(stats.by_region), target, "合格率 %"),
        "pass_rate_industries": _bar(
            [r.key for r in stats.by_industry], _rate_values(stats.by_industry), target, "合格率 %"
        ),
        "grades": {
            "tooltip": {"trigger": "axis"},
            "legend": {"top": 0},
            "grid": {"left": 56, "right": 16, "top": 32, "bottom": 48},
            "xAxis": {"type": "category", "data": months},
            "yAxis": {"type": "value"},
            "series": [
                {"type": "line", "name": g, "color": colours[g], "data": [c[g] for c in stats.grade_trend.values()]}
                for g in GRADES
            ],
        },
        "lists": {
            "tooltip": {"trigger": "axis"},
            "legend": {"top": 0},
            "grid": {"left": 56, "right": 16, "top": 32, "bottom": 48},
            "xAxis": {"type": "category", "data": [d.isoformat() for d in stats.list_trend]},
            "yAxis": {"type": "value", "minInterval": 1},
            "series": [
                {
                    "type": "line",
                    "name": "红榜",
                    "color": "#c62828",
                    "data": [c["red"] for c in stats.list_trend.values()],
                },
                {
                    "type": "line",
                    "name": "黑榜",
                    "color": "#212121",
                    "data": [c["black"] for c in stats.list_trend.values()],
                },
            ],
        },
        "cqo": _bar(
            [f"{stats.cqo.scale}企业覆盖率"],
            [None if stats.cqo.coverage is None else round(stats.cqo.coverage * 100, 2)],
            stats.cqo.target,
            "覆盖率 %",
        ),
    }


def _figures(stats: CityStatistics, names) -> list[dict]:
    tables, charts = figure_tables(stats), chart_specs(stats)
    return [
        {
            "name": name,
            "title": tables[name][0],
            "header": tables[name][1],
            "rows": tables[name][2],
            "chart": json.dumps(charts[name], ensure_ascii=False) if name in charts else None,
        }
        for name in names
    ]


STAFF_FIGURES = ("pass_rate_years", "pass_rate_regions", "pass_rate_industries", "grades", "lists", "cqo", "warnings")
# The rule set's public_figures codes name these figures.
PUBLIC_GROUPS = {
    "pass_rate": ("pass_rate_years", "pass_rate_regions", "pass_rate_industries"),
    "grades": ("grades",),
    "lists": ("lists",),
    "cqo": ("cqo",),
    "warnings": ("warnings",),
}


@bp.route("/stats")
@roles_required(*STAFF)
def dashboard():
    session = get_session()
    year, day = _period()
    stats = city_statistics(session, active_ruleset(session), year=year, as_of=day)
    return render_template(
        "stats/dashboard.html", stats=stats, figures=_figures(stats, STAFF_FIGURES), public=False, labels=_LABELS
    )


def _download(title: str, header: list[str], rows: list[list], name: str, fmt: str):
    if fmt == "csv":
        body, mimetype = csv_bytes(header, rows), CSV_MIMETYPE
    else:
        body, mimetype = xlsx_bytes([(title[:31].replace("/", "-"), header, rows)]), XLSX_MIMETYPE
    response = make_response(body)
    response.headers["Content-Type"] = mimetype + ("; charset=utf-8" if fmt == "csv" else "")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


@bp.route("/stats/<figure>.<any(csv, xlsx):fmt>")
@roles_required(*STAFF)
def figure_download(figure: str, fmt: str):
    if figure not in STAFF_FIGURES:
        abort(404)
    session = get_session()
    year, day = _period()
    stats = city_statistics(session, active_ruleset(session), year=year, as_of=day)
    title, header, rows = figure_tables(stats)[figure]
    return _download(title, header, rows, f"{figure}-{day}", fmt)


@bp.route("/stats/warnings/<any(region, industry):dimension>/<key>")
@roles_required(*STAFF)
def warning_detail(dimension: str, key: str):
    if (dimension == "region" and key not in REGIONS) or (dimension == "industry" and key not in INDUSTRY_SECTIONS):
        abort(404)
    session = get_session()
    rules = active_ruleset(session).statistics
    _year, day = _period()
    page = max(1, request.args.get("page", 1, type=int) or 1)
    warning = next((w for w in warnings_on(session, rules, day) if (w.dimension, w.key) == (dimension, key)), None)
    since = warning_since(session, rules, dimension, key, day) if warning else None
    failures = warning_failures(session, rules, dimension, key, day, offset=(page - 1) * PAGE, limit=PAGE + 1)
    return render_template(
        "stats/warning.html",
        dimension=dimension,
        key=key,
        label=key if dimension == "region" else _industry(key),
        warning=warning,
        since=since,
        failures=failures[:PAGE],
        more=len(failures) > PAGE,
        page=page,
        as_of=day,
        LEVEL_LABELS=LEVEL_LABELS,
    )


CQO_HEADER = ["统一社会信用代码", "企业名称", "镇街", "规模", "首席质量官", "证书编号", "任职起始日"]


@bp.route("/cqo")
@roles_required(*STAFF)
def cqo_registry():
    session = get_session()
    rules = active_ruleset(session)
    day = date_arg("as_of", _("统计日")) or today()
    if day > today():
        abort(400)
    page = max(1, request.args.get("page", 1, type=int) or 1)
    missing_page = max(1, request.args.get("missing_page", 1, type=int) or 1)
    officers = current_cqos(session, rules, day, offset=(page - 1) * PAGE, limit=PAGE + 1)
    missing = firms_without_cqo(session, rules, day, offset=(missing_page - 1) * PAGE, limit=PAGE + 1)
    return render_template(
        "stats/cqo.html",
        summary=cqo_summary(session, rules, day),
        officers=officers[:PAGE],
        more=len(officers) > PAGE,
        missing=missing[:PAGE],
        more_missing=len(missing) > PAGE,
        page=page,
        missing_page=missing_page,
        as_of=day,
    )


@bp.route("/cqo.<any(csv, xlsx):fmt>")
@roles_required(*STAFF)
def cqo_download(fmt: str):
    session = get_session()
    rules = active_ruleset(session)
    day = today()
    rows, offset = [], 0
    while True:  # paged reads: the registry grows with the city
        chunk = current_cqos(session, rules, day, offset=offset, limit=5000)
        rows += [[r.uscc, r.name, r.region, r.scale, r.person_name, r.certificate_no, r.since] for r in chunk]
        if len(chunk) < 5000:
            break
        offset += 5000
    return _download("首席质量官名录", CQO_HEADER, rows, f"cqo-{day}", fmt)


@public_bp.route("/statistics")
def public_statistics():
    session = get_session()
    rules = active_ruleset(session)
    names = [name for code in rules.statistics.public_figures for name in PUBLIC_GROUPS[code]]
    if not names:
        abort(404)
    year, day = resolve_period(None, None, today())
    stats = city_statistics(session, rules, year=year, as_of=day)
    return render_template(
        "stats/dashboard.html", stats=stats, figures=_figures(stats, names), public=True, labels=_LABELS
    )
