"""Schemathesis hooks for scripts/fuzz.sh (loaded through SCHEMATHESIS_HOOKS)."""

import os

import schemathesis

FUZZ_TOKEN_ID = os.environ.get("FUZZ_TOKEN_ID", "")


@schemathesis.hook
def filter_case(context, case) -> bool:  # noqa: ARG001 - schemathesis hook signature
    """Never revoke the fuzzer's own token: every later request would only test the 401 path."""
    if case.operation.path.endswith("/tokens/{id}/revoke/"):
        return str((case.path_parameters or {}).get("id")) != FUZZ_TOKEN_ID
    return True
