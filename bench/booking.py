"""Booking service benchmark, all against one embedded PostgreSQL in one run.

(a) pgbench inserting into an equivalent table with the same exclusion constraint (the database's ceiling);
(b) the service's POST booking throughput with 16 concurrent clients on distinct slots, p50/p99;
(c) slot search p50/p99 for a 31-day range with 1,000 bookings and 500 busy blocks;
(d) the ceiling: GET /healthz (no database) with the same load generator, the fastest any endpoint can go.

Load for (b) and (d) comes from wrk (Debian package `wrk`) with bench/wrk_load.lua.
Last line: {"booking_rps", "pgbench_tps", "ratio", "booking_p99_ms", "slots_p99_ms", "ceiling_ratio", ...}.
Usage: .venv/bin/python bench/booking.py [--seconds 10] [--clients 16] [--workers 2]
"""

# ruff: noqa: E402  (the sys.path fix below must run before `booking` is imported)
from __future__ import annotations

import sys
from pathlib import Path

# Run as `python bench/booking.py`, this file's directory comes first on sys.path and this module would
# shadow the `booking` package it measures.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import psycopg
import requests
from booking import migrate
from booking.embedded import pg_bin, start_cluster
from booking.provision import provision
from psycopg.types.range import Range

from infra.local import procs
from infra.local.lifecycle.ports import free_port

PASSWORD = "benchmark passphrase long enough"  # noqa: S105  (a throw-away tenant in a throw-away cluster)
SLOT = timedelta(minutes=30)


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of `values`, in the same unit."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_pgbench(admin_url: str, socket_dir: str, seconds: int, clients: int) -> float:
    """TPS of single-row inserts into a table with the bookings exclusion constraint."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS pgbench_db")
        conn.execute("CREATE DATABASE pgbench_db")
    db_url = admin_url.replace("/postgres?", "/pgbench_db?")
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION btree_gist")
        conn.execute("CREATE SEQUENCE slot_seq")
        conn.execute("""CREATE TABLE bench_bookings (
            tenant_id uuid NOT NULL, id uuid NOT NULL DEFAULT gen_random_uuid(), staff_id uuid NOT NULL,
            status text NOT NULL, starts_at timestamptz NOT NULL, ends_at timestamptz NOT NULL,
            blocked tstzrange NOT NULL, PRIMARY KEY (tenant_id, id),
            EXCLUDE USING gist (tenant_id WITH =, staff_id WITH =, blocked WITH &&)
                WHERE (status IN ('pending', 'confirmed')))""")
    script = Path(tempfile.mkdtemp()) / "insert.sql"
    script.write_text(
        "INSERT INTO bench_bookings (tenant_id, staff_id, status, starts_at, ends_at, blocked) "
        "SELECT '00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-000000000002', 'confirmed', "
        "s, s + interval '30 minutes', "
        "tstzrange(s, s + interval '30 minutes', '[)') FROM (SELECT timestamptz '2030-01-01' "
        "+ nextval('slot_seq') * interval '30 minutes' AS s) x;\n")
    out = subprocess.run([str(pg_bin("pgbench")), "-h", socket_dir, "-U", "postgres", "-n", "-c", str(clients),
                          "-j", str(min(clients, os.cpu_count() or 1)), "-T", str(seconds), "-f", str(script),
                          "pgbench_db"], capture_output=True, text=True, check=False, timeout=seconds + 120)
    if out.returncode != 0:
        raise RuntimeError(f"pgbench failed:\n{out.stdout}\n{out.stderr}")
    shutil.rmtree(script.parent)
    match = re.search(r"tps = ([0-9.]+)", out.stdout)
    if match is None:
        raise RuntimeError(f"pgbench printed no tps:\n{out.stdout}\n{out.stderr}")
    return float(match.group(1))


def start_service(app_url: str, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    """`booking serve` as its own process(es), as deployed."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": app_url, "SECRET_KEY": "bench-" + "k" * 40, "CELL": "us",
           "CELL_URLS": f"us={base}", "DB_POOL_MAX": "10",
           # every simulated customer comes from 127.0.0.1: measure the service, not its per-address limit
           "PUBLIC_RATE_PER_MINUTE": "100000000", "PUBLIC_RATE_BURST": "100000000"}
    booking = str(Path(sys.executable).parent / "booking")
    proc = subprocess.Popen([booking, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers",
                             str(workers)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/readyz", timeout=1).status_code == 200:
                return proc, base
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("booking serve did not become ready in 60 s")


def setup_tenant(base: str, slug: str, staff_count: int, hours: list[list[str]]) -> dict[str, Any]:
    """Signup, staff with the same hours every day, one 30-minute service."""
    s = requests.Session()
    signed = s.post(f"{base}/v1/signup", json={"tenant": {"slug": slug, "name": slug, "residency": "us",
                    "timezone": "UTC"}, "owner": {"email": f"o@{slug}.example", "password": PASSWORD}}, timeout=30)
    signed.raise_for_status()
    token = signed.json()["access_token"]
    s.headers["Authorization"] = f"Bearer {token}"
    week = {d: hours for d in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")}
    staff = []
    for i in range(staff_count):
        sid = s.post(f"{base}/v1/staff", json={"name": f"S{i}", "timezone": "UTC"}, timeout=30).json()["id"]
        s.put(f"{base}/v1/staff/{sid}/availability", json={"weekly": week}, timeout=30).raise_for_status()
        staff.append(sid)
    service = s.post(f"{base}/v1/services", json={"name": "Cut", "duration_minutes": 30, "horizon_days": 3650,
                                                  "staff_ids": staff}, timeout=30).json()["id"]
    return {"slug": slug, "token": token, "tenant_id": signed.json()["tenant"]["id"], "staff": staff,
            "service": service}


WRK_SCRIPT = Path(__file__).resolve().parent / "wrk_load.lua"
WRK_THREADS = 2  # one per core: wrk is event-driven, more threads would only contend with the service


def run_wrk(url: str, seconds: float, clients: int, *script_args: str) -> dict[str, Any]:
    """Run wrk with bench/wrk_load.lua; its summary: requests, ok, other, socket_errors, p50_us, p99_us, rps."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed; run `make setup` (it installs the Debian packages in "
                           ".ci/apt-packages.txt) or `apt-get install wrk`")
    threads = min(WRK_THREADS, clients)
    # --timeout 30s: wrk's 2 s default would count slow answers as errors while the service still commits them
    out = subprocess.run([wrk, "-t", str(threads), "-c", str(clients), "-d", f"{seconds}s", "--timeout", "30s",
                          "-s", str(WRK_SCRIPT),
                          url, "--", script_args[0], script_args[1], str(threads), *script_args[2:]],
                         capture_output=True, text=True, check=False, timeout=seconds + 60)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRK ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    summary: dict[str, Any] = json.loads(line.removeprefix("WRK "))
    summary["rps"] = summary["ok"] / (summary["duration_us"] / 1e6)
    return summary


def bench_posts(base: str, t: dict[str, Any], seconds: float, clients: int) -> dict[str, Any]:
    """Distinct-slot bookings from `clients` keep-alive connections for `seconds` (rps counts 201s only)."""
    first = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    return run_wrk(f"{base}/v1/public/{t['slug']}/bookings", seconds, clients, "book", "201",
                   str(int(first.timestamp())), t["service"], t["staff"][0])


TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def tree_cpu_s(root: int) -> float:
    """CPU seconds (user + system) used so far by process `root` and every live descendant of it."""
    parent: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for pid, fields in procs.live_processes():
        parent[pid] = int(fields[1])
        ticks[pid] = int(fields[11]) + int(fields[12])
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        children = [p for p, pp in parent.items() if pp == pid and p not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(ticks.get(p, 0) for p in tree) / TICKS_PER_S


def count_bookings(owner_url: str, tenant_id: str) -> int:
    """Bookings the database holds for a tenant: the benchmark's 201s must all be there."""
    with psycopg.connect(owner_url) as conn, conn.transaction():
        conn.execute("SELECT set_config('app.tenant_id', %s, true)", (tenant_id,))
        row = conn.execute("SELECT count(*) FROM bookings").fetchone()
    assert row is not None
    return int(row[0])


def seed_search(owner_url: str, t: dict[str, Any], first: datetime, bookings: int, busy: int) -> None:
    """Put `bookings` bookings and `busy` one-hour busy blocks into the 31 days from `first`."""
    rng = random.Random(42)
    slots_per_day = 24  # 08:00-20:00
    candidates = [(s, d, k) for s in t["staff"] for d in range(31) for k in range(slots_per_day)]
    chosen = rng.sample(candidates, bookings)
    with psycopg.connect(owner_url) as conn, conn.transaction():
        conn.execute("SELECT set_config('app.tenant_id', %s, true)", (t["tenant_id"],))
        cust = conn.execute("INSERT INTO customers (tenant_id, name, email) VALUES (%s, 'Seed', 's@x.example') "
                            "RETURNING id", (t["tenant_id"],)).fetchone()
        assert cust is not None
        with conn.cursor() as cur:
            rows = []
            for staff, day, k in chosen:
                s = first + timedelta(days=day, hours=8) + k * SLOT
                rows.append((t["tenant_id"], t["service"], staff, cust[0], s, s + SLOT, Range(s, s + SLOT, "[)")))
            cur.executemany("INSERT INTO bookings (tenant_id, service_id, staff_id, customer_id, status, starts_at, "
                            "ends_at, blocked) VALUES (%s, %s, %s, %s, 'confirmed', %s, %s, %s)", rows)
            feeds = {}
            for staff in t["staff"]:
                feeds[staff] = uuid.uuid4()
                cur.execute("INSERT INTO calendar_feeds (tenant_id, id, staff_id, source) VALUES (%s, %s, %s, "
                            "'upload')", (t["tenant_id"], feeds[staff], staff))
            blocks = []
            for i in range(busy):
                staff = t["staff"][i % len(t["staff"])]
                s = first + timedelta(days=rng.randrange(31), hours=rng.randrange(6, 20))
                blocks.append((t["tenant_id"], staff, feeds[staff], f"ev{i}", Range(s, s + timedelta(hours=1), "[)")))
            cur.executemany("INSERT INTO busy_blocks (tenant_id, staff_id, feed_id, source_uid, period) "
                            "VALUES (%s, %s, %s, %s, %s)", blocks)


def bench_slots(base: str, t: dict[str, Any], first: datetime, rounds: int) -> tuple[list[float], int]:
    """Sequential 31-day slot searches over one keep-alive connection: (latencies in ms, slots returned)."""
    host, port = base.removeprefix("http://").split(":")
    query = urlencode({"from": first.date().isoformat(), "to": (first + timedelta(days=30)).date().isoformat(),
                       "tz": "UTC"})
    path = f"/v1/public/{t['slug']}/services/{t['service']}/slots?{query}"
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("GET", path)
    count = len(json.loads(conn.getresponse().read())["slots"])  # warm-up
    latencies = []
    for _ in range(rounds):
        began = time.perf_counter()
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        latencies.append((time.perf_counter() - began) * 1000)
        if resp.status != 200:
            raise RuntimeError(f"slot search answered {resp.status}")
    conn.close()
    return latencies, count


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--slot-rounds", type=int, default=200)
    args = p.parse_args()
    data = Path(tempfile.mkdtemp(prefix="booking-bench-"))
    server = start_cluster(data)
    proc = None
    try:
        admin = server.get_uri()
        socket_dir = str(server.get_postmaster_info().socket_dir)
        pgbench_tps = run_pgbench(admin, socket_dir, args.seconds, args.clients)
        print(f"(a) pgbench: {pgbench_tps:.0f} tps, {args.clients} clients, {args.seconds} s", flush=True)
        urls = provision(admin)
        migrate.upgrade(urls.owner_url)
        proc, base = start_service(urls.app_url, args.workers)
        writer = setup_tenant(base, "bench-writes", 1, [["00:00", "24:00"]])
        # where the CPU goes: the service's processes against PostgreSQL's (postmaster and its backends)
        roots = {"service": proc.pid, "postgres": server.get_postmaster_info().pid}
        before = {name: tree_cpu_s(pid) for name, pid in roots.items()}
        posts = bench_posts(base, writer, args.seconds, args.clients)
        cpu_ms = {name: (tree_cpu_s(pid) - before[name]) * 1000 / max(posts["ok"], 1) for name, pid in roots.items()}
        stored = count_bookings(urls.owner_url, writer["tenant_id"])
        # wrk stops reading when the time is up, so up to one in-flight booking per connection is stored
        # but not counted; anything else means a 201 without a booking, or a booking without an answer
        if not 0 <= stored - posts["ok"] <= args.clients:
            raise RuntimeError(f"wrk counted {posts['ok']} 201s but the database holds {stored} bookings")
        print(f"(b) POST booking: {posts['rps']:.0f} rps, p50 {posts['p50_us'] / 1000:.1f} ms, "
              f"p99 {posts['p99_us'] / 1000:.1f} ms, {posts['other']} non-201 and {posts['socket_errors']} socket "
              f"errors of {posts['requests']}; {stored} bookings stored; CPU per booking: service "
              f"{cpu_ms['service']:.2f} ms, PostgreSQL {cpu_ms['postgres']:.2f} ms", flush=True)
        reader = setup_tenant(base, "bench-reads", 4, [["08:00", "20:00"]])
        first = (datetime.now(UTC) + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        seed_search(urls.owner_url, reader, first, 1000, 500)
        slat, count = bench_slots(base, reader, first, args.slot_rounds)
        print(f"(c) slots 31 days, 4 staff, 1000 bookings, 500 busy blocks: {count} slots, "
              f"p50 {pct(slat, 0.5):.1f} ms, p99 {pct(slat, 0.99):.1f} ms", flush=True)
        # The ceiling: the same load generator against GET /healthz, which touches no database. No endpoint
        # of this service (framework, middleware, logging, metrics) can go faster on this machine.
        floor = run_wrk(f"{base}/healthz", args.seconds, args.clients, "get", "200")
        print(f"(d) ceiling, GET /healthz (no database): {floor['rps']:.0f} rps, "
              f"{floor['rps'] / pgbench_tps:.3f} of pgbench", flush=True)
        rps = posts["rps"]
        print(json.dumps({
            "booking_rps": round(rps, 1), "pgbench_tps": round(pgbench_tps, 1),
            "ratio": round(rps / pgbench_tps, 3), "booking_p50_ms": round(posts["p50_us"] / 1000, 2),
            "booking_p99_ms": round(posts["p99_us"] / 1000, 2), "slots_p50_ms": round(statistics.median(slat), 2),
            "slots_p99_ms": round(pct(slat, 0.99), 2), "healthz_rps": round(floor["rps"], 1),
            "ceiling_ratio": round(floor["rps"] / pgbench_tps, 3),
            "service_cpu_ms_per_booking": round(cpu_ms["service"], 2),
            "postgres_cpu_ms_per_booking": round(cpu_ms["postgres"], 2), "clients": args.clients,
            "workers": args.workers, "errors": posts["other"] + posts["socket_errors"]}))
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        server.cleanup()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
