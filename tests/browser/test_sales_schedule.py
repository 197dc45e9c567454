"""Booking an appointment and adding a task on a phone (issue 14 §4), in headless Chromium."""

from __future__ import annotations

import datetime

from django.utils import timezone

from crm.tenancy import tenant_context
from tests.browser.conftest import login, no_sideways_scroll, screenshot


def assert_fits(page) -> None:
    width, inner = no_sideways_scroll(page)
    assert width <= inner, f"{page.url} is {width}px wide on a {inner}px screen"


def test_sales_books_an_appointment_and_adds_a_task_on_a_phone(site, open_page):
    from sales.models import Appointment, Task
    from tests.customers.factories import CustomerFactory

    rep = site.staff["sales"]
    with tenant_context(site.tenant):
        customer = CustomerFactory(tenant=site.tenant, owner=rep, name="手机预约客户")
    day = timezone.localdate() + datetime.timedelta(days=20)
    page, problems = open_page("phone")
    problems.expected_statuses.add(400)  # the clashing booking is answered 400 with the form
    login(page, "anju_sales")

    page.goto(f"{page.base}/customers/{customer.pk}/")
    page.locator(f'a[href^="/sales/appointments/new/?customer={customer.pk}"]').first.click()
    page.wait_for_url("**/sales/appointments/new/**")
    assert_fits(page)
    page.select_option('select[name="kind"]', "measure")
    page.fill('input[name="place"]', "翠湖苑 5 栋 1201")
    page.fill('input[name="starts_at"]', f"{day:%Y-%m-%d}T15:00")
    page.fill('input[name="ends_at"]', f"{day:%Y-%m-%d}T16:00")
    screenshot(page, "phone-appointment-form")
    page.click('form.sales-form button[type="submit"]')
    page.wait_for_url(f"**/customers/{customer.pk}/")
    assert page.get_by_text("翠湖苑 5 栋 1201").first.is_visible() or "翠湖苑 5 栋 1201" in page.content()
    with tenant_context(site.tenant):
        appointment = Appointment.objects.get(customer=customer)
        assert appointment.staff == rep
        assert timezone.localtime(appointment.starts_at).hour == 15

    # The same person at an overlapping time: the form says so, nothing is written.
    page.goto(f"{page.base}/sales/appointments/new/?customer={customer.pk}")
    page.fill('input[name="place"]', "门店")
    page.fill('input[name="starts_at"]', f"{day:%Y-%m-%d}T15:30")
    page.fill('input[name="ends_at"]', f"{day:%Y-%m-%d}T16:30")
    page.click('form.sales-form button[type="submit"]')
    error = page.locator(".sales-field-error").first
    assert error.is_visible() and "冲突" in error.inner_text()
    assert_fits(page)
    with tenant_context(site.tenant):
        assert Appointment.objects.filter(customer=customer).count() == 1

    page.goto(f"{page.base}/sales/calendar/?view=day&date={day:%Y-%m-%d}")
    assert_fits(page)
    assert "手机预约客户" in page.content()
    screenshot(page, "phone-calendar-day")
    page.goto(f"{page.base}/sales/calendar/?view=week&date={day:%Y-%m-%d}")
    assert_fits(page)

    page.goto(f"{page.base}/customers/{customer.pk}/")
    page.locator(f'a[href^="/sales/tasks/new/?customer={customer.pk}"]').first.click()
    page.wait_for_url("**/sales/tasks/new/**")
    assert_fits(page)
    page.fill('input[name="title"]', "发送量房报告")
    page.fill('input[name="due_at"]', f"{day:%Y-%m-%d}T18:00")
    page.click('form.sales-form button[type="submit"]')
    page.wait_for_url(f"**/customers/{customer.pk}/")
    assert "发送量房报告" in page.content()
    with tenant_context(site.tenant):
        task = Task.objects.get(customer=customer, title="发送量房报告")
        assert task.assignee == rep and task.done_at is None
    page.goto(f"{page.base}/sales/tasks/")
    assert_fits(page)
    page.locator("article.sales-task", has_text="发送量房报告").locator(
        'form[action$="/complete/"] button'
    ).click()
    page.wait_for_url("**/sales/tasks/**")
    with tenant_context(site.tenant):
        task.refresh_from_db()
        assert task.done_at is not None
    assert problems.take() == []
