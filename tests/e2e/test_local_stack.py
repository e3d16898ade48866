"""`slotstack up` on a fresh directory, used as a person would, then the drills, then a clean stop.

The tests of this module share one stack and run in file order: the drills change which node is
primary, and the last tests stop the stack and start it again from the same data.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from infra.local import procs
from infra.local.lifecycle import ports, services
from tests.e2e.conftest import Stack, processes_mentioning, slotstack

pytestmark = pytest.mark.e2e


def superuser(stack: Stack, cell: str) -> str:
    """A superuser DSN to the cell's current primary (bypasses row-level security, for checking)."""
    return str(stack.state()["cells"][cell]["database"]["primary"]["dsn"])


def first_slot(url: str, slug: str, service_id: str) -> dict[str, str]:
    today = datetime.now(UTC).date()
    resp = requests.get(f"{url}/v1/public/{slug}/services/{service_id}/slots",
                        params={"from": str(today + timedelta(days=1)), "to": str(today + timedelta(days=14)),
                                "tz": "UTC"}, timeout=10)
    assert resp.status_code == 200, resp.text
    slots = resp.json()["slots"]
    assert slots, f"demo tenant {slug} offers no slot in the next two weeks"
    return dict(slots[0])


def book(url: str, slug: str, service_id: str, slot: dict[str, str], who: str = "Ada") -> requests.Response:
    return requests.post(f"{url}/v1/public/{slug}/bookings", timeout=10, json={
        "service_id": service_id, "staff_id": slot["staff_id"], "start": slot["start"],
        "customer": {"name": who, "email": f"{who.lower()}@example.com"}})


def test_up_prints_urls_and_writes_state(stack: Stack) -> None:
    output = stack.output.read_text()
    state = stack.state()
    assert state["status"] == "running"
    assert set(state["cells"]) == {"us", "eu", "au"}
    for name, cell in state["cells"].items():
        assert cell["url"] in output, f"the URL table lacks cell {name}"
        assert cell["pids"]["service"]
        assert cell["pids"]["primary"]
        assert cell["pids"]["replica"]
        assert "target_session_attrs=read-write" in cell["database"]["app_dsn"]
    assert state["monitor"]["status_page"] in output
    assert state["ports"]["smtp"] == stack.port_base


def test_every_cell_is_healthy_with_its_replica(stack: Stack) -> None:
    for name, cell in stack.state()["cells"].items():
        assert requests.get(f"{cell['url']}/healthz", timeout=5).json()["cell"] == name
        ready = requests.get(f"{cell['url']}/readyz", timeout=5)
        assert ready.status_code == 200, ready.text
        with psycopg.connect(superuser(stack, name), autocommit=True) as conn:
            rows = conn.execute("SELECT state, sync_state FROM pg_stat_replication").fetchall()
        expected = "sync" if cell["replication"] == "synchronous" else "async"
        assert rows == [("streaming", expected)], f"cell {name}: replication is {rows}"


def test_a_booking_through_each_cell_stays_in_that_cell(stack: Stack) -> None:
    cells = stack.state()["cells"]
    for name, cell in cells.items():
        demo = cell["demo_tenant"]
        slot = first_slot(cell["url"], demo["slug"], demo["service_id"])
        resp = book(cell["url"], demo["slug"], demo["service_id"], slot)
        assert resp.status_code == 201, resp.text
        booking_id = resp.json()["id"]
        for other in cells:
            with psycopg.connect(superuser(stack, other).replace("/booking", "/booking"), autocommit=True) as conn:
                found = conn.execute("SELECT count(*) FROM bookings WHERE id = %s", (booking_id,)).fetchone()
            assert found == ((1,) if other == name else (0,)), f"booking made in {name} found in {other}: {found}"
        again = book(cell["url"], demo["slug"], demo["service_id"], slot, who="Bob")
        assert again.status_code == 409, f"cell {name}: a second booking of the same slot got {again.status_code}"


def test_a_tenant_of_another_cell_gets_421_with_its_home(stack: Stack) -> None:
    cells = stack.state()["cells"]
    us_demo = cells["us"]["demo_tenant"]
    resp = requests.get(f"{cells['eu']['url']}/v1/public/{us_demo['slug']}/services", timeout=10)
    assert resp.status_code == 421, resp.text
    assert resp.json()["home_url"].startswith(cells["us"]["url"])


def test_the_monitor_sees_every_cell_up(stack: Stack) -> None:
    state = stack.state()
    wanted = {f"{cell}-{check}" for cell in state["cells"] for check in ("healthz", "readyz")}
    deadline = time.monotonic() + 60
    seen: dict[str, float] = {}
    while time.monotonic() < deadline:
        text = requests.get(f"{state['monitor']['url']}/metrics", timeout=5).text
        seen = {s.labels["target"]: s.value for f in text_string_to_metric_families(text)
                if f.name == "probe_success" for s in f.samples if "target" in s.labels}
        if wanted <= set(seen) and all(seen[t] == 1 for t in wanted):
            break
        time.sleep(1)
    assert {t: seen.get(t) for t in wanted} == dict.fromkeys(wanted, 1.0)
    status = subprocess.run([services.program("uptime"), "status", "--json", "--config", state["monitor"]["config"]],
                            capture_output=True, text=True, timeout=30, check=True)
    report = json.loads(status.stdout)
    assert report["open_incidents"] == []
    assert {c["cell"]: c["down"] for c in report["cells"]} == {"us": [], "eu": [], "au": []}
    page = requests.get(state["monitor"]["status_page"], timeout=5)
    assert page.status_code == 200
    assert "cell-au" in page.text


def test_a_port_in_use_is_refused_before_anything_starts(stack: Stack, tmp_path: Any) -> None:
    other = tmp_path / "second"
    result = slotstack("up", "--state-dir", str(other), "--port-base", str(stack.port_base), "--detach")
    assert result.returncode == 1
    assert f"port {stack.port_base} (the SMTP sink) is already in use" in result.stderr
    us_service = stack.state()["ports"]["cells"]["us"]["service"]
    assert f"port {us_service} (cell us: booking service) is already in use" in result.stderr
    assert not (other / "state.json").exists()


def test_failover_drill_loses_no_booking_with_synchronous_replication(stack: Stack) -> None:
    before = stack.state()["cells"]["us"]["database"]
    result = stack.cli("drill", "failover", "us", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["replication"] == "synchronous"
    assert report["rpo_bookings"] == 0
    assert report["acknowledged_bookings"] > 0
    assert isinstance(report["rto_s"], float)
    assert report["rto_s"] > 0
    assert report["replica"] == {"state": "streaming", "sync_state": "sync"}
    after = stack.state()["cells"]["us"]["database"]
    assert after["primary"]["node"] == before["replica"]["node"]
    assert after["replica"]["node"] == before["primary"]["node"]
    cell = stack.state()["cells"]["us"]
    demo = cell["demo_tenant"]
    slot = first_slot(cell["url"], demo["slug"], demo["service_id"])
    assert book(cell["url"], demo["slug"], demo["service_id"], slot, who="Cy").status_code == 201


def test_a_slow_failover_pages_on_call_once_and_sends_the_recovery(stack: Stack) -> None:
    result = stack.cli("drill", "failover", "eu", "--promote-after", "20", "--monitor-wait", "60", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["rpo_bookings"] == 0
    assert report["rto_s"] >= 20
    monitor = report["monitor"]
    assert monitor["pages"] == {"down_sms": True, "down_email": True, "recovered_sms": True,
                                "recovered_email": True}
    down_sms = [m for m in monitor["sms"] if "DOWN eu" in m["text"]]
    assert len(down_sms) == 1, f"expected one page, got {monitor['sms']}"
    assert down_sms[0]["to"] == "+15550199"
    assert len(down_sms[0]["text"]) <= 160
    assert {m["to"] for m in monitor["emails"]} == {"oncall@example.com"}
    assert not any(" us " in m["text"] or " au " in m["text"] for m in monitor["sms"]), "other cells were paged"


def tenant_checksums(dsn: str, exclude_slug: str) -> dict[str, str]:
    """md5 of every row of every tenant-owned table, per table, for all tenants but one.

    The mail outbox is left out: it is delivery state that the email worker keeps changing (sent, retried)
    while the drill runs, for every tenant, so its checksum would differ with or without a restore.
    """
    sums = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' "
            "AND column_name = 'tenant_id' AND table_name NOT LIKE 'outbox%%' ORDER BY 1")]
        for table in tables:
            row = conn.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {table} t "
                "WHERE tenant_id <> (SELECT id FROM tenants WHERE slug = %s)", (exclude_slug,)).fetchone()
            assert row is not None
            sums[table] = f"{row[0]}:{row[1]}"
    return sums


def test_restore_drill_brings_back_deleted_bookings_and_touches_no_other_tenant(stack: Stack) -> None:
    cell = stack.state()["cells"]["us"]
    url, demo = cell["url"], cell["demo_tenant"]
    slug = "drill-us"  # made by the failover drill, with hundreds of bookings
    assert stack.cli("backup", "us").returncode == 0
    dsn = superuser(stack, "us")
    with psycopg.connect(dsn, autocommit=True) as conn:
        count_at = conn.execute("SELECT count(*) FROM bookings b JOIN tenants t ON t.id = b.tenant_id "
                                "WHERE t.slug = %s", (slug,)).fetchone()
    assert count_at is not None
    assert count_at[0] > 0
    time.sleep(1)
    at = datetime.now(UTC)
    time.sleep(1)
    with psycopg.connect(dsn, autocommit=True) as conn:  # the accident
        conn.execute("DELETE FROM bookings WHERE tenant_id = (SELECT id FROM tenants WHERE slug = %s)", (slug,))
    # Another tenant keeps working after TIME; its new booking must survive the restore.
    slot = first_slot(url, demo["slug"], demo["service_id"])
    assert book(url, demo["slug"], demo["service_id"], slot, who="Dee").status_code == 201
    others_before = tenant_checksums(dsn, slug)
    result = stack.cli("drill", "restore", "us", "--tenant", slug, "--at", at.isoformat(), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["tables"]["bookings"] == {"before": 0, "restored": count_at[0]}
    with psycopg.connect(dsn, autocommit=True) as conn:
        count_now = conn.execute("SELECT count(*) FROM bookings b JOIN tenants t ON t.id = b.tenant_id "
                                 "WHERE t.slug = %s", (slug,)).fetchone()
    assert count_now == count_at
    assert tenant_checksums(dsn, slug) == others_before


def test_restore_refuses_a_time_before_any_backup(stack: Stack) -> None:
    result = stack.cli("drill", "restore", "us", "--tenant", "drill-us", "--at", "2020-01-01T00:00:00Z")
    assert result.returncode == 1
    assert "no base backup that finished before 2020-01-01T00:00:00+00:00" in result.stderr
    future = stack.cli("drill", "restore", "us", "--tenant", "drill-us", "--at", "2999-01-01T00:00:00Z")
    assert future.returncode == 1
    assert "is in the future" in future.stderr
    unknown = stack.cli("drill", "failover", "xx")
    assert unknown.returncode == 2  # bad usage, not a problem found
    assert "cell 'xx' is not part of the stack" in unknown.stderr


def test_whole_cell_restore_undoes_later_writes_only_with_yes(stack: Stack) -> None:
    # A fresh base backup, keeping only it: the restore below must work from it and the pruned archive.
    pruned = stack.cli("backup", "us", "--keep", "1", "--json")
    assert pruned.returncode == 0, pruned.stderr
    assert json.loads(pruned.stdout)["pruned"]["base_backups_removed"] == 1
    assert len(list((stack.state_dir / "backups" / "us" / "base").iterdir())) == 1
    cell = stack.state()["cells"]["us"]
    url, demo = cell["url"], cell["demo_tenant"]
    slot = first_slot(url, demo["slug"], demo["service_id"])
    kept = book(url, demo["slug"], demo["service_id"], slot, who="Eve")
    assert kept.status_code == 201, kept.text
    time.sleep(1)
    at = datetime.now(UTC).isoformat()
    time.sleep(1)
    slot = first_slot(url, demo["slug"], demo["service_id"])
    undone = book(url, demo["slug"], demo["service_id"], slot, who="Fay")
    assert undone.status_code == 201, undone.text
    refused = stack.cli("restore", "us", "--at", at)
    assert refused.returncode == 1
    assert "run again with --yes" in refused.stderr
    result = stack.cli("restore", "us", "--at", at, "--yes", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["rows_after"]["bookings"] == report["rows_before"]["bookings"] - 1
    with psycopg.connect(superuser(stack, "us"), autocommit=True) as conn:
        ids = {str(r[0]) for r in conn.execute("SELECT id FROM bookings WHERE id = ANY(%s::uuid[])",
                                                 ([kept.json()["id"], undone.json()["id"]],))}
        replication = conn.execute("SELECT state, sync_state FROM pg_stat_replication").fetchall()
    assert ids == {kept.json()["id"]}
    assert replication == [("streaming", "sync")]
    deadline = time.monotonic() + 30
    while requests.get(f"{url}/readyz", timeout=5).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert requests.get(f"{url}/readyz", timeout=5).status_code == 200


def test_ctrl_c_stops_everything_and_leaves_no_process(stack: Stack) -> None:
    state = stack.state()
    stack.process.send_signal(signal.SIGINT)
    assert stack.process.wait(timeout=120) == 0
    assert processes_mentioning(str(stack.state_dir)) == []
    recorded = [p for c in state["cells"].values() for p in c["pids"].values()]
    for pid in recorded:
        assert not _alive(pid), f"pid {pid} still runs after Ctrl-C"
    busy = [p for p in range(stack.port_base, stack.port_base + 11) if ports.in_use(p)]
    assert busy == [], f"ports still listening: {busy}"
    assert stack.state()["status"] == "stopped"


def test_next_up_reuses_the_data_and_down_stops_it(stack: Stack) -> None:
    result = stack.cli("up", "--port-base", str(stack.port_base), "--detach")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "creating the primary" not in result.stdout
    twice = stack.cli("up", "--port-base", str(stack.port_base + 100), "--detach")
    assert twice.returncode == 1
    assert f"a stack from {stack.state_dir} is already running" in twice.stderr
    cell = stack.state()["cells"]["us"]
    with psycopg.connect(superuser(stack, "us"), autocommit=True) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM customers")}
    assert {"Ada", "Cy", "Dee", "Eve"} <= names, "bookings made before the restart are gone"
    assert "Fay" not in names, "the whole-cell restore undid this booking"
    assert requests.get(f"{cell['url']}/readyz", timeout=5).status_code == 200
    down = stack.cli("down")
    assert down.returncode == 0, down.stderr
    assert processes_mentioning(str(stack.state_dir)) == []
    assert not any(_alive(p) for p in cell["pids"].values())
    assert [p for p in range(stack.port_base, stack.port_base + 11) if ports.in_use(p)] == []


def _alive(pid: int) -> bool:
    return procs.start_ticks(pid) is not None
