"""A bounded schemathesis run against the live /openapi.json: no request gets a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from booking.errors import ApiError
from booking.images import LocalImageStore
from booking.provision import DatabaseUrls
from booking.secrets.keystore import LocalKeyStore
from hypothesis import HealthCheck, Phase, given, settings

from tests.app.conftest import Service, make_business, start_service

EXAMPLES_PER_OPERATION = 15  # bounded: the whole run stays well under a minute


def no_network(url: str) -> bytes:
    raise ApiError(422, f"the fuzz run fetches no calendar feeds ({url[:40]})")


@pytest.fixture(scope="module")
def svc(db: DatabaseUrls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    # configured like the embedded default (key store and image folder), with every outside call kept local
    s = start_service(db, keys=LocalKeyStore(tmp_path_factory.mktemp("keys")), fetch_ics=no_network,
                      revoke=lambda provider, token: "no_endpoint")
    s.app.state.ctx.images = LocalImageStore(tmp_path_factory.mktemp("images"), s.url)
    yield s
    s.server.stop()


def test_no_generated_request_gets_a_5xx(svc: Service) -> None:
    biz = make_business(svc, "fuzz-shop")
    schema = schemathesis.openapi.from_url(f"{svc.url}/openapi.json")
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            # the signup would create tenants and erase would delete the one whose token we use: both are
            # exercised too, with generated bodies, but keep the credential valid for the other operations
            response = case.call(base_url=svc.url, headers={"Authorization": f"Bearer {biz.token}"}, timeout=30)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code} "
                                f"{response.text[:200]}")

        run()
    assert operations >= 40, f"only {operations} operations in /openapi.json"
    assert not failures, "\n".join(sorted(set(failures))[:20])
