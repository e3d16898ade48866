"""Uptime monitor benchmark: detection latency, and probe throughput next to blackbox_exporter.

(a) detect_s / detect_max_s: three cells each with one local target, probed every 10 s, thresholds 2 and
    2; all three targets start failing at once; the time from that moment to each SMS request reaching a
    local Twilio-compatible fake (median and max of the three).
    false_pages: in the same monitor, for --false-minutes (default 5), ten more cells whose targets fail
    one request in 20 (fixed seed, never two in a row); every page for them is a false page.
(b) probes_per_s / rss_mb: 1,000 local targets at a 1 s interval, served by an asyncio HTTP server in its
    own process; probes/s counted at the target server by User-Agent over a steady window; rss_mb is the
    monitor process's peak RSS (VmHWM).
    blackbox_probes_per_s: the same 1,000 targets probed by Debian's prometheus-blackbox-exporter,
    driven by Prometheus (the way it is deployed) with the scrape config `uptime export prometheus`
    generates, at the same 1 s interval, counted the same way.

Usage: .venv/bin/python bench/monitor.py [--targets 1000] [--window 20] [--false-minutes 5] [--skip-blackbox]
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs

import yaml

from infra.local.lifecycle.ports import free_port, wait_port

ROOT = Path(__file__).resolve().parents[1]
HOSTS = ("127.0.0.1", "127.0.0.2")



# ----------------------------------------------------------------------------- target server process


def serve_targets(port: int, count_file: str) -> None:
    """Minimal HTTP/1.1 server: 200 "ok" to everything, counting requests per User-Agent family."""
    counts: dict[str, int] = {}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        agent = "blackbox" if b"Go-http-client" in head or b"Blackbox" in head else (
            "uptime" if b"slotstack-uptime" in head else "other")
        counts[agent] = counts.get(agent, 0) + 1
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    async def dump() -> None:
        while True:
            await asyncio.sleep(0.5)
            tmp = Path(count_file).with_name(f".{Path(count_file).name}.tmp")  # not matched by the reader's glob
            tmp.write_text(json.dumps(counts))
            os.replace(tmp, count_file)

    async def main() -> None:
        # Two loopback addresses: each prober gets its own (source port, destination) space, so the
        # ~25,000 connections one phase leaves in TIME_WAIT do not starve the next phase of ports.
        servers = [await asyncio.start_server(handle, host, port, backlog=4096, reuse_port=True) for host in HOSTS]
        asyncio.get_running_loop().create_task(dump())
        await asyncio.gather(*(s.serve_forever() for s in servers))

    asyncio.run(main())


def read_counts(path: Path) -> dict[str, int]:
    """Sum the per-worker count files ``<path>.<n>``."""
    total: dict[str, int] = {}
    for part in path.parent.glob(f"{path.name}.*"):
        try:
            data: dict[str, int] = json.loads(part.read_text())
        except (OSError, ValueError):
            continue
        for agent, count in data.items():
            total[agent] = total.get(agent, 0) + count
    return total


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")




def rate(count_file: Path, agent: str, window: float, warmup: float) -> float:
    time.sleep(warmup)
    start = read_counts(count_file).get(agent, 0)
    t0 = time.monotonic()
    time.sleep(window)
    end = read_counts(count_file).get(agent, 0)
    return (end - start) / (time.monotonic() - t0)


# ------------------------------------------------------------------------------------ (a) detection


class _Sms(BaseHTTPRequestHandler):
    arrivals: ClassVar[list[tuple[float, str]]] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        _Sms.arrivals.append((time.monotonic(), body))
        self.send_response(201)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


FLAKY_CELLS = 10
FLAKY_SEED = 15


class _Target(BaseHTTPRequestHandler):
    down = False
    # Per flaky path: its own seeded generator and whether the previous answer was a failure.
    flaky: ClassVar[dict[str, tuple[random.Random, list[bool]]]] = {}
    injected = 0

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _fails(self) -> bool:
        if not self.path.startswith("/flaky/"):
            return _Target.down
        rng, last = _Target.flaky.setdefault(self.path, (random.Random(f"{FLAKY_SEED}{self.path}"), [False]))
        fail = not last[0] and rng.random() < 1 / 20
        last[0] = fail
        _Target.injected += fail
        return fail

    def do_GET(self) -> None:
        self.send_response(503 if self._fails() else 200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


def detection(tmp: Path, false_minutes: float) -> tuple[float, float, int, int]:
    from uptime import config
    from uptime.service import Service

    def start(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        httpd.daemon_threads = True
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        return httpd

    target, sms = start(_Target), start(_Sms)
    sid = "AC" + "0" * 32
    doc = {
        "monitor": {"database": str(tmp / "detect.db"), "status_dir": str(tmp / "status")},
        "thresholds": {"down_after": 2, "up_after": 2},
        "targets": [{"name": f"{cell}-healthz", "cell": cell, "interval": "10s", "timeout": "2s",
                     "url": f"http://127.0.0.1:{target.server_address[1]}/{cell}"} for cell in ("us", "eu", "au")]
        + [{"name": f"f{i}-healthz", "cell": f"f{i}", "interval": "10s", "timeout": "2s",
            "url": f"http://127.0.0.1:{target.server_address[1]}/flaky/{i}"} for i in range(FLAKY_CELLS)],
        "channels": {"sms": {"type": "twilio", "account_sid": sid, "auth_token_env": "TW", "from": "+15550100",
                             "api_base": f"http://127.0.0.1:{sms.server_address[1]}"}},
        "people": {"alice": {"phone": "+15550111"}},
        "escalation": {"steps": [{"after": "0s", "notify": ["alice"], "channels": ["sms"]}]},
    }
    service = Service(config.parse(doc), environ={"TW": "x", "UPTIME_ACK_SECRET": "k"}, port=0)
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    began = time.monotonic()
    time.sleep(12)  # every target probed healthy at least once
    _Target.down = True
    broke = time.monotonic()

    def cell(body: str) -> str:
        return parse_qs(body)["Body"][0].split()[2]  # "[slotstack] DOWN us 1/1 checks ..."

    deadline = broke + 60
    while len([b for _, b in _Sms.arrivals if not cell(b).startswith("f")]) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    delays = [t - broke for t, b in _Sms.arrivals if not cell(b).startswith("f")][:3]
    # The flaky cells keep running in the same monitor until the false-page window is over.
    time.sleep(max(0.0, began + false_minutes * 60 - time.monotonic()))
    service.stop()
    thread.join(10)
    target.shutdown()
    sms.shutdown()
    if len(delays) < 3:
        raise RuntimeError(f"only {len(delays)} of 3 pages arrived within 60 s")
    false_pages = sum(1 for _, b in _Sms.arrivals if cell(b).startswith("f"))
    return statistics.median(delays), max(delays), false_pages, _Target.injected


# ---------------------------------------------------------------------------------- (b) throughput


def throughput(tmp: Path, n: int, window: float, skip_blackbox: bool) -> dict[str, float | None]:
    port = free_port()
    counts = tmp / "counts.json"
    # One target-server process per CPU (SO_REUSEPORT): the targets must not be the bottleneck.
    servers = [subprocess.Popen([sys.executable, __file__, "--serve-targets", str(port), f"{counts}.{i}"])
               for i in range(os.cpu_count() or 1)]
    monitor = prom = blackbox = None
    try:
        wait_port(port)
        def load_config(host: str, name: str) -> Path:
            targets = [{"name": f"t{i:04d}", "cell": f"c{i % 100:02d}", "url": f"http://{host}:{port}/t/{i}",
                        "interval": "1s", "timeout": "1s"} for i in range(n)]
            doc = {"monitor": {"database": str(tmp / f"{name}.db"), "status_dir": str(tmp / f"{name}-status"),
                               "concurrency": 64},
                   "targets": targets, "channels": {}, "escalation": {"steps": []}}
            path = tmp / f"{name}.yaml"
            path.write_text(yaml.safe_dump(doc))
            return path

        cfg_path = load_config(HOSTS[0], "load")
        monitor = subprocess.Popen([sys.executable, "-m", "uptime.cli", "--log-level", "WARNING", "run", "--config",
                                    str(cfg_path), "--listen", "127.0.0.1:0"], stdout=subprocess.DEVNULL,
                                   env={**os.environ, "UPTIME_ACK_SECRET": "bench"})
        uptime_rate = rate(counts, "uptime", window, warmup=5)
        rss = peak_rss_mb(monitor.pid)
        monitor.terminate()
        monitor.wait(30)
        monitor = None
        blackbox_rate = blackbox_rss = None
        if not skip_blackbox:
            from uptime import config, promexport

            cfg = config.load(load_config(HOSTS[1], "load-blackbox"))
            bb_port, prom_port = free_port(), free_port()
            out = tmp / "prom"
            promexport.write(cfg, out, blackbox_address=f"127.0.0.1:{bb_port}")
            blackbox = subprocess.Popen([shutil.which("prometheus-blackbox-exporter") or "prometheus-blackbox-exporter",
                                         f"--config.file={out / 'blackbox.yml'}",
                                         f"--web.listen-address=127.0.0.1:{bb_port}"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_port(bb_port)
            prom_cfg = yaml.safe_load((out / "prometheus.yml").read_text())
            prom_cfg.pop("rule_files")
            prom_cfg.pop("alerting")
            (out / "bench-prometheus.yml").write_text(yaml.safe_dump(prom_cfg))
            prom = subprocess.Popen([shutil.which("prometheus") or "prometheus",
                                     f"--config.file={out / 'bench-prometheus.yml'}",
                                     f"--storage.tsdb.path={tmp / 'tsdb'}",
                                     f"--web.listen-address=127.0.0.1:{prom_port}"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            blackbox_rate = rate(counts, "blackbox", window, warmup=8)
            blackbox_rss = peak_rss_mb(blackbox.pid)
        return {"probes_per_s": round(uptime_rate, 1), "rss_mb": round(rss, 1),
                "blackbox_probes_per_s": None if blackbox_rate is None else round(blackbox_rate, 1),
                "blackbox_rss_mb": None if blackbox_rss is None else round(blackbox_rss, 1)}
    finally:
        for proc in (monitor, prom, blackbox, *servers):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve-targets":
        serve_targets(int(sys.argv[2]), sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--window", type=float, default=20.0, help="seconds of steady state measured")
    parser.add_argument("--skip-blackbox", action="store_true")
    parser.add_argument("--skip-detection", action="store_true")
    parser.add_argument("--false-minutes", type=float, default=5.0,
                        help="minutes the one-in-20 flaky targets run for the false_pages figure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="uptime-bench-") as name:
        tmp = Path(name)
        detect_median = detect_max = None
        false_pages: int | None = None
        if not args.skip_detection:
            detect_median, detect_max, false_pages, injected = detection(tmp, args.false_minutes)
            print(f"detection: median {detect_median:.1f}s, max {detect_max:.1f}s (3 cells, interval 10s, 2/2); "
                  f"false pages {false_pages} from {injected} single failures in {args.false_minutes:g} min")
        load = throughput(tmp, args.targets, args.window, args.skip_blackbox)
        print(f"throughput ({args.targets} targets, 1s interval): uptime {load['probes_per_s']}/s "
              f"peak RSS {load['rss_mb']} MB; blackbox_exporter {load['blackbox_probes_per_s']}/s "
              f"RSS {load['blackbox_rss_mb']} MB; {os.cpu_count()} CPUs")
    # The machine is shared: the 1-minute load average says how much CPU the run really had.
    print(json.dumps({"detect_s": None if detect_median is None else round(detect_median, 1),
                      "detect_max_s": None if detect_max is None else round(detect_max, 1),
                      "false_pages": false_pages, **load,
                      "load_avg_1m": round(os.getloadavg()[0], 1)}))


if __name__ == "__main__":
    main()
