"""Surveys: one-time expiring links, score ranges, promoters announced (never a referrals import)."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from aftercare import selectors
from aftercare.models import Survey
from aftercare.services import surveys
from crm import events
from crm.tenancy import tenant_context
from tests.aftercare.factories import SurveyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def promoter_events():
    seen: list[dict] = []

    def handler(*, tenant, **payload):
        seen.append({"tenant": tenant.pk, **payload})

    events.subscribe(events.EventType.SURVEY_ANSWERED, handler)
    yield seen
    events.unsubscribe(events.EventType.SURVEY_ANSWERED, handler)


def _survey(tenant, **fields) -> Survey:
    with tenant_context(tenant):
        return SurveyFactory(tenant=tenant, **fields)


def _answer_url(survey) -> str:
    return f"/api/v1/surveys/answer/{survey.token}/"


def test_public_answer_once_then_used_link_is_400(tenant_a, client):
    survey = _survey(tenant_a, kind="csat", trigger="visit")
    response = client.post(
        _answer_url(survey), {"score": 4, "comment": "师傅很专业"}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    again = client.post(_answer_url(survey), {"score": 1}, content_type="application/json")
    assert again.status_code == 400
    assert set(again.json()) == {"detail", "errors", "codes"} and "token" in again.json()["errors"]
    with tenant_context(tenant_a):
        survey.refresh_from_db()
    assert survey.score == 4 and survey.comment == "师傅很专业"


def test_expired_link_is_400_and_nothing_written(tenant_a, client):
    survey = _survey(tenant_a, expires_at=timezone.now() - datetime.timedelta(minutes=1))
    response = client.post(_answer_url(survey), {"score": 9}, content_type="application/json")
    assert response.status_code == 400 and "token" in response.json()["errors"]
    with tenant_context(tenant_a):
        assert Survey.objects.get(pk=survey.pk).answered_at is None


@pytest.mark.parametrize(("kind", "score"), [("csat", 0), ("csat", 6), ("nps", -1), ("nps", 11)])
def test_score_out_of_range_is_400(tenant_a, client, kind, score):
    survey = _survey(tenant_a, kind=kind)
    response = client.post(_answer_url(survey), {"score": score}, content_type="application/json")
    assert response.status_code == 400 and "score" in response.json()["errors"]
    with tenant_context(tenant_a):
        assert Survey.objects.get(pk=survey.pk).answered_at is None


def test_unknown_or_forged_token_is_400(tenant_a, tenant_b, client):
    survey = _survey(tenant_a)
    forged = f"{tenant_b.pk}-{survey.token.partition('-')[2]}"  # right secret, wrong tenant
    for token in ["nonsense", forged, f"999999-{'x' * 32}"]:
        response = client.post(
            f"/api/v1/surveys/answer/{token}/", {"score": 5}, content_type="application/json"
        )
        assert response.status_code == 400
    with tenant_context(tenant_a):
        assert Survey.objects.get(pk=survey.pk).answered_at is None


def test_answers_are_announced_with_kind_and_score(
    tenant_a, promoter_events, django_capture_on_commit_callbacks
):
    """survey.answered carries kind and score; the referrals handler picks the promoters."""
    promoter = _survey(tenant_a, kind="nps")
    passive = _survey(tenant_a, kind="nps")
    with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant_a):
        surveys.survey_answer(tenant=tenant_a, token=promoter.token, score=10)
        surveys.survey_answer(tenant=tenant_a, token=passive.token, score=8)
    assert promoter_events == [
        {
            "tenant": tenant_a.pk,
            "customer_id": promoter.customer_id,
            "survey_id": promoter.pk,
            "kind": "nps",
            "score": 10,
        },
        {
            "tenant": tenant_a.pk,
            "customer_id": passive.customer_id,
            "survey_id": passive.pk,
            "kind": "nps",
            "score": 8,
        },
    ]


def test_survey_create_is_once_per_dedupe_key_and_tokens_are_unguessable(tenant_a, handed_over):
    project = handed_over()
    with tenant_context(tenant_a):
        first = surveys.survey_create(
            tenant=tenant_a,
            customer=project.customer,
            project=project,
            kind="nps",
            trigger="yearly",
            dedupe_key="k1",
        )
        second = surveys.survey_create(
            tenant=tenant_a,
            customer=project.customer,
            project=project,
            kind="nps",
            trigger="yearly",
            dedupe_key="k1",
        )
        other = surveys.survey_create(
            tenant=tenant_a,
            customer=project.customer,
            kind="csat",
            trigger="design_approval",
            dedupe_key="k2",
        )
        with pytest.raises(ValidationError):
            surveys.survey_create(
                tenant=tenant_a, customer=project.customer, kind="x", trigger="yearly", dedupe_key="k3"
            )
    assert first.pk == second.pk and first.token != other.token
    assert first.token.startswith(f"{tenant_a.pk}-") and len(first.token) > 30


def test_results_compute_csat_and_nps(tenant_a):
    with tenant_context(tenant_a):
        now = timezone.now()
        for score in (5, 4, 3):
            SurveyFactory(tenant=tenant_a, kind="csat", trigger="visit", score=score, answered_at=now)
        for score in (10, 9, 7, 3):
            SurveyFactory(tenant=tenant_a, kind="nps", score=score, answered_at=now)
        SurveyFactory(tenant=tenant_a, kind="nps")  # unanswered
        results = selectors.survey_results(tenant=tenant_a)
    assert results["csat_avg"] == 4.0 and results["csat_count"] == 3
    assert results["nps"] == 25  # 2 promoters, 1 detractor of 4
    assert results["sent"] == 8


def test_yearly_nps_on_handover_anniversary_once(tenant_a, handed_over):
    on_day = handed_over(on=datetime.date(2024, 6, 1))
    leap = handed_over(on=datetime.date(2024, 2, 29))
    handed_over(on=datetime.date(2024, 6, 2))
    this_year = handed_over(on=datetime.date(2026, 6, 1))
    with tenant_context(tenant_a):
        surveys.surveys_yearly_nps(tenant=tenant_a, today=datetime.date(2026, 6, 1))
        surveys.surveys_yearly_nps(tenant=tenant_a, today=datetime.date(2026, 6, 1))
        surveys.surveys_yearly_nps(tenant=tenant_a, today=datetime.date(2027, 2, 28))
        yearly = Survey.objects.filter(trigger="yearly", kind="nps")
        assert sorted(yearly.values_list("project_id", flat=True)) == sorted([on_day.pk, leap.pk])
        assert not yearly.filter(project=this_year).exists()


def test_milestone_event_sends_csat_once(tenant_a, handed_over, django_capture_on_commit_callbacks):
    project = handed_over()
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant_a):
            events.publish(
                events.EventType.PROJECT_MILESTONE,
                tenant=tenant_a,
                project_id=project.pk,
                customer_id=project.customer_id,
                milestone="plumbing_electrical",
            )
    with tenant_context(tenant_a):
        assert Survey.objects.filter(project=project, trigger="plumbing_electrical", kind="csat").count() == 1


def test_survey_for_another_customers_project_is_refused(tenant_a, handed_over):
    mine, theirs = handed_over(), handed_over()
    with tenant_context(tenant_a), pytest.raises(ValidationError) as error:
        surveys.survey_create(
            tenant=tenant_a,
            customer=mine.customer,
            project=theirs,
            kind="csat",
            trigger="handover",
            dedupe_key="x",
        )
    assert "project" in error.value.message_dict
