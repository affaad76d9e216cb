"""Due process for staff, under /admin: the list entries with their deadlines and objections, a reviewer's
decision on a black-list proposal, a waiver recorded on a firm's behalf, the printable notice (告知书), and
the queue of objections and credit-repair applications with their decisions."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import case
from sqlmodel import col, func, select

from credit.clock import parse_past_date, today
from credit.models import CreditEvent, Firm, Listing, ListingStatus, ListKind, Petition, PetitionKind, User
from credit.models.ruleset import RuleSetVersion
from credit.rules.duties import DutyCode, DutyConflict
from credit.rules.ruleset import RuleSet, default_ruleset
from credit.services.audit import audit_entries
from credit.services.due_process import (
    DueProcessError,
    basis_date,
    black_basis_text,
    deadline_blocked_by,
    decide_black,
    decide_petition,
    file_petition,
    holding_objections,
    listing_duty_conflict,
    petition_duty_conflict,
    petition_queue,
    petitions_for_firm,
    refusal_to_decide,
    repair_conditions,
    rules_of,
    serve_notices,
    trigger_facts,
    waive_objection,
)
from credit.services.events import users_by_id
from credit.services.rulesets import ruleset_of
from credit.web.db import get_session, unit_of_work
from credit.web.dueprocess.forms import (
    DecideListingForm,
    PetitionDecisionForm,
    ServeForm,
    StaffPetitionForm,
    WaiveForm,
)
from credit.web.helpers import public_url
from credit.web.security import STAFF, roles_required

bp = Blueprint("dueprocess", __name__)

PER_PAGE = 50
LIST_KIND_LABELS = {"red": _l("红榜"), "black": _l("黑榜")}
PETITION_KIND_LABELS = {"objection": _l("异议"), "repair": _l("信用修复")}
PETITION_STATUS_LABELS = {
    ("objection", "open"): _l("待处理"),
    ("objection", "granted"): _l("异议成立"),
    ("objection", "refused"): _l("异议不成立"),
    ("repair", "open"): _l("待处理"),
    ("repair", "granted"): _l("准予信用修复"),
    ("repair", "refused"): _l("不予信用修复"),
}
# Why separation of duties hides a button (credit.rules.duties), as the page says it.
DUTY_REASONS = {
    DutyCode.approved_trigger: _l("您批准了该案的触发记录，按职责分离不能作出列入决定，须由其他审核员决定。"),
    DutyCode.approved_trigger_waiver: _l("您批准了该案的触发记录，按职责分离不能登记企业放弃陈述申辩。"),
    DutyCode.decided_listing: _l(
        "您作出了该榜单条目的列入决定，按职责分离不能对针对它的申请作出决定，须由其他审核员决定。"
    ),
    DutyCode.approved_record: _l("您批准了该信用记录，按职责分离不能对针对它的异议作出决定，须由其他审核员决定。"),
}
FILED_VIA_LABELS = {"public": _l("网上提交"), "recorder": _l("窗口代为登记")}
STATUS_FILTERS = ("open", "unserved", "proposed", "listed", "removed", "withdrawn", "all")
SERVICE_LABELS = {
    "direct": _l("直接送达"),
    "mail": _l("邮寄送达"),
    "electronic": _l("电子送达"),
    "public_notice": _l("公告送达"),
}


@bp.app_template_filter("list_kind_label")
def list_kind_label(kind: str) -> str:
    return str(LIST_KIND_LABELS.get(kind, kind))


@bp.app_template_filter("petition_kind_label")
def petition_kind_label(kind: str) -> str:
    return str(PETITION_KIND_LABELS.get(kind, kind))


@bp.app_template_filter("petition_status_label")
def petition_status_label(petition: Petition) -> str:
    return str(PETITION_STATUS_LABELS.get((petition.kind, petition.status), petition.status))


@bp.app_template_filter("service_label")
def service_label(method: str) -> str:
    return str(SERVICE_LABELS.get(method, method))


@bp.app_template_filter("filed_via_label")
def filed_via_label(via: str) -> str:
    return str(FILED_VIA_LABELS.get(via, via))


def displayed_rules(session) -> RuleSet:
    """The rules in force, for text on a page, without writing anything on a GET."""
    row = session.exec(select(RuleSetVersion).where(col(RuleSetVersion.active).is_(True))).first()
    return ruleset_of(row) if row is not None else default_ruleset()


def _me() -> User:
    return get_session().get(User, current_user.id)  # type: ignore[return-value]


def duty_reason(conflict: DutyConflict | None) -> str | None:
    """The page's text for a step separation of duties keeps from the signed-in user, or None."""
    return str(DUTY_REASONS[conflict.code]) if conflict is not None else None


def _flash_refusal(exc: DueProcessError) -> None:
    """A refused step as a message; a refusal by separation of duties in the page's language."""
    reason = DUTY_REASONS.get(exc.code) if exc.code else None  # type: ignore[call-overload]
    flash(str(reason) if reason is not None else str(exc), "error")


def _listing_or_404(listing_id: int) -> Listing:
    listing = get_session().get(Listing, listing_id)
    if listing is None:
        abort(404)
    return listing


def _petition_or_404(petition_id: int) -> Petition:
    petition = get_session().get(Petition, petition_id)
    if petition is None:
        abort(404)
    return petition


def _flash_form_errors(form) -> None:
    for name, errors in form.errors.items():
        for error in errors:
            flash(f"{getattr(form, name).label.text}:{error}", "error")


def _firms(ids) -> dict[int, Firm]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {f.id: f for f in get_session().exec(select(Firm).where(col(Firm.id).in_(wanted)))}  # type: ignore[misc]


def _open_objections_by_firm(firm_ids) -> dict[int, tuple[set[int], set[int]]]:
    """firm -> (event ids, listing ids) with an open objection, in one query."""
    wanted = {i for i in firm_ids if i is not None}
    found: dict[int, tuple[set[int], set[int]]] = {}
    if not wanted:
        return found
    rows = get_session().exec(
        select(Petition.firm_id, Petition.event_id, Petition.listing_id).where(
            col(Petition.firm_id).in_(wanted), Petition.kind == PetitionKind.objection, Petition.status == "open"
        )
    )
    for firm_id, event_id, listing_id in rows:
        events, listings = found.setdefault(firm_id, (set(), set()))
        if event_id is not None:
            events.add(event_id)
        if listing_id is not None:
            listings.add(listing_id)
    return found


# --- list entries ------------------------------------------------------------------------------------------


@bp.route("/listings")
@roles_required(*STAFF)
def listing_list():
    session = get_session()
    kind = request.args.get("kind", "")
    kind = kind if kind in ("red", "black") else ""
    status = request.args.get("status", "open")
    status = status if status in STATUS_FILTERS else "open"
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    where = []
    if kind:
        where.append(Listing.kind == kind)
    if status == "open":
        where.append(col(Listing.status).in_([ListingStatus.proposed, ListingStatus.listed]))
    elif status == "unserved":
        where += [Listing.status == ListingStatus.proposed, col(Listing.served_on).is_(None)]
    elif status != "all":
        where.append(Listing.status == status)
    total = session.exec(select(func.count()).select_from(Listing).where(*where)).one()
    proposed_first = case((Listing.status == ListingStatus.proposed, 0), else_=1)
    rows = session.exec(
        select(Listing, Firm)
        .join(Firm, col(Firm.id) == Listing.firm_id)
        .where(*where)
        .order_by(proposed_first, col(Listing.deadline), col(Listing.listed_from).desc(), col(Listing.id).desc())
        .offset((page - 1) * PER_PAGE)
        .limit(PER_PAGE)
    ).all()
    objections = _open_objections_by_firm(firm.id for _, firm in rows)
    return render_template(
        "dueprocess/listing_list.html",
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        kind=kind,
        status=status,
        status_filters=STATUS_FILTERS,
        objections=objections,
        today=today(),
        serve_form=_serve_form(),
    )


def _serve_form() -> ServeForm:
    form = ServeForm(prefix="serve")
    if not form.on.data:
        form.on.data = today().isoformat()
    return form


def _serve(ids: list[int]) -> int:
    """Record service of these proposals' notices from the posted form; flashes the outcome."""
    form = ServeForm(prefix="serve")
    if not form.validate_on_submit():
        _flash_form_errors(form)
        return 0
    try:
        day = parse_past_date(form.on.data, field=str(form.on.label.text))
    except ValueError as exc:
        flash(str(exc), "error")
        return 0
    if not ids:
        flash(_("请至少选择一件拟列入条目。"), "error")
        return 0
    try:
        with unit_of_work() as session:
            listings = [session.get(Listing, i) for i in ids]
            if any(entry is None for entry in listings):
                raise DueProcessError(_("所选条目不存在。"))
            served = serve_notices(
                session, listings, by=_me(), on=day, method=form.method.data, note=form.note.data or ""
            )  # type: ignore[arg-type]
            blocked = [entry.id for entry in served if entry.deadline is None]
    except DueProcessError as exc:
        flash(str(exc), "error")
        return 0
    flash(_("已登记送达 %(n)s 件告知书,异议期自送达之日起计算。", n=len(served)), "success")
    if blocked:
        flash(_("其中 %(n)s 件的异议期因缺少法定工作日历无法计算,暂不能决定。", n=len(blocked)), "error")
    return len(served)


@bp.route("/listings/serve", methods=["POST"])
@roles_required("recorder", "reviewer")
def listing_serve_many():
    """Record service of several notices at once (all or nothing)."""
    ids = sorted({int(v) for v in request.form.getlist("ids") if v.isdigit()})
    _serve(ids)
    return redirect(url_for("dueprocess.listing_list", status="unserved"))


@bp.route("/listings/<int:listing_id>/serve", methods=["POST"])
@roles_required("recorder", "reviewer")
def listing_serve(listing_id: int):
    _listing_or_404(listing_id)
    _serve([listing_id])
    return redirect(url_for("dueprocess.listing_detail", listing_id=listing_id))


@bp.route("/listings/<int:listing_id>")
@roles_required(*STAFF)
def listing_detail(listing_id: int):
    listing = _listing_or_404(listing_id)
    session = get_session()
    firm = session.get(Firm, listing.firm_id)
    facts = trigger_facts(session, listing) if listing.kind == ListKind.black else []
    blocking = holding_objections(session, listing) if listing.status == ListingStatus.proposed else []
    petitions = petitions_for_firm(session, listing.firm_id)
    history = audit_entries(session, entity="listing", entity_id=str(listing.id), limit=100)
    people = users_by_id(session, [listing.decided_by_id, listing.served_by_id, *(p.decided_by_id for p in petitions)])
    proposed = listing.status == ListingStatus.proposed
    me = _me()
    decide_barred = waive_barred = None
    if proposed and me.has_role("reviewer"):
        decide_barred = duty_reason(listing_duty_conflict(session, listing, me))
    if proposed and me.has_role("recorder", "reviewer"):
        waive_barred = duty_reason(listing_duty_conflict(session, listing, me, waiver=True))
    return render_template(
        "dueprocess/listing_detail.html",
        decide_barred=decide_barred,
        waive_barred=waive_barred,
        refusal=refusal_to_decide(listing, today()) if proposed else None,
        blocked_year=deadline_blocked_by(session, listing) if proposed else None,
        serve_form=_serve_form(),
        listing=listing,
        firm=firm,
        facts=facts,
        blocking=blocking,
        petitions=petitions,
        history=history,
        people=people,
        today=today(),
        decide_form=DecideListingForm(prefix="decide"),
        waive_form=WaiveForm(prefix="waive"),
    )


@bp.route("/listings/<int:listing_id>/decide", methods=["POST"])
@roles_required("reviewer")
def listing_decide(listing_id: int):
    listing = _listing_or_404(listing_id)
    form = DecideListingForm(prefix="decide")
    if form.validate_on_submit():
        approve = form.decision.data == "approve"
        try:
            with unit_of_work() as session:
                decided = decide_black(
                    session, session.merge(listing), _me(), approve=approve, note=form.note.data or "", on=today()
                )
        except DueProcessError as exc:
            _flash_refusal(exc)
        else:
            if approve:
                flash(
                    _(
                        "已决定列入黑榜,期限 %(start)s 至 %(end)s。",
                        start=decided.listed_from,
                        end=decided.listed_until,
                    ),
                    "success",
                )
            else:
                flash(_("已决定不予列入。"), "success")
    else:
        _flash_form_errors(form)
    return redirect(url_for("dueprocess.listing_detail", listing_id=listing_id))


@bp.route("/listings/<int:listing_id>/waive", methods=["POST"])
@roles_required("recorder", "reviewer")
def listing_waive(listing_id: int):
    listing = _listing_or_404(listing_id)
    form = WaiveForm(prefix="waive")
    if form.validate_on_submit():
        try:
            with unit_of_work() as session:
                waive_objection(session, session.merge(listing), recorded_by=_me(), note=form.note.data or "")
        except DueProcessError as exc:
            _flash_refusal(exc)
        else:
            flash(_("已登记企业放弃陈述申辩,审核员可即时作出决定。"), "success")
    else:
        _flash_form_errors(form)
    return redirect(url_for("dueprocess.listing_detail", listing_id=listing_id))


@bp.route("/listings/<int:listing_id>/notice")
@roles_required(*STAFF)
def listing_notice(listing_id: int):
    """The printable notice (告知书) of a black-list proposal."""
    listing = _listing_or_404(listing_id)
    if listing.kind != ListKind.black or listing.proposed_on is None:
        abort(404)
    session = get_session()
    rules = rules_of(session, listing)
    return render_template(
        "dueprocess/listing_notice.html",
        listing=listing,
        firm=session.get(Firm, listing.firm_id),
        facts=trigger_facts(session, listing),
        basis_text=black_basis_text(rules),
        basis_on=basis_date(listing),
        list_months=rules.black.list_months,
        repair_months=rules.black.repair_min_months,
        measures=[m for m in rules.measures if m.when in ("black", "black_or_negative")],
        objection_url=public_url("public.objection_new"),
        bureau=current_app.config.get("BUREAU_NAME") or "",
        notice_no=f"{listing.proposed_on.year}-{listing.id:06d}",
        working_days=rules.black.objection_working_days,
        blocked_year=deadline_blocked_by(session, listing),
        server=users_by_id(session, [listing.served_by_id]).get(listing.served_by_id or 0),
    )


# --- petitions ---------------------------------------------------------------------------------------------


def _targets(petitions) -> tuple[dict[int, Listing], dict[int, CreditEvent]]:
    session = get_session()
    listing_ids = {p.listing_id for p in petitions if p.listing_id}
    event_ids = {p.event_id for p in petitions if p.event_id}
    listings = (
        {x.id: x for x in session.exec(select(Listing).where(col(Listing.id).in_(listing_ids)))} if listing_ids else {}
    )
    events = (
        {e.id: e for e in session.exec(select(CreditEvent).where(col(CreditEvent.id).in_(event_ids)))}
        if event_ids
        else {}
    )
    return listings, events  # type: ignore[return-value]


@bp.route("/petitions")
@roles_required("reviewer")
def petition_list():
    kind = request.args.get("kind", "")
    kind = kind if kind in ("objection", "repair") else ""
    petitions = petition_queue(get_session(), kind=kind or None)
    listings, events = _targets(petitions)
    return render_template(
        "dueprocess/petition_list.html",
        petitions=petitions,
        kind=kind,
        firms=_firms(p.firm_id for p in petitions),
        listings=listings,
        events=events,
        open_count=sum(1 for p in petitions if p.status == "open"),
    )


@bp.route("/petitions/<int:petition_id>")
@roles_required("reviewer")
def petition_detail(petition_id: int):
    petition = _petition_or_404(petition_id)
    session = get_session()
    listings, events = _targets([petition])
    listing = listings.get(petition.listing_id) if petition.listing_id else None
    conditions = []
    if petition.kind == PetitionKind.repair and listing is not None:
        conditions = repair_conditions(
            session,
            listing,
            on=today(),
            penalty_performed=petition.penalty_performed,
            rectified=petition.rectified,
        )
    form = PetitionDecisionForm(prefix="decide")
    barred = duty_reason(petition_duty_conflict(session, petition, _me())) if petition.status == "open" else None
    return render_template(
        "dueprocess/petition_detail.html",
        barred=barred,
        petition=petition,
        firm=session.get(Firm, petition.firm_id),
        listing=listing,
        event=events.get(petition.event_id) if petition.event_id else None,
        conditions=conditions,
        people=users_by_id(session, [petition.filed_by_id, petition.decided_by_id]),
        form=form,
        today=today(),
    )


@bp.route("/petitions/<int:petition_id>/decide", methods=["POST"])
@roles_required("reviewer")
def petition_decide(petition_id: int):
    petition = _petition_or_404(petition_id)
    form = PetitionDecisionForm(prefix="decide")
    if form.validate_on_submit():
        try:
            with unit_of_work() as session:
                outcome = decide_petition(
                    session,
                    session.merge(petition),
                    _me(),
                    grant=form.decision.data == "grant",
                    reason=form.reason.data or "",
                    penalty_performed=bool(form.penalty_performed.data),
                    rectified=bool(form.rectified.data),
                    on=today(),
                )
        except DueProcessError as exc:
            _flash_refusal(exc)
        else:
            flash(outcome.message, "success")
    else:
        _flash_form_errors(form)
    return redirect(url_for("dueprocess.petition_detail", petition_id=petition_id))


@bp.route("/petitions/new", methods=["GET", "POST"])
@roles_required("recorder")
def petition_new():
    """A recorder files an objection or a repair application on a firm's behalf (?listing=ID or ?event=ID)."""
    session = get_session()
    listing_id = request.args.get("listing", type=int)
    event_id = request.args.get("event", type=int)
    if (listing_id is None) == (event_id is None):
        abort(404)
    listing = session.get(Listing, listing_id) if listing_id is not None else None
    event = session.get(CreditEvent, event_id) if event_id is not None else None
    if listing is None and event is None:
        abort(404)
    firm = session.get(Firm, (listing or event).firm_id)  # type: ignore[union-attr]
    form = StaffPetitionForm()
    repairable = listing is not None and listing.kind == ListKind.black and listing.status == ListingStatus.listed
    if not repairable:
        form.kind.choices = [c for c in form.kind.choices if c.value == "objection"]  # type: ignore[union-attr]
    elif request.method == "GET" and request.args.get("kind") == "repair":
        form.kind.data = "repair"
    if form.validate_on_submit():
        try:
            with unit_of_work() as uow:
                petition = file_petition(
                    uow,
                    kind=form.kind.data or "",
                    firm=uow.merge(firm),  # type: ignore[arg-type]
                    listing=uow.merge(listing) if listing is not None else None,
                    event=uow.merge(event) if event is not None else None,
                    applicant_name=form.applicant_name.data or "",
                    applicant_contact=form.applicant_contact.data or "",
                    statement=form.statement.data or "",
                    filed_via="recorder",
                    filed_by=_me(),
                )
        except DueProcessError as exc:
            field = getattr(form, exc.field, None) if exc.field else None
            (field.errors if field is not None else form.form_errors).append(exc.message)  # type: ignore[union-attr]
        else:
            flash(_("已登记,受理编号 %(ref)s。请告知申请人凭此编号查询进度。", ref=petition.reference), "success")
            if listing is not None:
                return redirect(url_for("dueprocess.listing_detail", listing_id=listing.id))
            return redirect(url_for("records.event_detail", event_id=event.id))  # type: ignore[union-attr]
    status = 422 if form.errors or form.form_errors else 200
    return render_template(
        "dueprocess/petition_form.html", form=form, firm=firm, listing=listing, event=event, today=today()
    ), status
