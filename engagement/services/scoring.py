"""Per-tenant lead scoring: train on the tenant's own history, prove it on a later period, then use it.

- Label: the lead's customer signed a contract within 90 days of the lead. Leads younger than 90
  days have no label yet (censored) and are neither trained nor evaluated on.
- Features are what is known at (or right after) the lead: source, budget tier, house and
  household, city, first-response minutes, follow-ups in the first 7 days, campaign sign-up.
- Honest evaluation: leads are split by time at a cut-off (the latest 30% are the held-out
  period); the model is trained only on leads whose 90-day label was already known at the
  cut-off, then ROC AUC and precision at the top 20% are measured on the later period, next to the
  same metrics of the rule-based tier (budget tier, the ranking sales uses today).
- The model is used only if it beats the rules there: a paired bootstrap of the AUC difference
  must be above zero (90% interval) and its precision at 20% must not be lower. Otherwise — or
  with too little history — scores come from the rules, and the stored row says why.
- The serialized pipeline is stored in the tenant's own ``LeadScoringModel`` row.
"""

from __future__ import annotations

import bisect
import datetime
import io
import math
import time
from collections import Counter, defaultdict
from dataclasses import dataclass

import joblib
import numpy as np
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from crm.models import Tenant
from customers.models import BudgetTier, Customer, CustomerType, FollowUp, HouseCondition, Lead, SourceChannel
from engagement.models import LeadScore, LeadScoringModel, ScoreMethod, ScoringStatus
from projects.models import Project

LABEL_DAYS = 90
FOLLOW_UP_DAYS = 7
HELD_OUT_SHARE = 0.3
MIN_TRAIN_LEADS, MIN_TRAIN_CLASS = 200, 20
MIN_TEST_LEADS, MIN_TEST_CLASS = 100, 10
BOOTSTRAP_ROUNDS = 200
MAX_CITIES = 15
RULE_RANK = {BudgetTier.UNKNOWN: 0, BudgetTier.LOW: 1, BudgetTier.MID: 2, BudgetTier.HIGH: 3}


@dataclass
class LeadRow:
    lead_id: int
    customer_id: int
    received_at: datetime.datetime
    features: dict
    rule_score: float
    label: bool | None  # None: the 90-day window has not closed yet


# --- features ------------------------------------------------------------------------------------


def _campaign_lead_ids(lead_ids: list[int]) -> set[int]:
    from engagement.models import CampaignSignup  # defined with campaigns

    return set(
        CampaignSignup.objects.filter(lead_id__in=lead_ids)
        .exclude(lead_id=None)
        .values_list("lead_id", flat=True)
    )


def lead_rows(
    *, tenant: Tenant, leads_filter: Q | None = None, now: datetime.datetime | None = None
) -> list[LeadRow]:
    """Feature rows of the tenant's leads (a handful of queries whatever the number of leads)."""
    now = now or timezone.now()
    leads = Lead.objects.filter(tenant=tenant)
    if leads_filter is not None:
        leads = leads.filter(leads_filter)
    raw = list(
        leads.order_by("received_at", "id").values_list(
            "id",
            "customer_id",
            "received_at",
            "source_channel",
            "response_seconds",
            "received_outside_hours",
        )
    )
    customer_ids = {row[1] for row in raw}
    customers = {
        c["id"]: c
        for c in Customer.objects.filter(tenant=tenant, pk__in=customer_ids).values(
            "id",
            "budget_tier",
            "customer_type",
            "house_condition",
            "area_sqm",
            "city",
            "has_children",
            "has_elderly",
            "has_pets",
            "works_from_home",
            "is_local",
        )
    }
    follow_ups: dict[int, list[datetime.datetime]] = defaultdict(list)
    for customer_id, occurred_at in (
        FollowUp.objects.filter(tenant=tenant, customer_id__in=customer_ids)
        .order_by("occurred_at")
        .values_list("customer_id", "occurred_at")
    ):
        follow_ups[customer_id].append(occurred_at)
    signings: dict[int, list[datetime.date]] = defaultdict(list)
    for customer_id, signed_on in (
        Project.objects.filter(tenant=tenant, customer_id__in=customer_ids)
        .exclude(signed_on=None)
        .order_by("signed_on")
        .values_list("customer_id", "signed_on")
    ):
        signings[customer_id].append(signed_on)
    campaign_leads = _campaign_lead_ids([row[0] for row in raw])
    cities = Counter(c["city"] for c in customers.values() if c["city"])
    top_cities = {city for city, _count in cities.most_common(MAX_CITIES)}
    rows = []
    for lead_id, customer_id, received_at, source, response_seconds, outside in raw:
        customer = customers[customer_id]
        times = follow_ups.get(customer_id, [])
        early = bisect.bisect_left(
            times, received_at + datetime.timedelta(days=FOLLOW_UP_DAYS)
        ) - bisect.bisect_left(times, received_at)
        area = float(customer["area_sqm"]) if customer["area_sqm"] is not None else None
        features = {
            "source": source,
            "budget": customer["budget_tier"],
            "type": customer["customer_type"],
            "house": customer["house_condition"] or "unknown",
            "city": customer["city"] if customer["city"] in top_cities else "other",
            "log_area": math.log1p(area) if area else 0.0,
            "area_missing": 0.0 if area else 1.0,
            "children": float(customer["has_children"]),
            "elderly": float(customer["has_elderly"]),
            "pets": float(customer["has_pets"]),
            "wfh": float(customer["works_from_home"]),
            "local": float(customer["is_local"]),
            "outside_hours": float(outside),
            "log_response_minutes": math.log1p(response_seconds / 60)
            if response_seconds is not None
            else 0.0,
            "no_response": 0.0 if response_seconds is not None else 1.0,
            "follow_ups_7d": float(early),
            "campaign": 1.0 if lead_id in campaign_leads else 0.0,
        }
        label: bool | None = None
        if received_at + datetime.timedelta(days=LABEL_DAYS) <= now:
            start = timezone.localdate(received_at)
            days = signings.get(customer_id, [])
            i = bisect.bisect_left(days, start)
            label = i < len(days) and days[i] <= start + datetime.timedelta(days=LABEL_DAYS)
        rows.append(
            LeadRow(
                lead_id=lead_id,
                customer_id=customer_id,
                received_at=received_at,
                features=features,
                rule_score=float(RULE_RANK.get(customer["budget_tier"], 0)),
                label=label,
            )
        )
    return rows


# --- metrics -------------------------------------------------------------------------------------


def precision_at_top(scores: np.ndarray, labels: np.ndarray, share: float = 0.2) -> float:
    """Share of signers among the top ``share`` of leads; ties at the cut count proportionally
    (a coarse ranking like 4 budget tiers must not win or lose by an arbitrary tie order)."""
    n = len(scores)
    k = max(1, math.ceil(n * share))
    order = np.argsort(-scores, kind="stable")
    sorted_scores, sorted_labels = scores[order], labels[order]
    boundary = sorted_scores[k - 1]
    above = sorted_scores > boundary
    tied = sorted_scores == boundary
    taken_above = int(above.sum())
    hits = float(sorted_labels[above].sum())
    tie_count = int(tied.sum())
    hits += (k - taken_above) * float(sorted_labels[tied].sum()) / tie_count
    return hits / k


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    return float(roc_auc_score(labels, scores))


def _auc_gain_lower_bound(labels: np.ndarray, model: np.ndarray, rules: np.ndarray) -> float:
    """5th percentile of the paired-bootstrap AUC difference (model − rules); deterministic seed."""
    rng = np.random.default_rng(20240601)
    n = len(labels)
    gains = []
    for _round in range(BOOTSTRAP_ROUNDS):
        sample = rng.integers(0, n, n)
        sampled = labels[sample]
        if sampled.min() == sampled.max():
            continue
        gains.append(_auc(sampled, model[sample]) - _auc(sampled, rules[sample]))
    return float(np.percentile(gains, 5)) if gains else -1.0


# --- training ------------------------------------------------------------------------------------


def _pipeline() -> Pipeline:
    return Pipeline(
        [
            ("vectorize", DictVectorizer(sparse=False)),
            ("scale", StandardScaler()),
            ("model", LogisticRegression(max_iter=1000, C=0.5)),
        ]
    )


def _fit(rows: list[LeadRow]) -> Pipeline:
    pipeline = _pipeline()
    pipeline.fit([row.features for row in rows], np.array([row.label for row in rows], dtype=int))
    return pipeline


def _too_little(train: list[LeadRow], test: list[LeadRow]) -> str:
    train_pos = sum(bool(row.label) for row in train)
    test_pos = sum(bool(row.label) for row in test)
    if len(train) < MIN_TRAIN_LEADS or min(train_pos, len(train) - train_pos) < MIN_TRAIN_CLASS:
        return (
            f"历史数据不足：可训练的线索 {len(train)} 条（签约 {train_pos} 条），"
            f"至少需要 {MIN_TRAIN_LEADS} 条且签约与未签约各 {MIN_TRAIN_CLASS} 条。"
        )
    if len(test) < MIN_TEST_LEADS or min(test_pos, len(test) - test_pos) < MIN_TEST_CLASS:
        return (
            f"历史数据不足：评估期线索 {len(test)} 条（签约 {test_pos} 条），"
            f"至少需要 {MIN_TEST_LEADS} 条且签约与未签约各 {MIN_TEST_CLASS} 条。"
        )
    return ""


@transaction.atomic
def lead_scoring_train(*, tenant: Tenant, now: datetime.datetime | None = None) -> LeadScoringModel:
    """Train, evaluate against the rules on the held-out period, store, and rescore open leads.

    Idempotent: the tenant's one model row and its leads' score rows are replaced, never added.
    """
    started = time.perf_counter()
    now = now or timezone.now()
    rows = lead_rows(tenant=tenant, now=now)
    labelled = [row for row in rows if row.label is not None]
    values: dict = {
        "trained_at": now,
        "cutoff_at": None,
        "train_leads": 0,
        "train_positives": 0,
        "test_leads": 0,
        "test_positives": 0,
        "model_auc": None,
        "model_precision_top20": None,
        "rules_auc": None,
        "rules_precision_top20": None,
        "model_bytes": None,
        "feature_names": [],
    }
    reason = ""
    pipeline = None
    if len(labelled) < 2:
        reason = f"历史数据不足：已满 {LABEL_DAYS} 天观察期的线索只有 {len(labelled)} 条。"
    else:
        cutoff = labelled[int(len(labelled) * (1 - HELD_OUT_SHARE))].received_at
        train = [r for r in labelled if r.received_at + datetime.timedelta(days=LABEL_DAYS) <= cutoff]
        test = [r for r in labelled if r.received_at >= cutoff]
        values.update(
            cutoff_at=cutoff,
            train_leads=len(train),
            train_positives=sum(bool(r.label) for r in train),
            test_leads=len(test),
            test_positives=sum(bool(r.label) for r in test),
        )
        reason = _too_little(train, test)
        if not reason:
            held_out = _fit(train)
            labels = np.array([r.label for r in test], dtype=int)
            model_scores = held_out.predict_proba([r.features for r in test])[:, 1]
            rule_scores = np.array([r.rule_score for r in test])
            values.update(
                model_auc=_auc(labels, model_scores),
                model_precision_top20=precision_at_top(model_scores, labels),
                rules_auc=_auc(labels, rule_scores),
                rules_precision_top20=precision_at_top(rule_scores, labels),
            )
            gain_low = _auc_gain_lower_bound(labels, model_scores, rule_scores)
            beats = gain_low > 0 and values["model_precision_top20"] >= values["rules_precision_top20"]
            if beats:
                pipeline = _fit(labelled)  # the model in use learns from the whole labelled history
                buffer = io.BytesIO()
                joblib.dump(pipeline, buffer)
                values.update(
                    model_bytes=buffer.getvalue(),
                    feature_names=list(pipeline.named_steps["vectorize"].get_feature_names_out()),
                )
            else:
                reason = (
                    f"模型在评估期未胜过规则（AUC {values['model_auc']:.3f} 对 {values['rules_auc']:.3f}，"
                    f"差值 90% 置信下限 {gain_low:+.3f}），继续使用规则。"
                )
    if pipeline is not None:
        status = ScoringStatus.MODEL
    elif values["model_auc"] is not None:
        status = ScoringStatus.RULES_BETTER
    else:
        status = ScoringStatus.TOO_LITTLE_HISTORY
    values.update(status=status, reason=reason, training_seconds=time.perf_counter() - started)
    record, _created = LeadScoringModel.objects.update_or_create(tenant=tenant, defaults=values)
    leads_rescore(tenant=tenant, record=record, pipeline=pipeline, now=now)
    return record


# --- scoring -------------------------------------------------------------------------------------


FEATURE_LABELS = {
    "source": (gettext_lazy("来源"), dict(SourceChannel.choices)),
    "budget": (gettext_lazy("预算"), dict(BudgetTier.choices)),
    "type": (gettext_lazy("类型"), dict(CustomerType.choices)),
    "house": (gettext_lazy("房屋"), dict(HouseCondition.choices)),
    "city": (gettext_lazy("城市"), {}),
    "log_area": (gettext_lazy("面积"), {}),
    "area_missing": (gettext_lazy("未填面积"), {}),
    "children": (gettext_lazy("有小孩"), {}),
    "elderly": (gettext_lazy("有老人"), {}),
    "pets": (gettext_lazy("养宠物"), {}),
    "wfh": (gettext_lazy("居家办公"), {}),
    "local": (gettext_lazy("本地客户"), {}),
    "outside_hours": (gettext_lazy("非营业时间到达"), {}),
    "log_response_minutes": (gettext_lazy("首次响应用时"), {}),
    "no_response": (gettext_lazy("尚未响应"), {}),
    "follow_ups_7d": (gettext_lazy("7 天内跟进次数"), {}),
    "campaign": (gettext_lazy("活动报名"), {}),
}


def factor_label(feature: str) -> str:
    key, _sep, value = feature.partition("=")
    label, choices = FEATURE_LABELS.get(key, (key, {}))
    return f"{label}：{choices.get(value, value)}" if value else str(label)


def load_pipeline(record: LeadScoringModel | None) -> Pipeline | None:
    if record is None or not record.uses_model or not record.model_bytes:
        return None
    return joblib.load(io.BytesIO(bytes(record.model_bytes)))


def _model_scores(pipeline: Pipeline, rows: list[LeadRow]) -> list[tuple[float, list[dict]]]:
    matrix = pipeline.named_steps["scale"].transform(
        pipeline.named_steps["vectorize"].transform([row.features for row in rows])
    )
    model = pipeline.named_steps["model"]
    probabilities = model.predict_proba(matrix)[:, 1]
    names = pipeline.named_steps["vectorize"].get_feature_names_out()
    contributions = matrix * model.coef_[0]
    results = []
    for probability, contribution in zip(probabilities, contributions, strict=True):
        top = np.argsort(-np.abs(contribution))[:3]
        factors = [
            {
                "feature": str(names[i]),
                "label": factor_label(str(names[i])),
                "weight": round(float(contribution[i]), 3),
            }
            for i in top
            if abs(contribution[i]) >= 0.01
        ]
        results.append((float(probability), factors))
    return results


def _rule_scores(rows: list[LeadRow]) -> list[tuple[float, list[dict]]]:
    budget_labels = dict(BudgetTier.choices)
    return [
        (
            row.rule_score / 3,
            [
                {
                    "feature": f"budget={row.features['budget']}",
                    "label": f"预算：{budget_labels.get(row.features['budget'], '')}",
                    "weight": row.rule_score,
                }
            ],
        )
        for row in rows
    ]


def _rows_to_score(
    *, tenant: Tenant, now: datetime.datetime, lead_ids: list[int] | None = None
) -> list[LeadRow]:
    if lead_ids is not None:
        return lead_rows(tenant=tenant, leads_filter=Q(pk__in=lead_ids), now=now)
    recent = Q(status="open") | Q(received_at__gte=now - datetime.timedelta(days=LABEL_DAYS))
    return lead_rows(tenant=tenant, leads_filter=recent, now=now)


def leads_rescore(
    *,
    tenant: Tenant,
    record: LeadScoringModel | None = None,
    pipeline: Pipeline | None = None,
    lead_ids: list[int] | None = None,
    now: datetime.datetime | None = None,
) -> int:
    """Score open and recent leads (or ``lead_ids``) with the model in use, else with the rules."""
    now = now or timezone.now()
    if record is None:
        record = LeadScoringModel.objects.filter(tenant=tenant).first()
    if pipeline is None:
        pipeline = load_pipeline(record)
    rows = _rows_to_score(tenant=tenant, now=now, lead_ids=lead_ids)
    if not rows:
        return 0
    method = ScoreMethod.MODEL if pipeline is not None else ScoreMethod.RULES
    scored = _model_scores(pipeline, rows) if pipeline is not None else _rule_scores(rows)
    LeadScore.objects.bulk_create(
        [
            LeadScore(
                tenant=tenant,
                lead_id=row.lead_id,
                customer_id=row.customer_id,
                score=score,
                method=method,
                factors=factors,
                computed_at=now,
            )
            for row, (score, factors) in zip(rows, scored, strict=True)
        ],
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["tenant", "lead"],
        update_fields=["score", "method", "factors", "computed_at"],
    )
    if lead_ids is None:
        LeadScore.objects.filter(tenant=tenant).exclude(computed_at=now).delete()
    return len(rows)
