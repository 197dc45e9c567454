"""The browser customer list (issue 12): statements per request, keyset pages, cached page facts."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from crm.models import Role
from crm.notifications.models import Notification
from crm.notifications.services import NotificationSpec, notification_mark_read, notify, notify_many
from crm.tenancy import tenant_context
from customers.models import Customer, Segment
from customers.services.segments import segment_save
from tests.customers.factories import CustomerFactory

BACKEND = "crm.backends.TenantUserBackend"


def _customers(tenant, count: int, **extra) -> list[Customer]:
    with tenant_context(tenant):
        return [CustomerFactory(tenant=tenant, **extra) for _ in range(count)]


def _statements(client, url: str) -> list[str]:
    assert client.get(url).status_code == 200  # warm: badge, staff names, segment menu cached
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return [query["sql"] for query in captured.captured_queries]


@pytest.mark.django_db(transaction=True)
def test_list_page_is_four_statements_with_transaction_control(tenant_a, manager_a, client):
    """Session, user and tenant from Redis (no statement; crm/backends.py), then BEGIN, set_config,
    one SELECT of the page with its capped count, COMMIT — filtered, searched, deep or not."""
    _customers(tenant_a, 30, budget_fen=30_000_000)
    with tenant_context(tenant_a):
        segment = segment_save(
            tenant=tenant_a, created_by=manager_a, name="高预算", filters={"budget_tier": ["high"]}
        )
    client.force_login(manager_a, backend=BACKEND)
    first = client.get("/customers/").content.decode()
    deep = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    segment_url = f"/customers/?segment={segment.pk}"
    for url in ("/customers/", "/customers/?budget_tier=high&q=客户", deep, segment_url):
        statements = _statements(client, url)
        if url != "/customers/" and url != deep:
            # An active filter opens the filter form, whose staff pickers list the tenant's staff
            # (a server-side cursor each): they are the only other statements.
            form = [
                sql for sql in statements[1:] if '"crm_user"' in sql or sql.startswith(("FETCH", "CLOSE"))
            ]
            assert form, statements
            statements = [sql for sql in statements if sql not in form]
        if "segment" in url:  # the named segment's filters
            assert "customers_segment" in statements.pop(2), statements
        assert len(statements) == 4, (url, statements)
        assert statements[0] == "BEGIN" and statements[-1] == "COMMIT"
        assert "set_config" in statements[1]
        assert "customers_customer" in statements[2] and "COUNT(*)" in statements[2]
        assert "crm_user" not in statements[2]  # owner names come from the cached staff names


def test_list_page_statements_do_not_grow_with_rows(
    tenant_a, make_staff, session_client, django_assert_num_queries
):
    """One row or a hundred, owned by many sales users, with tags and pool badges: same count.
    (Inside the test transaction the request's atomic block is a savepoint: SAVEPOINT, set_config,
    the page, the tenant reset, RELEASE; the user comes from Redis.)"""
    manager = make_staff(tenant_a, Role.MANAGER)
    owners = [make_staff(tenant_a, Role.SALES) for _ in range(4)]
    client = session_client(manager)
    _customers(tenant_a, 1, owner=owners[0])
    client.get("/customers/?page_size=100")
    with django_assert_num_queries(5):
        assert client.get("/customers/?page_size=100").status_code == 200
    with tenant_context(tenant_a):
        for i in range(99):
            CustomerFactory(tenant=tenant_a, owner=owners[i % 4], tags=["老客户"], system_tags=["高意向"])
        Customer.objects.filter(pk__in=Customer.objects.values("pk")[:10]).update(in_pool=True)
    with django_assert_num_queries(5):
        body = client.get("/customers/?page_size=100").content.decode()
    assert body.count('class="cust-tag sys"') == 99 and body.count("crm-badge warn") == 10
    assert all(str(owner) in body for owner in owners)


def test_next_previous_links_keep_filters_and_page_size(tenant_a, manager_a, session_client):
    made = _customers(tenant_a, 30, source_channel="douyin", community="万科城市花园")
    _customers(tenant_a, 5, source_channel="website", community="万科城市花园")  # filtered out
    client = session_client(manager_a)
    url = "/customers/?source_channel=douyin&q=花园&page_size=25"
    seen, pages, body = [], [], client.get(url).content.decode()
    while True:
        pages.append(body)
        seen += [int(pk) for pk in re.findall(r'<a href="/customers/(\d+)/">', body)]
        found = re.search(r'href="([^"]+)" rel="next"', body)
        if not found:
            break
        link = found.group(1).replace("&amp;", "&")
        assert (
            "source_channel=douyin" in link and "q=" in link and "page_size=25" in link and "cursor=" in link
        )
        body = client.get(link).content.decode()
    newest_first = sorted(made, key=lambda c: (c.created_at, c.pk), reverse=True)
    assert seen == [customer.pk for customer in newest_first]
    assert len(pages) == 2
    assert "共 30 位客户" in pages[0] and "第 1 / 2 页" in pages[0] and 'rel="prev"' not in pages[0]
    assert "第 2 / 2 页" in pages[1]
    back = re.search(r'href="([^"]+)" rel="prev"', pages[1]).group(1).replace("&amp;", "&")
    assert "cursor=" not in back and "source_channel=douyin" in back  # page 1: the plain filtered URL
    assert len(re.findall(r'<a href="/customers/\d+/">', client.get(back).content.decode())) == 25
    # page_size=50 shows all on one page; an unsupported size falls back to 25
    assert 'rel="next"' not in client.get("/customers/?source_channel=douyin&page_size=50").content.decode()
    assert 'rel="next"' in client.get("/customers/?source_channel=douyin&page_size=7").content.decode()


def test_previous_walks_back_from_a_deep_page(tenant_a, manager_a, session_client):
    made = _customers(tenant_a, 12)
    client = session_client(manager_a)
    order = [c.pk for c in sorted(made, key=lambda c: (c.created_at, c.pk), reverse=True)]
    body = client.get("/customers/?page_size=25").content.decode()
    assert order == [int(pk) for pk in re.findall(r'<a href="/customers/(\d+)/">', body)]
    # three pages of 5 (page_size is limited to 25/50/100, so use the pager directly)
    from django.test import RequestFactory

    from crm.paging import browser_page
    from customers.selectors import customers_for_list_page

    def page(url):
        with tenant_context(tenant_a):
            return browser_page(
                RequestFactory().get(url),
                customers_for_list_page(tenant=tenant_a, user=manager_a),
                sizes=(5,),
            )

    first = page("/customers/")
    second = page(first.next_url)
    third = page(second.next_url)
    assert [c.pk for c in third.rows] == order[10:] and third.next_url is None and third.number == 3
    back = page(third.previous_url)
    assert [c.pk for c in back.rows] == order[5:10] and back.number == 2
    assert "cursor" not in back.previous_url  # from page 2 back to the plain first page


def test_count_beyond_the_cap_reads_plus(tenant_a, manager_a, session_client, monkeypatch):
    from customers import views

    monkeypatch.setattr(views, "LIST_COUNT_CAP", 3)
    _customers(tenant_a, 30)
    body = session_client(manager_a).get("/customers/").content.decode()
    assert "共 3+ 位客户" in body and "第 1 页" in body and "第 1 /" not in body
    assert 'rel="next"' in body


def test_a_tampered_cursor_shows_the_first_page_with_a_message(tenant_a, manager_a, session_client):
    _customers(tenant_a, 3)
    response = session_client(manager_a).get("/customers/?cursor=garbage&page=4")
    assert response.status_code == 400
    body = response.content.decode()
    assert "翻页链接已失效" in body and "第 1 / 1 页" in body
    assert len(re.findall(r'<a href="/customers/\d+/">', body)) == 3


def test_rows_show_the_same_cells(tenant_a, make_staff, session_client):
    """The precomputed cells: phone link and copy buttons, community/layout/area, budget, labels,
    owner name, tags, pool and high-value badges, silent marker, masked numbers for sales."""
    owner = make_staff(tenant_a, Role.SALES, display_name="王销售")
    other = make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        mine = CustomerFactory(
            tenant=tenant_a,
            owner=owner,
            phone="+8613812349876",
            wechat_id="wx_chen",
            community="万科城市花园",
            layout="三室两厅",
            area_sqm="89.50",
            budget_fen=30_000_000,
            tags=["老客户"],
        )
        Customer.objects.filter(pk=mine.pk).update(
            system_tags=["高意向"], value_tier="high", activity="silent", in_pool=False
        )
        CustomerFactory(tenant=tenant_a, owner=other, phone="+8613900001111")
    body = session_client(owner).get("/customers/").content.decode()
    assert f'<a href="/customers/{mine.pk}/">' in body
    assert '<a class="crm-tel" href="tel:+8613812349876">13812349876</a>' in body
    assert 'data-copy="wx_chen"' in body
    assert "万科城市花园<br><small>三室两厅 · 89.5㎡</small>" in body
    assert "¥300,000.00" in body and "王销售" in body
    assert '<span class="cust-tag sys">高意向</span><span class="cust-tag">老客户</span>' in body
    assert '<small class="crm-overdue">' in body and "crm-badge ok" in body
    assert "13900001111" not in body  # another rep's customer: not even masked (not visible)


def test_badge_is_cached_and_follows_notify_and_read(tenant_a, manager_a, session_client):
    client = session_client(manager_a)

    def badge() -> str:
        body = client.get("/customers/").content.decode()
        found = re.search(r'<span class="crm-badge danger">(\d+)</span>', body)
        return found.group(1) if found else "0"

    assert badge() == "0"
    with tenant_context(tenant_a):
        notify(tenant=tenant_a, recipients=[manager_a], kind="t", title="一", dedupe_key="badge:1")
    assert badge() == "1"
    with tenant_context(tenant_a):
        notify_many(
            tenant=tenant_a,
            notifications=[
                NotificationSpec(recipients=[manager_a], kind="t", title=str(i), dedupe_key=f"badge:m{i}")
                for i in range(2)
            ],
        )
    assert badge() == "3"
    with CaptureQueriesContext(connection) as captured:
        badge()
    assert not [q for q in captured.captured_queries if "notifications_notification" in q["sql"]]
    with tenant_context(tenant_a):
        one = Notification.objects.filter(recipient=manager_a).first()
        notification_mark_read(tenant=tenant_a, user=manager_a, notification_ids=[one.pk])
    assert badge() == "2"
    with tenant_context(tenant_a):
        notification_mark_read(tenant=tenant_a, user=manager_a, all=True)
    assert badge() == "0"


def test_segment_menu_and_owner_names_follow_their_writes(tenant_a, manager_a, make_staff, session_client):
    owner = make_staff(tenant_a, Role.SALES, display_name="李四")
    _customers(tenant_a, 1, owner=owner)
    client = session_client(manager_a)
    body = client.get("/customers/").content.decode()
    assert "李四" in body and "— 已保存的分群 —" not in body
    with tenant_context(tenant_a):
        segment = segment_save(
            tenant=tenant_a, created_by=manager_a, name="沉默客户", filters={"activity": ["silent"]}
        )
    owner.display_name = "李四（已改名）"
    owner.save()
    body = client.get("/customers/").content.decode()
    assert f'<option value="{segment.pk}">沉默客户</option>' in body and "李四（已改名）" in body
    with tenant_context(tenant_a):
        Segment.objects.filter(pk=segment.pk).delete()
    assert "沉默客户" not in client.get("/customers/").content.decode()


def test_cached_sessions_end_on_logout_and_on_password_change(tenant_a, manager_a):
    from django.conf import settings

    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.cached_db"
    browser, other = Client(), Client()
    manager_a.set_password("s3cret-pass-word")
    manager_a.save()
    for session in (browser, other):
        login = {"username": manager_a.username, "password": "s3cret-pass-word"}
        assert session.post("/accounts/login/", login).status_code == 302
        assert session.get("/customers/").status_code == 200
    stolen = browser.cookies[settings.SESSION_COOKIE_NAME].value
    assert browser.post("/accounts/logout/").status_code == 302
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = stolen
    assert replay.get("/customers/").status_code == 302  # the cached copy went with the row
    manager_a.set_password("an0ther-pass-word")
    manager_a.save()
    assert other.get("/customers/").status_code == 302  # the session hash no longer matches
