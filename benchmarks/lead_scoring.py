"""Benchmark: nightly lead-scoring training for a tenant with N historical leads (issue: ≤ 60 s for 20,000).

    DATABASE_URL=postgres://crm:crm@127.0.0.1:5432/bench_crm \
        .venv/bin/python benchmarks/lead_scoring.py --leads 20000

Generates the history (engagement.history, with a known signal), then times
``lead_scoring_train``: feature queries, time-split evaluation with bootstrap, refit, storing the
model row and rescoring recent leads. Uses its own tenant (slug ``bench-scoring``) and deletes it
at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings.local")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from crm.models import Tenant  # noqa: E402
from crm.tenancy import platform_scope, tenant_context  # noqa: E402
from engagement.history import generate_lead_history  # noqa: E402
from engagement.services.scoring import lead_scoring_train  # noqa: E402

SLUG = "bench-scoring"


def _drop(tenant: Tenant) -> None:
    from django.apps import apps

    from crm.tenancy import tenant_owned_models

    with platform_scope("benchmark cleanup"):
        for model in reversed(tenant_owned_models()):
            if model._meta.app_label in ("engagement", "projects", "customers"):
                model.objects.filter(tenant=tenant)._raw_delete(connection.alias)
        apps.get_model("crm", "User").objects.filter(tenant=tenant).delete()
        tenant.delete()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    for leftover in Tenant.objects.filter(slug=SLUG):
        _drop(leftover)
    tenant = Tenant.objects.create(name="评分压测公司", slug=SLUG)
    try:
        start = time.perf_counter()
        with tenant_context(tenant):
            made = generate_lead_history(tenant=tenant, leads=args.leads, signal=True)
        print(
            f"generated {made['leads']} leads ({made['signed']} signed) "
            f"in {time.perf_counter() - start:.1f} s"
        )
        start = time.perf_counter()
        with tenant_context(tenant):
            record = lead_scoring_train(tenant=tenant)
        seconds = time.perf_counter() - start
        print(
            f"lead_scoring_train for {args.leads} leads: {seconds:.2f} s "
            f"(service-measured {record.training_seconds:.2f} s)"
        )
        print(
            f"status={record.status} train={record.train_leads} test={record.test_leads} "
            f"model AUC={record.model_auc:.3f} P@20%={record.model_precision_top20:.3f} | "
            f"rules AUC={record.rules_auc:.3f} P@20%={record.rules_precision_top20:.3f}"
        )
    finally:
        if not args.keep:
            _drop(tenant)


if __name__ == "__main__":
    main()
