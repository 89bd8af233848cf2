#!/usr/bin/env python3
"""How long this machine's disk takes to make a write durable, alone: a WAL-sized
write and an fdatasync, over and over, the way the SQLite writer commits a group.
Usage: bench/fsync-probe.py FILE [SECONDS [BYTES]]  (FILE on the store's filesystem)."""
import os
import sys
import time

path = sys.argv[1]
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 30
size = int(sys.argv[3]) if len(sys.argv) > 3 else 40960
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
block = os.urandom(size)
latencies, offset, end = [], 0, time.time() + seconds
while time.time() < end:
    os.pwrite(fd, block, offset)
    offset = (offset + size) % (4 << 20)  # a 4 MiB ring, like a WAL between checkpoints
    began = time.perf_counter()
    os.fdatasync(fd)
    latencies.append((time.perf_counter() - began) * 1000)
os.close(fd)
os.unlink(path)
latencies.sort()
n = len(latencies)
print(f"{n} syncs of {size} bytes: p50 {latencies[n // 2]:.2f} ms, p99 {latencies[int(n * .99)]:.2f} ms, "
      f"p99.9 {latencies[int(n * .999)]:.2f} ms, max {latencies[-1]:.1f} ms; over 50 ms: {sum(l > 50 for l in latencies)}")
