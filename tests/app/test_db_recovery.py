"""After the database restarts (or fails over), the service recovers without failing request after request."""

from __future__ import annotations

from pathlib import Path

from booking import migrate
from booking.embedded import pg_ctl, start_cluster
from booking.provision import provision

from tests.app.conftest import start_service


def test_a_database_restart_costs_at_most_one_failed_request(pg_data_dir: Path) -> None:
    server = start_cluster(pg_data_dir)
    try:
        urls = provision(server.get_uri())
        migrate.upgrade(urls.owner_url)
        svc = start_service(urls, pool_min=4, pool_max=8)
        try:
            svc.signup("steady-shop")
            for _ in range(8):  # warm the pool: several idle connections that will all die
                assert svc.call("GET", "/v1/public/steady-shop/services").status_code == 200
            pg_ctl(["-w", "-m", "fast", "restart"], pgdata=server.pgdata, user=server.system_user, timeout=60)
            codes = [svc.call("GET", "/v1/public/steady-shop/services").status_code for _ in range(12)]
            assert codes.count(503) <= 1, codes
            assert codes[-10:] == [200] * 10, codes
            assert svc.call("GET", "/readyz").status_code == 200
        finally:
            svc.server.stop()
    finally:
        server.cleanup()
