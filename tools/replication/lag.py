#!/usr/bin/env python3
"""Redis replication lag and the cost of `WAIT 1`, on loopback (docs/scale.md, section 3a).

Starts a master and a replica (redis-server on free ports, in a temporary directory), then:
  1. writes N keys to the master and, for each, polls the replica until it sees the write:
     the window in which an acknowledged write is on the master only (lost if it dies then);
  2. times N `SET`s alone, and N `SET` + `WAIT 1 1000` (the acknowledgement glide-rs would
     wait for to never lose a session): what that guarantee costs per write.
Both servers are killed at the end. Needs redis-server and the `redis` Python package.

    python3 tools/replication/lag.py [N]
"""
import os
import socket
import subprocess
import sys
import tempfile
import time

import redis


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentiles(samples_ms):
    xs = sorted(samples_ms)
    pick = lambda q: xs[min(len(xs) - 1, int(q * len(xs)))]
    return f"p50 {pick(0.50):.3f} ms, p99 {pick(0.99):.3f} ms, max {xs[-1]:.3f} ms (n={len(xs)})"


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    work = tempfile.mkdtemp(prefix="glide-repl-")
    mport, rport = free_port(), free_port()
    common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", work]
    master = subprocess.Popen(["redis-server", "--port", str(mport), *common],
                              stdout=subprocess.DEVNULL)
    replica = subprocess.Popen(["redis-server", "--port", str(rport), *common,
                                "--dbfilename", "replica.rdb",
                                "--replicaof", "127.0.0.1", str(mport)],
                               stdout=subprocess.DEVNULL)
    try:
        m = redis.Redis(port=mport)
        r = redis.Redis(port=rport)
        deadline = time.time() + 20
        while True:
            try:
                if r.info("replication").get("master_link_status") == "up":
                    break
            except redis.ConnectionError:
                pass
            if time.time() > deadline:
                raise SystemExit("the replica did not connect within 20 s")
            time.sleep(0.05)

        lag = []
        for i in range(n):
            key = f"glide:lag:{i}"
            m.set(key, i)
            start = time.perf_counter()
            while r.get(key) is None:
                pass
            lag.append((time.perf_counter() - start) * 1000)
        print(f"replication lag (acknowledged on the master → visible on the replica): {percentiles(lag)}")

        plain, waited, unacked = [], [], 0
        for i in range(n):
            start = time.perf_counter()
            m.set(f"glide:plain:{i}", i)
            plain.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            m.set(f"glide:wait:{i}", i)
            if m.execute_command("WAIT", 1, 1000) < 1:
                unacked += 1
            waited.append((time.perf_counter() - start) * 1000)
        print(f"SET alone:              {percentiles(plain)}")
        print(f"SET + WAIT 1 1000:      {percentiles(waited)}; not acknowledged in time: {unacked}")
    finally:
        for p in (replica, master):
            p.kill()
            p.wait()


if __name__ == "__main__":
    main()
