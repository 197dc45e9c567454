"""Time the two referral concurrency proofs on a throwaway PostgreSQL database and print the numbers.

    TEST_DATABASE_NAME=test_crm_bench .venv/bin/python benchmarks/referrals_concurrency.py [threads]

Uses the test settings (real PostgreSQL as the non-superuser app role, so RLS applies), creates
``<TEST_DATABASE_NAME>_bench``, migrates it, runs both races and drops it again.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings.test")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402


def main(threads: int = 50) -> int:
    from tests.referrals.concurrency import credit_race, prepare_tenant, redemption_race

    connection.settings_dict["TEST"]["NAME"] = f"{connection.settings_dict['TEST']['NAME']}_bench"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    ok = True
    try:
        result, facts = credit_race(prepare_tenant("bench-credit"), threads=threads)
        good = facts["credit_entries"] == 1 and result.count("ok") == threads and not facts["discrepancies"]
        ok &= good
        print(
            f"{threads} concurrent contract_signed handlings: {result.seconds * 1000:.0f} ms, "
            f"credit entries={facts['credit_entries']}, balance={facts['balance_fen']} fen "
            f"[{'OK' if good else 'FAIL'}]"
        )
        result, facts = redemption_race(prepare_tenant("bench-redeem"), threads=threads)
        expected = min(threads, 10)
        good = result.count("ok") == expected and facts["balance_fen"] == facts["sum_fen"] >= 0
        good &= not facts["discrepancies"] and result.count("error") == 0
        ok &= good
        print(
            f"{threads} concurrent redemptions of 10000 fen against 100000 fen: "
            f"{result.seconds * 1000:.0f} ms, "
            f"succeeded={result.count('ok')}, rejected={result.count('rejected')}, "
            f"balance={facts['balance_fen']} fen, cached==sum: {facts['balance_fen'] == facts['sum_fen']} "
            f"[{'OK' if good else 'FAIL'}]"
        )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 50))
