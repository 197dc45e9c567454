"""Demo customers, leads in every SLA state, follow-ups and a segment (idempotent)."""

from __future__ import annotations

import datetime
import random

from django.utils import timezone

from crm.models import Tenant, User
from crm.money import parse_yuan
from customers.models import Customer, Segment
from customers.services import classification, customers, follow_ups, leads, settings

NAMES = [
    "张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄强", "周杰", "吴婷",
    "徐明", "孙丽", "马超", "朱琳", "胡军", "郭峰", "何雪", "高翔", "林晓", "罗军",
    "梁宇", "宋佳", "郑浩", "谢雨", "韩梅", "唐宁", "冯涛", "董洁", "程鹏", "曹颖",
]  # fmt: skip
COMMUNITIES = [
    ("万科城市花园", "浦东新区"), ("绿地海珀", "徐汇区"), ("保利香槟国际", "闵行区"),
    ("龙湖春江郦城", "宝山区"), ("碧桂园凤凰城", "嘉定区"), ("中海寰宇天下", "普陀区"),
    ("融创玉兰公馆", "松江区"), ("华润外滩九里", "黄浦区"),
]  # fmt: skip
LAYOUTS = [
    ("2室1厅", 78),
    ("3室2厅", 118),
    ("3室2厅", 132),
    ("4室2厅", 156),
    ("1室1厅", 52),
    ("复式5室", 210),
]
STYLES = [["modern"], ["nordic"], ["new_chinese"], ["minimalist", "japanese"], ["light_luxury"], ["american"]]
NEEDS = [
    ["storage"],
    ["open_layout", "smart_home"],
    ["eco_materials", "child_safety"],
    ["aging_friendly"],
    [],
]
CHANNELS = [
    "douyin",
    "xiaohongshu",
    "website",
    "wechat",
    "store_walk_in",
    "home_expo",
    "search_ads",
    "referral",
]
WHEN = ["急装", "年底交房", "明年开工", "先了解"]
CONTENT = [
    "电话沟通：客户想了解全包价格，已发报价区间。",
    "加了微信，发送同小区案例 3 套。",
    "约了周六上午上门量房。",
    "客户对北欧风感兴趣，预约到店看样板间。",
    "客户暂时在比较三家公司，下周再联系。",
]


def _phone(tenant: Tenant, index: int) -> str:
    return f"+86138{tenant.pk % 100:02d}{1000 + index:04d}{(index * 7) % 100:02d}"


def _response_minutes(rng: random.Random) -> int:
    """Most first responses inside the 15-minute SLA, a tail of breaches (business minutes)."""
    if rng.random() < 0.8:
        return rng.randint(1, 14)
    return rng.choice([17, 22, 28, 35, 48, 75, 130])


HISTORY_LEADS = 100


def _seed_history(*, tenant: Tenant, sales: list[User], rng: random.Random, now: datetime.datetime) -> None:
    """About a year of answered inquiries (through the services) so every month of the charts has data."""
    for offset in range(HISTORY_LEADS):
        index = 100 + offset
        received = now - datetime.timedelta(
            days=rng.randint(1, 365), hours=rng.randint(0, 23), minutes=rng.randint(0, 59)
        )
        community, district = COMMUNITIES[index % len(COMMUNITIES)]
        lead = leads.lead_create(
            tenant=tenant,
            name=NAMES[index % len(NAMES)],
            phone=_phone(tenant, index),
            source_channel=rng.choice(CHANNELS),
            received_at=received,
            note=f"{community}，{rng.choice(WHEN)}",
        )
        Customer.objects.filter(pk=lead.customer_id).update(created_at=received)
        if rng.random() < 0.06:
            continue  # never answered: a breach that stays on the books
        author = lead.assignee or sales[index % 2]
        first = min(now, lead.clock_started_at + datetime.timedelta(minutes=_response_minutes(rng)))
        follow_ups.follow_up_create(
            tenant=tenant,
            customer=lead.customer,
            author=author,
            kind="call",
            content=CONTENT[index % len(CONTENT)],
            outcome="reached",
            occurred_at=first,
            now=first,  # seeded history: recorded when it happened
        )
        if rng.random() < 0.45:
            follow_ups.follow_up_create(
                tenant=tenant,
                customer=lead.customer,
                author=author,
                kind="measure",
                content="上门量房，确认户型与需求。",
                outcome="appointment",
                occurred_at=(measured := min(now, first + datetime.timedelta(days=rng.randint(2, 9)))),
                now=measured,
            )


def seed_demo(*, tenant: Tenant, staff: dict[str, User]) -> None:
    if Customer.objects.filter(phone=_phone(tenant, 0)).exists():
        return
    rng = random.Random(tenant.pk)
    now = timezone.now()
    sales = [staff["sales"], staff["sales2"]]
    settings_row = settings.customer_settings_for(tenant=tenant)
    settings_row.round_robin_last_user_id = None
    settings_row.save()
    for index, name in enumerate(NAMES):
        community, district = COMMUNITIES[index % len(COMMUNITIES)]
        layout, area = LAYOUTS[index % len(LAYOUTS)]
        channel = CHANNELS[index % len(CHANNELS)]
        # Leads in every state: fresh (counting down), overdue, answered days ago.
        if index < 4:
            received = now - datetime.timedelta(minutes=2 + index * 3)
        elif index < 7:
            received = now - datetime.timedelta(minutes=25 + index * 5)
        else:
            received = now - datetime.timedelta(days=index, hours=rng.randint(0, 5))
        lead = leads.lead_create(
            tenant=tenant,
            name=name,
            phone=_phone(tenant, index),
            source_channel=channel,
            received_at=received,
            note=f"{community} {layout}，想{'翻新' if index % 3 == 0 else '装修'}，{rng.choice(WHEN)}",
        )
        customer = lead.customer
        customers.customer_update(
            tenant=tenant,
            customer=customer,
            community=community,
            city="上海",
            district=district,
            layout=layout,
            area_sqm=area,
            customer_type=["new_house", "second_hand", "new_house", "commercial"][index % 4]
            if index % 9
            else "commercial",
            house_condition=["rough", "old", "finished", "basic"][index % 4],
            is_local=index % 5 != 0,
            has_children=index % 3 == 0,
            has_elderly=index % 4 == 0,
            has_pets=index % 5 == 1,
            works_from_home=index % 6 == 2,
            cooking_frequency=["daily", "sometimes", "rarely"][index % 3],
            style_preferences=STYLES[index % len(STYLES)],
            functional_needs=NEEDS[index % len(NEEDS)],
            budget_fen=parse_yuan([80_000, 150_000, 220_000, 350_000, 500_000, 120_000][index % 6]),
            wechat_id=f"wx_{index:03d}",
            email=f"kehu{index + 1:02d}@example.com" if index % 3 != 2 else "",
            preferred_contact_time=rng.choice(["工作日晚上", "周末全天", "中午 12–14 点", ""]),
            tags=rng.choice([[], ["学区房"], ["婚房"], ["急装"], ["全屋定制"]]),
            intent="intent" if index % 4 == 1 else "potential",
        )
        # The inquiry created the customer: date the record like the inquiry (demo history).
        Customer.objects.filter(pk=customer.pk).update(created_at=received)
        if index >= 7:
            author = lead.assignee or sales[index % 2]
            first = min(now, lead.clock_started_at + datetime.timedelta(minutes=_response_minutes(rng)))
            next_at = (
                now + datetime.timedelta(days=rng.randint(1, 5))
                if index % 3
                else now - datetime.timedelta(hours=3)
            )
            follow_ups.follow_up_create(
                tenant=tenant,
                customer=customer,
                author=author,
                kind="call",
                content=CONTENT[index % 5],
                outcome="reached",
                occurred_at=first,
                now=first,  # seeded history: recorded when it happened
            )
            if index % 2 == 0:
                follow_ups.follow_up_create(
                    tenant=tenant,
                    customer=customer,
                    author=author,
                    kind="measure" if index % 4 == 0 else "wechat",
                    content=CONTENT[(index + 2) % 5],
                    outcome="appointment",
                    occurred_at=min(now, first + datetime.timedelta(days=1)),
                    next_follow_up_at=next_at,
                    now=min(now, first + datetime.timedelta(days=1)),
                )
        if index in (10, 14):
            customers.customer_update(tenant=tenant, customer=customer, designer=staff["designer"])
        if index == 20:
            customers.customer_update(
                tenant=tenant, customer=customer, intent="lost", lost_reason="预算不足，选择了别家"
            )
    _seed_history(tenant=tenant, sales=sales, rng=rng, now=now)
    # A couple of pool customers and long-silent ones.
    for index in (27, 28):
        Customer.objects.filter(phone=_phone(tenant, index)).update(
            in_pool=True,
            owner=None,
            pooled_at=now - datetime.timedelta(hours=index - 20),
            pool_reason="30 天无跟进",
        )
    Customer.objects.filter(phone=_phone(tenant, 29)).update(last_touch_at=now - datetime.timedelta(days=45))
    classification.customers_recompute_all(tenant=tenant)
    leads.lead_sla_scan(tenant=tenant)
    Segment.objects.get_or_create(
        name="高预算二手房", defaults={"filters": {"budget_tier": ["high"], "customer_type": ["second_hand"]}}
    )
    Segment.objects.get_or_create(name="沉默客户", defaults={"filters": {"activity": ["silent"]}})
    _seed_duplicates_and_handover(tenant=tenant, staff=staff, now=now)


def _seed_duplicates_and_handover(*, tenant: Tenant, staff: dict[str, User], now: datetime.datetime) -> None:
    """One merged duplicate (with its undoable record), one pair still to merge, and a handover
    (bulk reassignment) so the ownership history shows two holders."""
    from customers.services import merge, reassign

    manager = staff["manager"]
    original = Customer.objects.get(phone=_phone(tenant, 8))
    copy = customers.customer_create(
        tenant=tenant,
        created_by=manager,
        name=f"{original.name}（爱人）",
        phone=_phone(tenant, 900),
        community=original.community,
        owner=staff["sales2"],
        tags=["家博会"],
    )
    follow_ups.follow_up_create(
        tenant=tenant,
        customer=copy,
        author=staff["sales2"],
        kind="wechat",
        content="家博会上留的电话，和已有客户是一家人。",
        outcome="reached",
        occurred_at=now - datetime.timedelta(days=2),
        now=now - datetime.timedelta(days=2),
    )
    merge.customer_merge(
        tenant=tenant, survivor=original, duplicate=copy, actor=manager, field_choices={"name": "survivor"}
    )
    twin = Customer.objects.get(phone=_phone(tenant, 9))
    customers.customer_create(
        tenant=tenant,
        created_by=manager,
        name=twin.name,
        phone=_phone(tenant, 901),
        community=twin.community,
        owner=staff["sales"],
        tags=["疑似重复"],
    )
    handed = list(
        Customer.objects.filter(owner=staff["sales2"], merged_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)[:3]
    )
    if handed:
        reassign.customers_reassign(
            tenant=tenant, actor=manager, customer_ids=handed, to_users=[staff["sales"]]
        )
