#!/usr/bin/env python3
"""cpu-per-message.py: CPU time per delivered message of one `ims bench` run, per process.

    scripts/cpu-per-message.py BIN QUEUE N [more ims bench flags]     # QUEUE: db or rabbitmq
    DB=sqlite scripts/cpu-per-message.py BIN db N

Runs `BIN bench -db $DB -queue QUEUE -n N -create bulk -json -quiet` and samples, every 0.2 s, the CPU time
(user + system, /proc/PID/stat) of: IMS (`BIN serve`), the bench process with its sink, the PostgreSQL backends
serving those two (matched by client port with `ss`, so other engineers' backends are not counted; the
server's shared processes, walwriter and checkpointer, are not counted either) and the RabbitMQ broker
(beam.smp, which anything else using the broker also loads). It prints microseconds of CPU per delivered
message, create phase included. On a machine whose cores are all busy (the 2-core development machine under
the benchmark) the sum bounds the throughput at cores / sum, whatever else runs, which makes it a measure of
work that the load of the machine changes far less than it changes delivered/s.
"""
import json
import os
import re
import subprocess
import sys
import time

binp, queue, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
extra = sys.argv[4:]
tck = os.sysconf('SC_CLK_TCK')
name = os.path.basename(binp)[:15]  # ss shows the 15-character comm


def our_ports():
    """Local ports of the connections IMS and the bench hold to PostgreSQL."""
    out = subprocess.run(['ss', '-tnpH', 'dport = :5432'], capture_output=True, text=True).stdout
    ports = set()
    for line in out.splitlines():
        if f'"{name}"' in line:
            m = re.search(r'\s\S+:(\d+)\s+\S+:5432', line)
            if m:
                ports.add(m.group(1))
    return ports


def snapshot():
    """(pid, start time) -> (kind, CPU seconds) for the processes counted."""
    ports, out = our_ports(), {}
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            stat = open(f'/proc/{pid}/stat').read()
            cmd = open(f'/proc/{pid}/cmdline').read().replace('\0', ' ')
        except OSError:
            continue
        comm = stat[stat.index('(') + 1:stat.rindex(')')]
        fields = stat[stat.rindex(')') + 2:].split()
        cpu = (int(fields[11]) + int(fields[12])) / tck
        if comm.startswith('postgres'):
            m = re.search(r'\((\d+)\)', cmd)
            if not m or m.group(1) not in ports:
                continue
            kind = 'postgres'
        elif comm.startswith('beam'):
            kind = 'rabbitmq'
        elif cmd.startswith(binp + ' serve'):
            kind = 'ims'
        elif cmd.startswith(binp + ' bench'):
            kind = 'bench+sink'
        else:
            continue
        out[(pid, fields[19])] = (kind, cpu)
    return out


before = snapshot()
load = open('/proc/loadavg').read().split()[0]
run = subprocess.Popen([binp, 'bench', '-db', os.environ.get('DB', 'postgres'), '-queue', queue, '-n', str(n),
                        '-create', 'bulk', '-json', '-quiet'] + extra, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
last = {}
while run.poll() is None:
    last.update(snapshot())  # a backend that exits keeps its last reading
    time.sleep(0.2)
res = json.loads(run.stdout.read())
per = {}
for key, (kind, cpu) in last.items():
    per[kind] = per.get(kind, 0.0) + cpu - before.get(key, (kind, 0.0))[1]
d = res['delivered']
print(json.dumps({
    'db': os.environ.get('DB', 'postgres'), 'queue': queue, 'bin': binp, 'load': float(load),
    'delivered_per_sec': round(res['delivered_per_sec']), 'lost': res['lost'], 'duplicates': res['duplicates'],
    'cpu_us_per_msg': {k: round(v / d * 1e6, 1) for k, v in sorted(per.items())},
    'total_us_per_msg': round(sum(per.values()) / d * 1e6, 1),
}))
