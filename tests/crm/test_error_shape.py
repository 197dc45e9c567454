"""Every API 400 has the documented shape, including a body that is not JSON (found by the fuzzer)."""

from __future__ import annotations


def test_malformed_json_body_is_a_400_with_codes(tenant_a, manager_a, token_client):
    api = token_client(manager_a)
    response = api.generic("PATCH", "/api/v1/notification-settings/", "\x00", content_type="application/json")
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"detail", "errors", "codes"} and body["codes"] == {} and body["detail"]
