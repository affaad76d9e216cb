"""Key pages in a real browser: Debian's Chromium driven by Playwright against the app served over HTTP."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from werkzeug.serving import make_server

from credit import clock
from credit.rules.dates import add_months
from tests.conftest import TEST_PASSWORD
from tests.factories import firm_row, make_firm, make_user

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture
def live_url(app) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="zh-CN")
    yield context.new_page()
    context.close()


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(TEST_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="工作台")).to_be_visible()


def test_recorder_registers_searches_and_edits_a_firm(page: Page, live_url: str, tx, screenshot):
    with tx() as s:
        make_user(s, username="recorder", role="recorder", display_name="李录入")
        make_firm(s, name="东莞市虎门服饰有限公司", region="虎门镇", industry="C18")
    log_in(page, live_url, "recorder")

    page.get_by_role("link", name="登记企业").first.click()
    row = firm_row(name="东莞市浏览器测试电子有限公司", region="长安镇", industry="C39", scale="规上")
    page.get_by_label("统一社会信用代码").fill(row["uscc"][:-1] + ("0" if row["uscc"][-1] != "0" else "1"))
    page.get_by_label("企业名称").fill(row["name"])
    page.get_by_label("所属镇街").select_option("长安镇")
    page.get_by_label("行业").select_option("C39")
    page.get_by_label("规模").select_option("规上")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_text("校验码")).to_be_visible()  # a wrong check character is refused, with the rule

    page.get_by_label("统一社会信用代码").fill(row["uscc"])
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_role("heading", name=row["name"])).to_be_visible()
    expect(page.get_by_text("计算机、通信和其他电子设备制造业")).to_be_visible()

    page.get_by_role("link", name="企业名录").first.click()
    page.get_by_label("名称或统一社会信用代码").fill("浏览器测试")
    page.get_by_role("button", name="查询").click()
    expect(page.get_by_text("共 1 家")).to_be_visible()
    page.get_by_role("link", name=row["name"]).click()

    page.get_by_role("link", name="修改登记信息").click()
    page.get_by_label("地址").fill("东莞市长安镇振安路1号")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_text("已保存")).to_be_visible()
    expect(page.get_by_role("cell", name="recorder").first).to_be_visible()  # the change history names who
    screenshot(page, "firm_detail")


def test_admin_creates_user_and_role_limits_apply(browser: Browser, page: Page, live_url: str, tx):
    with tx() as s:
        make_user(s, username="admin", role="admin")
    log_in(page, live_url, "admin")
    page.get_by_role("link", name="用户", exact=True).click()
    page.get_by_role("link", name="新建用户").click()
    page.get_by_label("用户名").fill("checker1")
    page.get_by_label("姓名").fill("周核查")
    page.get_by_label("角色").select_option("checker")
    page.get_by_label("初始密码").fill(TEST_PASSWORD)
    page.get_by_role("button", name="创建用户").click()
    expect(page.get_by_role("cell", name="周核查")).to_be_visible()

    other = browser.new_context().new_page()
    log_in(other, live_url, "checker1")
    expect(other.get_by_role("link", name="企业名录")).to_have_count(0)
    response = other.goto(f"{live_url}/admin/firms")
    assert response is not None and response.status == 403
    other.context.close()


def test_language_switch_and_phone_layout(browser: Browser, live_url: str):
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    page = context.new_page()
    page.goto(live_url)
    expect(page.get_by_role("heading", name="企业质量信用红黑榜")).to_be_visible()
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("link", name="中文")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"page scrolls sideways on a phone ({width}px)"
    context.close()


def test_record_then_a_second_person_approves(browser: Browser, page: Page, live_url: str, tx):
    with tx() as s:
        make_user(s, username="recorder", role="recorder", display_name="李录入")
        make_user(s, username="reviewer", role="reviewer", display_name="王审核")
        firm = make_firm(s, name="东莞市浏览器档案电器有限公司")
    log_in(page, live_url, "recorder")
    page.goto(f"{live_url}/admin/firms/{firm.uscc}")
    page.get_by_role("link", name="录入事件").last.click()
    expect(page.get_by_label("统一社会信用代码")).to_have_value(firm.uscc)
    page.get_by_label("事件类型").select_option("penalty")
    expect(page.get_by_label("严重程度")).to_be_visible()  # the type decides which fields show
    expect(page.get_by_label("有效期至")).to_be_hidden()
    page.get_by_label("发生日期").fill("2026-06-01")
    page.get_by_label("文书号", exact=True).fill("东市监罚〔2026〕88号")
    page.get_by_label("作出机关").fill("东莞市市场监督管理局")
    page.get_by_label("严重程度").select_option("heavy")
    page.get_by_label("金额(元)").fill("50000")
    page.get_by_role("button", name="提交审核").click()
    expect(page.get_by_text("等待审核")).to_be_visible()

    other = browser.new_context().new_page()
    log_in(other, live_url, "reviewer")
    other.get_by_role("link", name="审核队列").click()
    expect(other.get_by_role("cell", name="东莞市浏览器档案电器有限公司")).to_be_visible()
    other.get_by_role("button", name="通过").click()
    expect(other.get_by_text("已审核通过")).to_be_visible()
    other.context.close()

    page.goto(f"{live_url}/admin/firms/{firm.uscc}")
    row = page.locator("table.events tr").filter(has_text="东市监罚〔2026〕88号")
    expect(row).to_contain_text("已生效")
    expect(row).to_contain_text("李录入")
    expect(row).to_contain_text("王审核")


def test_walk_from_record_to_the_published_black_list(browser: Browser, live_url: str, tx, runner):
    """record → approve → assess → decide the listing → publish → the public pages show it."""
    from credit.services.rulesets import ensure_default_ruleset

    with tx() as s:
        ensure_default_ruleset(s)
        make_user(s, username="recorder", role="recorder", display_name="李录入")
        make_user(s, username="reviewer", role="reviewer", display_name="王审核")
        make_user(s, username="decider", role="reviewer", display_name="赵决定")
        firm = make_firm(s, name="东莞市全流程测试化工有限公司")

    recorder = browser.new_context().new_page()
    log_in(recorder, live_url, "recorder")
    recorder.goto(f"{live_url}/admin/events/new?uscc={firm.uscc}")
    recorder.get_by_label("事件类型").select_option("penalty")
    recorder.get_by_label("发生日期").fill((clock.today() - timedelta(days=30)).isoformat())
    recorder.get_by_label("文书号", exact=True).fill("东市监罚〔2026〕101号")
    recorder.get_by_label("作出机关").fill("东莞市市场监督管理局")
    recorder.get_by_label("严重程度").select_option("heavy")
    recorder.get_by_label("金额(元)").fill("300000")
    recorder.get_by_role("button", name="提交审核").click()
    expect(recorder.get_by_text("等待审核")).to_be_visible()

    reviewer = browser.new_context().new_page()
    log_in(reviewer, live_url, "reviewer")
    reviewer.get_by_role("link", name="审核队列").click()
    reviewer.get_by_role("button", name="通过").click()
    expect(reviewer.get_by_text("已审核通过")).to_be_visible()

    assessed = runner.invoke(args=["credit", "assess"])
    assert assessed.exit_code == 0, assessed.output

    reviewer.goto(f"{live_url}/admin/listings")
    reviewer.get_by_role("row").filter(has_text="东莞市全流程测试化工有限公司").get_by_role("link").first.click()
    expect(reviewer.get_by_text("尚未送达", exact=True)).to_be_visible()
    reviewer.get_by_label("送达方式").select_option("direct")
    reviewer.get_by_label("送达凭证(如签收人、邮件单号、公告地址)").fill("法定代表人签收")
    reviewer.get_by_role("button", name="登记送达").click()
    expect(reviewer.get_by_text("已登记送达 1 件告知书")).to_be_visible()
    # Separation of duties: the reviewer who approved the penalty neither registers the waiver nor decides.
    expect(reviewer.get_by_text("您批准了该案的触发记录，按职责分离不能作出列入决定", exact=False)).to_be_visible()
    expect(reviewer.get_by_role("button", name="作出决定")).to_have_count(0)
    listing_url = reviewer.url

    decider = browser.new_context().new_page()
    log_in(decider, live_url, "decider")
    decider.goto(listing_url)
    decider.get_by_label("放弃陈述申辩的方式和材料").fill("企业书面声明放弃陈述申辩(附件 1)")
    decider.get_by_role("button", name="登记企业放弃陈述申辩").click()
    decider.get_by_label("列入黑榜").check()
    decider.get_by_role("button", name="作出决定").click()
    expect(decider.get_by_text("已列入").first).to_be_visible()

    # The scheduler, run once the month is over, publishes it.
    with clock.today_is(add_months(clock.today().replace(day=1), 1)):
        published = runner.invoke(args=["credit", "scheduler", "--once"])
    assert published.exit_code == 0, published.output
    period = clock.today().strftime("%Y-%m")

    public = browser.new_context().new_page()
    public.goto(f"{live_url}/publications/{period}")
    expect(public.get_by_role("link", name="东莞市全流程测试化工有限公司")).to_be_visible()
    public.goto(f"{live_url}/lists/black")
    expect(public.get_by_role("link", name="东莞市全流程测试化工有限公司")).to_be_visible()
    public.get_by_role("link", name="东莞市全流程测试化工有限公司").click()
    expect(public.get_by_text("东市监罚〔2026〕101号")).to_be_visible()
    for page in (recorder, reviewer, decider, public):
        page.context.close()


def test_announcement_upload_confirm_a_name_and_a_reviewer_approves(
    browser: Browser, live_url: str, tx, tmp_path, screenshot
):
    """Issue 13: a recorder uploads an announcement, confirms one uncertain match, a reviewer approves the batch."""
    import csv as csv_module

    from credit.services.rulesets import ensure_default_ruleset

    with tx() as s:
        ensure_default_ruleset(s)
        make_user(s, username="recorder", role="recorder", display_name="李录入")
        make_user(s, username="reviewer", role="reviewer", display_name="王审核")
        firm = make_firm(s, name="东莞市浏览器豆制品有限公司", region="虎门镇")
    header = "信息来源,搜索条件,物料名称,产品分类,生产商,供应商,生产日期,批号,项目分类,检测项目,单位,检测结果,限量值,判定,发布单位,发布日期,备注"
    path = tmp_path / "广东抽检公告.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv_module.writer(fh)
        writer.writerow(header.split(","))
        writer.writerow(["食品伙伴网", "", "腐竹", "豆制品", firm.name + " ", "东莞市某超市 ", "2026-10-09", "", "", "", "",
                         "", "", "合格", "国内监督抽查(广东市场监管局)", "2026-10-09", ""])  # fmt: skip
        writer.writerow(["食品伙伴网", "", "豆干", "豆制品", "东莞浏览器豆制品有限责任公司 ", "东莞市某超市 ", "2026-10-09",
                         "", "", "铅(以Pb计)", "mg/kg", "1.2", "≤0.5mg/kg", "不合格", "国内监督抽查(广东市场监管局)",
                         "2026-10-09", ""])  # fmt: skip

    recorder = browser.new_context(locale="zh-CN").new_page()
    log_in(recorder, live_url, "recorder")
    recorder.get_by_role("link", name="抽查公告", exact=True).first.click()
    recorder.get_by_label("公告文件（CSV 或 XLSX）").set_input_files(str(path))
    recorder.get_by_role("button", name="预览").click()
    expect(recorder.get_by_role("heading", name="预览（尚未导入）")).to_be_visible()
    summary = recorder.locator("table.summary tbody tr")
    expect(summary).to_contain_text("2")
    screenshot(recorder, "announcement_preview")
    recorder.get_by_role("button", name="确认导入").click()
    expect(recorder.get_by_text("已导入：2 行")).to_be_visible()
    item = recorder.get_by_role("region", name="东莞浏览器豆制品有限责任公司")
    item.get_by_label(re.compile("东莞市浏览器豆制品有限公司")).check()
    item.get_by_role("button", name="确认为该企业").click()
    expect(recorder.get_by_text("已确认为 东莞市浏览器豆制品有限公司")).to_be_visible()
    expect(recorder.get_by_text("没有待确认的企业名称。")).to_be_visible()
    screenshot(recorder, "announcement_queue")
    recorder.context.close()

    reviewer = browser.new_context(locale="zh-CN").new_page()
    log_in(reviewer, live_url, "reviewer")
    reviewer.get_by_role("link", name="导入", exact=True).click()
    row = reviewer.get_by_role("row").filter(has_text="广东抽检公告.csv")
    expect(row).to_contain_text("2")
    row.get_by_role("button", name="批量审核通过").click()
    expect(reviewer.get_by_text("审核通过 2 条")).to_be_visible()
    reviewer.goto(f"{live_url}/admin/firms/{firm.uscc}")
    events = reviewer.locator("table.events")
    expect(events).to_contain_text("监督抽查不合格")
    expect(events).to_contain_text("已生效")
    screenshot(reviewer, "announcement_firm")
    reviewer.context.close()
