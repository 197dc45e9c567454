"""Browser pages: merge side by side with confirmation, merge record with undo, bulk reassignment."""

from __future__ import annotations

from crm.models import Role
from crm.tenancy import tenant_context
from customers.models import Customer, CustomerMerge
from tests.customers.factories import CustomerFactory, FollowUpFactory


def test_merge_page_side_by_side_confirm_then_undo(tenant_a, manager_a, session_client):
    with tenant_context(tenant_a):
        survivor = CustomerFactory(tenant=tenant_a, name="王女士", phone="+8613500001111")
        duplicate = CustomerFactory(tenant=tenant_a, name="王芳", phone="+8613600002222", community="星河湾")
        FollowUpFactory(tenant=tenant_a, customer=duplicate)
    client = session_client(manager_a)
    page = client.get("/customers/merge/", {"survivor": survivor.pk, "duplicate": "136 0000 2222"})
    html = page.content.decode()
    assert page.status_code == 200
    assert "王女士" in html and "王芳" in html and "星河湾" in html and 'name="choice_phone"' in html
    assert "data-confirm" in html  # the browser asks before money moves

    payload = {
        "survivor": survivor.pk,
        "duplicate": duplicate.pk,
        "choice_phone": "duplicate",
        "choice_community": "duplicate",
    }
    unconfirmed = client.post("/customers/merge/", payload)
    assert unconfirmed.status_code == 400
    with tenant_context(tenant_a):
        assert CustomerMerge.objects.count() == 0

    done = client.post("/customers/merge/", {**payload, "confirm": "on"})
    assert done.status_code == 302
    with tenant_context(tenant_a):
        merge = CustomerMerge.objects.get()
        survivor.refresh_from_db()
        assert survivor.phone == "+8613600002222" and survivor.community == "星河湾"
    assert done["Location"] == f"/customers/merges/{merge.pk}/"
    record = client.get(done["Location"]).content.decode()
    assert "撤销合并" in record and "跟进记录" in record
    archived = client.get(f"/customers/{duplicate.pk}/").content.decode()
    assert 'id="merged-notice"' in archived and f"/customers/{survivor.pk}/" in archived
    assert f'href="/customers/{duplicate.pk}/"' not in client.get("/customers/").content.decode()

    undone = client.post(f"/customers/merges/{merge.pk}/undo/")
    assert undone.status_code == 302 and undone["Location"] == f"/customers/{duplicate.pk}/"
    with tenant_context(tenant_a):
        duplicate.refresh_from_db()
        survivor.refresh_from_db()
        assert not duplicate.is_merged and duplicate.phone == "+8613600002222"
        assert survivor.phone == "+8613500001111"
    again = client.post(f"/customers/merges/{merge.pk}/undo/")
    assert again.status_code == 400 and "该合并已撤销" in again.content.decode()


def test_merge_page_refuses_self_and_unknown(tenant_a, manager_a, session_client):
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a)
    client = session_client(manager_a)
    own = client.get("/customers/merge/", {"survivor": customer.pk, "duplicate": str(customer.pk)})
    assert own.status_code == 200 and "不能把客户与自己合并" in own.content.decode()
    assert 'id="merge-form"' not in own.content.decode()
    unknown = client.get("/customers/merge/", {"survivor": customer.pk, "duplicate": "99999999"})
    assert "找不到该客户" in unknown.content.decode()


def test_sales_cannot_open_merge_or_reassign_pages(tenant_a, make_staff, session_client):
    client = session_client(make_staff(tenant_a, Role.SALES))
    assert client.get("/customers/merge/").status_code == 403
    assert client.get("/customers/reassign/").status_code == 403


def test_reassign_page_round_robin_and_history_on_the_detail_page(
    tenant_a, manager_a, make_staff, session_client
):
    leaving = make_staff(tenant_a, Role.SALES, display_name="离职销售")
    first = make_staff(tenant_a, Role.SALES, display_name="接手甲")
    second = make_staff(tenant_a, Role.SALES, display_name="接手乙")
    with tenant_context(tenant_a):
        customers = [CustomerFactory(tenant=tenant_a, owner=leaving) for _ in range(4)]
    client = session_client(manager_a)
    listing = client.get("/customers/reassign/", {"from_owner": leaving.pk}).content.decode()
    assert all(customer.name in listing for customer in customers)
    response = client.post(
        "/customers/reassign/",
        {"from_owner": leaving.pk, "customers": [c.pk for c in customers], "to_users": [first.pk, second.pk]},
    )
    assert response.status_code == 302
    with tenant_context(tenant_a):
        owners = list(
            Customer.objects.filter(pk__in=[c.pk for c in customers])
            .order_by("pk")
            .values_list("owner_id", flat=True)
        )
    assert owners == [first.pk, second.pk, first.pk, second.pk]
    detail = client.get(f"/customers/{customers[0].pk}/").content.decode()
    assert 'id="ownership"' in detail and "离职销售" in detail and "接手甲" in detail and "批量改派" in detail
    bad = client.post("/customers/reassign/", {"from_owner": leaving.pk, "customers": [customers[0].pk]})
    assert bad.status_code == 400
