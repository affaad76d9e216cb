"""`flask credit plan …` and `flask credit inspectors …`: 双随机 plans and the inspector roster from the
command line (SPEC §4: `plan --seed S [--as-of D] [--region R] [--industry I] --json`)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from credit.db import session_scope
from credit.models import Actor
from credit.web.cli import _date, _engine, credit_cli, fail


@credit_cli.command("plan")
@click.option("--seed", required=True, help="The recorded seed (e.g. the draw's public number).")
@click.option("--as-of", "as_of", default=None, help="Grades as of this date (YYYY-MM-DD, not after today).")
@click.option("--region", default="", help="Only firms of this 镇街.")
@click.option("--industry", default="", help="Only firms of this industry (门类 letter or 大类, e.g. C or C39).")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def plan_command(seed: str, as_of: str | None, region: str, industry: str, as_json: bool) -> None:
    """Draw (and store) a 双随机 plan: firms by grade at the rule set's rates, two inspectors each. The same
    seed on the same data gives the same plan (stored once)."""
    from credit.services.plans import PlanError, check_request, make_plan, plan_document

    try:
        request = check_request(seed, _date(as_of, "--as-of"), region, industry)
    except ValueError as exc:
        fail(str(exc))
    with session_scope(_engine(), Actor(label="system", source="cli")) as session:
        try:
            plan, created = make_plan(session, request, created_by="cli")
        except PlanError as exc:
            session.rollback()
            fail(str(exc))
        document = plan_document(session, plan)
    document["plan"]["created"] = created
    if as_json:
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
        return
    click.echo(f"抽查计划 #{document['plan']['id']}({'新抽取' if created else '同一种子、同一数据:沿用已存计划'})")
    for grade, counts in document["grades"].items():
        click.echo(f"  {grade} 级:应抽 {counts['eligible']} 户,抽中 {counts['chosen']} 户")
    click.echo(f"  合计 {len(document['firms'])} 户;摘要 {document['plan']['digest']}")


@credit_cli.command("plan-verify")
@click.argument("plan_id", type=int)
def plan_verify_command(plan_id: int) -> None:
    """Re-derive stored plan PLAN_ID from its seed, date and filters and compare (exit ≠ 0 on a difference)."""
    from credit.services.plans import PlanError, verify_plan

    with session_scope(_engine(), Actor(label="system", source="cli")) as session:
        try:
            check = verify_plan(session, plan_id)
        except PlanError as exc:
            fail(str(exc))
    if not check.ok:
        fail(f"抽查计划 #{plan_id} 重新抽取结果不同:" + ";".join(check.problems))
    click.echo(f"抽查计划 #{plan_id} 重新抽取结果一致。")


@credit_cli.command("plan-export")
@click.argument("plan_id", type=int)
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
def plan_export_command(plan_id: int, target: Path) -> None:
    """Write stored plan PLAN_ID as an XLSX workbook for field teams."""
    from credit.models import SupervisionPlan
    from credit.services.plans import plan_xlsx

    with session_scope(_engine(), Actor(label="system", source="cli")) as session:
        plan = session.get(SupervisionPlan, plan_id)
        if plan is None:
            fail(f"没有编号为 {plan_id} 的抽查计划")
        data = plan_xlsx(session, plan)  # type: ignore[arg-type]
    target.write_bytes(data)
    click.echo(f"已导出 {target}")


@credit_cli.group("inspectors")
def inspectors_cli() -> None:
    """The inspector roster (执法人员名录) plans draw from."""


@inspectors_cli.command("import")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def inspectors_import_command(source: Path) -> None:
    """Import the roster from CSV/XLSX (code,name,unit,active): all or nothing, idempotent."""
    from credit.services.plans import import_roster

    with session_scope(_engine(), Actor(label="system", source="cli")) as session:
        with source.open("rb") as stream:
            report = import_roster(session, stream, filename=source.name)
        if not report.ok:
            session.rollback()
            for error in report.errors:
                click.echo(str(error), err=True)
            fail(f"名录有 {len(report.errors)} 处错误,未作任何更改")
    click.echo(f"已读 {report.rows} 行:新增 {report.added} 名,更新 {report.updated} 名。")


@inspectors_cli.command("list")
def inspectors_list_command() -> None:
    """The roster: code, name, unit, on duty."""
    from credit.services.plans import list_inspectors

    with session_scope(_engine(), Actor(label="system", source="cli")) as session:
        page = 1
        click.echo("code\tname\tunit\tactive")
        while rows := list_inspectors(session, page=page, per_page=500)[0]:
            for r in rows:
                click.echo(f"{r.code}\t{r.name}\t{r.unit}\t{'yes' if r.active else 'no'}")
            page += 1


@inspectors_cli.command("deactivate")
@click.argument("code")
def inspectors_deactivate_command(code: str) -> None:
    """Take an inspector off duty (never deleted: past plans name them)."""
    from credit.services.plans import PlanError, set_inspector_active

    with session_scope(_engine(), Actor(label="system", source="cli")) as session:
        try:
            set_inspector_active(session, code, False)
        except PlanError as exc:
            fail(str(exc))
    click.echo(f"{code} 已离岗。")
