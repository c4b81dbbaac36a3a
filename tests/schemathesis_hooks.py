"""Schemathesis hooks for tests/test_api_contract.py: a check that a city token never reads
or writes another city (loaded by the CLI through SCHEMATHESIS_HOOKS)."""

import os

import schemathesis


@schemathesis.check
def no_other_city(ctx, response, case):
    """With a city token (FLEET_OWN_CITY set), nothing of another city ever succeeds."""
    own = os.environ.get("FLEET_OWN_CITY")
    with open(os.environ["FLEET_CHECK_LOG"], "a") as log:  # proof that the check ran
        log.write(f"{case.method} {case.formatted_path} {response.status_code}\n")
    if not own or not 200 <= response.status_code < 300:
        return None
    asked = (case.path_parameters or {}).get("city") or (case.query or {}).get("city")
    if asked is not None and str(asked).strip() not in ("", own):
        raise AssertionError(f"a city token reached city {asked!r}")
    if case.path.endswith("/progress") and "json" in response.headers.get(
            "content-type", [""])[0]:
        body = response.json()
        assert body["scope"] == {"city": own}, body["scope"]
        assert [c["code"] for c in body["cities"]] == [own]
    return None
