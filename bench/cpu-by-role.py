#!/usr/bin/env python3
"""CPU per 1,000 requests, by role, over one closed-loop run of the suite on PostgreSQL.

perf names threads, not the PostgreSQL backends behind them; this tells each backend's
role (group writer, bus publisher, bus listener, a reader and its last statement) and
node (by its client port), and reads every process's CPU time from /proc.

  bench/cpu-by-role.py sample SAMPLES.jsonl          # once a second, until stopped
  benchsuite ... 2>&1 | bench/cpu-by-role.py stamp > SUITE.log
  bench/cpu-by-role.py report SAMPLES.jsonl SUITE.log "PostgreSQL, 2 nodes, 128 connections" SECONDS

`sample` reads SWITCHBOARD_TEST_POSTGRES_URL (the suite's server); `report` takes the
run's line in the stamped log, and its seconds (the suite's --seconds), and counts
from 3 s after the run began to 2 s before it ended.
"""
import collections, json, os, re, subprocess, sys, time

ACTIVITY = ("select pid, coalesce(client_port, -1), backend_type, "
            "left(regexp_replace(query, '\\s+', ' ', 'g'), 60) from pg_stat_activity")


def ticks(stat_path):
    """utime + stime, in clock ticks (1/100 s), or None once the process is gone."""
    try:
        text = open(stat_path).read()
        fields = text[text.rindex(")") + 2:].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, ValueError, IndexError):
        return None


def pids(pattern):
    return subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()


def sample(path):
    url = os.environ["SWITCHBOARD_TEST_POSTGRES_URL"]
    out = open(path, "w")
    while True:
        began = time.time()
        try:
            rows = subprocess.run(["psql", url, "-AtF", "\t", "-c", ACTIVITY],
                                  capture_output=True, text=True, timeout=5).stdout
        except subprocess.TimeoutExpired:
            rows = ""
        backends = []
        for line in rows.splitlines():
            fields = line.split("\t")
            if len(fields) == 4:
                pid = int(fields[0])
                backends.append([pid, int(fields[1]), fields[2], fields[3], ticks(f"/proc/{pid}/stat")])
        sockets = subprocess.run(["ss", "-tnpH", "state", "established", "( dport = :5432 )"],
                                 capture_output=True, text=True).stdout.splitlines()
        nodes = {}
        for pid in pids("switchboard serve"):
            threads = {}
            try:
                for tid in os.listdir(f"/proc/{pid}/task"):
                    name = open(f"/proc/{pid}/task/{tid}/comm").read().strip()
                    threads[tid] = [name, ticks(f"/proc/{pid}/task/{tid}/stat")]
            except OSError:
                continue
            ports = [int(s.split()[2].rsplit(":", 1)[1]) for s in sockets if f"pid={pid}," in s]
            nodes[pid] = {"threads": threads, "ports": ports}
        load = {pid: ticks(f"/proc/{pid}/stat") for pid in pids("benchsuite")}
        cpu = [int(x) for x in open("/proc/stat").readline().split()[1:]]
        out.write(json.dumps({"t": began, "pg": backends, "nodes": nodes, "load": load, "cpu": cpu}) + "\n")
        out.flush()
        time.sleep(max(0.0, 1.0 - (time.time() - began)))


def stamp():
    for line in sys.stdin:
        print(f"{time.time():.3f} {line}", end="", flush=True)


def role(last_statements, backend_type):
    if backend_type != "client backend":
        return backend_type
    statement = last_statements.most_common(1)[0][0] if last_statements else ""
    for needle, name in [("pg_notify", "bus publisher"), ("LISTEN", "bus listener"), ("INSERT INTO threads", "group writer"),
                         ("INSERT INTO messages", "group writer"), ("COMMIT", "group writer"), ("pg_stat_activity", "(this sampler)")]:
        if needle in statement:
            return name
    return "reader, last: " + statement[:40]


def report(samples_path, log_path, run, seconds):
    line = next((l for l in open(log_path) if f" {run}: " in l), None)
    if line is None:
        sys.exit(f"no line for {run!r} in {log_path}")
    ended = float(line.split()[0])
    rate = float(re.search(r": ([\d.]+) req/s", line).group(1))
    samples = [json.loads(l) for l in open(samples_path)]
    nearest = lambda t: min(samples, key=lambda s: abs(s["t"] - t))
    first, last = nearest(ended - seconds + 3), nearest(ended - 2)
    within = [s for s in samples if first["t"] <= s["t"] <= last["t"]]
    node_of_port, statements = {}, collections.defaultdict(collections.Counter)
    for s in within:
        for pid, node in s["nodes"].items():
            for port in node["ports"]:
                node_of_port[port] = pid
        for pid, _, _, statement, _ in s["pg"]:
            statements[pid][statement] += 1
    nodes = sorted(set(first["nodes"]) & set(last["nodes"]))
    label = lambda pid: f"node {nodes.index(pid) + 1}" if pid in nodes else "-"
    spent = collections.Counter()
    before = {b[0]: b for b in first["pg"]}
    for pid, port, backend_type, _, t in last["pg"]:
        if pid in before and t is not None and before[pid][4] is not None:
            spent[f"PostgreSQL ({label(node_of_port.get(port))}): {role(statements[pid], backend_type)}"] += t - before[pid][4]
    for pid in nodes:
        earlier = first["nodes"][pid]["threads"]
        for tid, (name, t) in last["nodes"][pid]["threads"].items():
            if tid in earlier and t is not None and earlier[tid][1] is not None:
                spent[f"{label(pid)}: {name.rstrip('0123456789-')}"] += t - earlier[tid][1]
    for pid, t in last["load"].items():
        if t is not None and first["load"].get(pid) is not None:
            spent["load generator (benchsuite)"] += t - first["load"][pid]
    span = last["t"] - first["t"]
    per_thousand = lambda t: t / (rate * span / 1000)
    busy = sum(last["cpu"]) - sum(first["cpu"])
    idle = last["cpu"][3] + last["cpu"][4] - first["cpu"][3] - first["cpu"][4]
    print(f"{run}: {rate:.0f} req/s; {span:.0f} s; CPU ticks (1/100 s) per 1,000 requests")
    for name, t in sorted(spent.items(), key=lambda kv: -kv[1]):
        if t > 0:
            print(f"  {name:70s} {per_thousand(t):6.2f}")
    print(f"  {'every process (/proc/stat), idle apart':70s} {per_thousand(busy - idle):6.2f}  idle {per_thousand(idle):.2f}")


if __name__ == "__main__":
    match sys.argv[1:]:
        case ["sample", path]:
            sample(path)
        case ["stamp"]:
            stamp()
        case ["report", samples, log, run, seconds]:
            report(samples, log, run, float(seconds))
        case _:
            sys.exit(__doc__)
