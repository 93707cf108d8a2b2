#!/usr/bin/env python3
"""CPU time the BPF programs of one process spent, from the kernel's own counters (run_time_ns, run_cnt).

  bpf-prog-cost.py hold [--until-eof]   enable BPF run-time stats (BPF_ENABLE_STATS: refcounted, released
                                        when this process exits, so it never switches off someone else's)
                                        and sleep until SIGTERM (or, with --until-eof, until stdin closes:
                                        a parent that dies cannot leave the stats on)
  bpf-prog-cost.py snapshot PID         JSON {prog_id: {name, run_time_ns, run_cnt}} for every BPF program PID
                                        holds a file descriptor of
  bpf-prog-cost.py diff BEFORE AFTER    JSON {run_time_ns, run_cnt, programs: {...}} between two snapshots

These counters do not move with the load on the machine, unlike latency percentiles, so they give the
probe's cost per request even on a busy machine.
"""
import ctypes
import json
import os
import signal
import subprocess
import sys
import time

SYS_BPF = 321  # x86_64
BPF_ENABLE_STATS = 32
BPF_STATS_RUN_TIME = 0


def hold(until_eof=False):
    libc = ctypes.CDLL(None, use_errno=True)
    attr = (ctypes.c_uint8 * 16)()
    ctypes.c_uint32.from_buffer(attr, 0).value = BPF_STATS_RUN_TIME
    fd = libc.syscall(SYS_BPF, BPF_ENABLE_STATS, ctypes.byref(attr), ctypes.sizeof(attr))
    if fd < 0:
        sys.stderr.write(f"bpf-prog-cost: BPF_ENABLE_STATS failed: {os.strerror(ctypes.get_errno())}\n")
        sys.exit(1)
    print("holding", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if until_eof:
        sys.stdin.read()
        sys.exit(0)
    while True:
        time.sleep(3600)


def prog_ids(pid):
    ids = set()
    fd_dir = f"/proc/{pid}/fdinfo"
    for fd in os.listdir(fd_dir):
        try:
            with open(os.path.join(fd_dir, fd)) as f:
                for line in f:
                    if line.startswith("prog_id:"):
                        ids.add(int(line.split()[1]))
        except OSError:
            pass
    return sorted(ids)


def snapshot(pid):
    out = {}
    for pid_ in prog_ids(pid):
        r = subprocess.run(["bpftool", "-j", "prog", "show", "id", str(pid_)], capture_output=True, text=True)
        if r.returncode != 0:
            continue
        p = json.loads(r.stdout)
        out[str(pid_)] = {"name": p.get("name", "?"), "run_time_ns": p.get("run_time_ns", 0), "run_cnt": p.get("run_cnt", 0)}
    return out


def diff(before, after):
    progs = {}
    for k, a in after.items():
        b = before.get(k, {"run_time_ns": 0, "run_cnt": 0})
        progs[a["name"]] = {"run_time_ns": a["run_time_ns"] - b["run_time_ns"], "run_cnt": a["run_cnt"] - b["run_cnt"]}
    return {"run_time_ns": sum(p["run_time_ns"] for p in progs.values()),
            "run_cnt": sum(p["run_cnt"] for p in progs.values()), "programs": progs}


if __name__ == "__main__":
    if sys.argv[1:2] == ["hold"]:
        hold(until_eof="--until-eof" in sys.argv[2:])
    elif sys.argv[1:2] == ["snapshot"]:
        print(json.dumps(snapshot(int(sys.argv[2]))))
    elif sys.argv[1:2] == ["diff"]:
        with open(sys.argv[2]) as f1, open(sys.argv[3]) as f2:
            print(json.dumps(diff(json.load(f1), json.load(f2))))
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)
