#!/usr/bin/env python3
"""Subscription fan-out benchmark (clarifications #4, benchmark layout).

One publisher actor on one daemon; N subscriber actors (default 1,000) spread over two subscriber daemons,
each with a friend trust to the publisher and a high-granularity subscription to its `properties`.

  (a) throughput: a burst of B property changes (default 20) -> N*B callbacks; callbacks/s measured from
      the first PUT until every subscriber mirror has reached the burst's last sequence;
  (b) latency: one change; per subscriber, the time from the PUT until its mirror's sequence is committed;
  (c) the publisher's peak RSS (VmHWM).

Receipt is observed on the subscriber side: a read-only SQLite poller on each subscriber daemon's database
(`subscriptions.sequence` of the mirror rows, callback=1) polls every POLL_MS; a mirror's sequence is
committed in the same transaction that applies the callback's data, so the receipt time is the commit time
(+ at most one poll interval + one query). Nothing in the daemons is instrumented.

Environment: AWD_BIN (daemon binary), N, BURST, BURSTS (repeat (a) this often, 3 s apart, and print the median;
default 1; later bursts create new properties, so every subscriber's remote store grows by BURST rows per burst;
SAME_NAMES=1 makes them update the first burst's properties instead), SHARDS (per subscriber daemon, default 1), PUB_SHARDS (publisher; default 2: actingwebd's own default of one
loop per core on this 2-core machine; its shards are linked, so all of them deliver), CONC (--delivery-concurrency, per shard, default 512),
PER_ORIGIN (--peer-per-origin), POLL_MS ((b), default 2), POLL_MS_A ((a), default 5), SETUP_THREADS, TRACE=1 (print (a)'s progress over time), PUB_ARGS (more publisher flags), SUB_ARGS (more subscriber daemon flags), PERF=1 (perf record --call-graph dwarf (PERF_CG) at 999 Hz (PERF_FREQ) the publisher, or with
PERF_WHO=sub the first subscriber daemon, PERF_WHO=all every process, during (a), into /tmp/aw-sub-bench.perf.data), SUB2_BIN (another build for the second subscriber daemon: an A/B
of the subscriber side within one run), CALLGRIND=pub|sub (run the
publisher, or the first subscriber daemon, under valgrind --tool=callgrind and collect only during (a), into
/tmp/aw-sub-bench.cg.<pid>: exact instruction counts per callback, immune to the VM's speed changes).
"""
import concurrent.futures
import os
import sqlite3
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "protocol"))
os.environ.setdefault("AWD_BIN", os.path.join(HERE, "..", "build", "actingwebd"))
import awtest  # noqa: E402

N = int(os.environ.get("N", "1000"))
BURST = int(os.environ.get("BURST", "20"))
BURSTS = max(1, int(os.environ.get("BURSTS", "1")))  # more bursts of BURST changes, 3 s apart; prints the median
SHARDS = int(os.environ.get("SHARDS", "1"))
# Two publisher loops (linked shards, aw_app_link_shards) against one with the same build, alternated, 4 pairs of
# BURSTS=5 at 03:04-03:07 UTC (ninth session): medians 21.1/20.7/18.0/18.4 k against 19.6/18.5/20.1/17.8 k
# callbacks/s. Unlinked (before), the second loop found the work a second late and delivered almost nothing.
PUB_SHARDS = int(os.environ.get("PUB_SHARDS", "2"))
# In flight, per publisher shard: 128 callbacks, at most 64 per subscriber daemon (the daemon's default
# --peer-per-origin). With one publisher loop (up to the eighth session) 512 in flight beat 256. With two linked
# loops, fewer connections win: a connection that carries its next callback within the 40 ms delayed-ACK timer
# acknowledges the last answer in that request, not in a segment of its own. Ninth session, BURSTS=5, alternated
# (03:25-03:33 UTC): 512 per origin gave 2.57 TCP segments per callback, 128 gave 2.15; medians 512/512 against
# 512/128 19.8/17.1/20.1 k against 20.5/20.3/20.0 k; 64/64 21.4/18.4 k; 128/64 20.7/20.5 k with the least CPU
# (publisher 0.82-0.89 s, subscribers 0.83-0.90 s per burst, against 0.96-1.12 s and 0.90-1.05 s at 512/512).
CONC = os.environ.get("CONC", "128")
PER_ORIGIN = os.environ.get("PER_ORIGIN", "64")
POLL_MS = float(os.environ.get("POLL_MS", "2"))  # (b) latency
# (a) throughput: the end of a 1-2 s burst needs no 2 ms resolution, and polling less leaves the daemons the
# CPU this harness would take from them (about 8 % of one core at 2 ms).
POLL_MS_A = float(os.environ.get("POLL_MS_A", "5"))
SETUP_THREADS = int(os.environ.get("SETUP_THREADS", "32"))
PERF = os.environ.get("PERF") == "1"
TRACE = os.environ.get("TRACE") == "1"


def log(*a):
    print(*a, flush=True)


def vm(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


class Poller:
    """Read-only view of the mirror sequences on the subscriber daemons."""

    def __init__(self, daemons, pub_id):
        self.conns = [sqlite3.connect("file:%s?mode=ro" % os.path.join(d.data, "actingweb.db"), uri=True,
                                      timeout=30, check_same_thread=False) for d in daemons]
        self.pub_id = pub_id
        self.trace = []

    def reached(self, seq):
        out = []
        for c in self.conns:
            out += [r[0] for r in c.execute("SELECT actor FROM subscriptions WHERE callback=1 AND peerid=? AND "
                                            "sequence>=?", (self.pub_id, seq))]
        return out

    def count(self, seq):
        """How many mirrors reached seq: one row per database, so a poll costs this harness little CPU."""
        return sum(c.execute("SELECT count(*) FROM subscriptions WHERE callback=1 AND peerid=? AND sequence>=?",
                             (self.pub_id, seq)).fetchone()[0] for c in self.conns)

    def done(self, seq):
        """True when no mirror is below seq. Stops at the first mirror still short, which during a burst is
        the first row it reads: a poll costs this harness (and the two cores it shares with the daemons)
        ~20 us instead of the ~250 us of counting every mirror (0.06-0.08 s of CPU per 20,000-callback burst,
        against ~0.02 s now), with the same resolution at the end."""
        return not any(c.execute("SELECT 1 FROM subscriptions WHERE callback=1 AND peerid=? AND sequence<? LIMIT 1",
                                 (self.pub_id, seq)).fetchone() for c in self.conns)

    def total(self):
        """Callbacks applied so far: the sum of the mirrors' sequence numbers."""
        return sum(c.execute("SELECT coalesce(sum(sequence),0) FROM subscriptions WHERE callback=1 AND peerid=?", (self.pub_id,)).fetchone()[0] for c in self.conns)

    def wait_all(self, seq, n, timeout=600 if os.environ.get("CALLGRIND") else 120, per_actor=None, poll_ms=None):
        """Poll until n mirrors reached seq; records first-seen times in per_actor. Returns end time."""
        deadline = time.time() + timeout
        cheap = per_actor is None and not TRACE and self.count(0) >= n  # every mirror exists: done() suffices
        while True:
            now = time.time()
            if per_actor is not None:
                got = self.reached(seq)
                for a in got:
                    per_actor.setdefault(a, now)
                reached = len(got)
            elif not cheap:
                reached = self.count(seq)
            else:
                reached = n if self.done(seq) else -1  # counted only when it times out
            if TRACE and per_actor is None:
                self.trace.append((now, self.total(), reached))
            if reached >= n:
                return now
            if now > deadline:
                reached = self.count(seq)
                raise RuntimeError("only %d/%d mirrors reached sequence %d" % (reached, n, seq))
            time.sleep((poll_ms or POLL_MS) / 1000.0)


def wakeups(pid):
    """Voluntary context switches of all the threads of a process (each one a sleep, and then a wake-up)."""
    n = 0
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, t)) as f:
                n += sum(int(l.split()[1]) for l in f if l.startswith("voluntary_ctxt_switches:"))
        except OSError:
            pass
    return n


def minflt(pid):
    """Minor page faults of a process so far."""
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[7])


def cpu_s(pid):
    """utime + stime of a process in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / float(os.sysconf("SC_CLK_TCK"))


def thread_cpu_s(pid):
    """{tid: utime + stime} of a process's threads, in seconds."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out[int(tid)] = (int(fields[11]) + int(fields[12])) / float(os.sysconf("SC_CLK_TCK"))
        except OSError:
            pass
    return out


def tcp_out(field="OutSegs"):
    """A Tcp counter from /proc/net/snmp (all processes; loopback only here): OutSegs, ActiveOpens, ..."""
    with open("/proc/net/snmp") as f:
        rows = [l.split() for l in f if l.startswith("Tcp:")]
    return int(rows[1][rows[0].index(field)])


def cpu_all():
    """Machine-wide CPU seconds from /proc/stat: (busy, idle, steal). busy counts every process and the kernel's
    own threads (writeback, softirq); steal is time the hypervisor gave this VM's CPUs to someone else."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    hz = os.sysconf("SC_CLK_TCK")
    user, nice, system, idle, iowait, irq, softirq, steal = v[:8]
    return (user + nice + system + irq + softirq) / hz, (idle + iowait) / hz, steal / hz


def ipis():
    """Machine-wide inter-processor interrupts from /proc/interrupts: (rescheduling, function call). In a VM
    each one is a VM exit on the sending and the receiving CPU."""
    out = {}
    with open("/proc/interrupts") as f:
        for line in f:
            p = line.split()
            if p and p[0] in ("RES:", "CAL:"):
                out[p[0]] = sum(int(x) for x in p[1:] if x.isdigit())
    return out.get("RES:", 0), out.get("CAL:", 0)


def io(pid):
    """/proc/<pid>/io counters: read/write syscalls and bytes."""
    out = {}
    with open("/proc/%d/io" % pid) as f:
        for line in f:
            k, v = line.split(":")
            out[k] = int(v)
    return out


def pct(xs, p):
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * len(xs) + 0.5)) - 1))
    return xs[k]


def machine():
    """One line from build/bench/machine: this VM's speed right now (system call, arithmetic, memory, loopback
    TCP, and per CPU arithmetic and a JSON round), to tell the VM's slow minutes from a slower build
    (docs/benchmarks.md)."""
    exe = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "bench", "machine")
    try:
        return subprocess.run([exe], stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as e:
        return "machine: %s" % e


def main():
    log(machine())
    common = ["--auto-accept", "--default-relationship", "friend"]
    pub_args = common + ["--delivery-concurrency", CONC, "--peer-per-origin", PER_ORIGIN,
                         "--peer-max-outbound", str(max(int(CONC), int(PER_ORIGIN)) * 2)] + \
        os.environ.get("PUB_ARGS", "").split()
    cg = os.environ.get("CALLGRIND")
    wrap = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--callgrind-out-file=/tmp/aw-sub-bench.cg.%p"]
    pub = awtest.Daemon(*pub_args, devtest=False, shards=PUB_SHARDS, wrap=wrap if cg == "pub" else None)
    sub_args = common + os.environ.get("SUB_ARGS", "").split()
    subs = [awtest.Daemon(*sub_args, devtest=True, shards=SHARDS, wrap=wrap if cg == "sub" else None)]
    # SUB2_BIN: another actingwebd build as the second subscriber daemon. Both get the same load in the same
    # run, so their CPU times compare two builds without the VM's drift between runs.
    subs.append(awtest.Daemon(*sub_args, devtest=True, shards=SHARDS, binary=os.environ.get("SUB2_BIN")))
    log("bench/subscriptions: N=%d burst=%d shards: publisher %d, subscriber daemons %d each; cores=%d"
        % (N, BURST, PUB_SHARDS, SHARDS, os.cpu_count()))
    log("publisher flags: %s" % " ".join(pub_args))
    try:
        pub.start()
        for d in subs:
            d.start()
        b = pub.create_actor("publisher", "pw")
        t = time.time()

        def setup(i):
            d = subs[i % 2]
            a = d.create_actor("sub%d" % i, "pw")
            r = a.req("POST", "/trust", json_body={"url": b.url, "relationship": "friend"})
            if r.status != 201:
                raise RuntimeError("trust: %r" % r)
            r = a.req("POST", "/subscriptions", json_body={"peerid": b.id, "target": "properties",
                                                           "granularity": "high"})
            if r.status != 204:
                raise RuntimeError("subscribe: %r" % r)
            return a

        with concurrent.futures.ThreadPoolExecutor(SETUP_THREADS) as ex:
            actors = list(ex.map(setup, range(N)))
        log("setup: %d trusts + subscriptions in %.1f s" % (len(actors), time.time() - t))
        poll = Poller(subs, b.id)
        if len(poll.reached(0)) != N:
            raise RuntimeError("expected %d mirrors, found %d" % (N, len(poll.reached(0))))
        time.sleep(3)  # let the baseline acks settle

        # (a) throughput
        perf = None
        if PERF:
            ev = os.environ.get("PERF_EVENT")  # e.g. syscalls:sys_enter_fcntl (default: CPU samples at 999 Hz)
            perf = subprocess.Popen(["perf", "record", "--call-graph", os.environ.get("PERF_CG", "dwarf")] +
                                    (["-e", ev] if ev else ["-F", os.environ.get("PERF_FREQ", "999")]) + ["-o", "/tmp/aw-sub-bench.perf.data",
                                     ] + (["-a"] if os.environ.get("PERF_WHO") == "all" else
                                     ["-p", str((subs[0] if os.environ.get("PERF_WHO") == "sub" else pub).proc.pid)]),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
        strace = None
        if os.environ.get("STRACE"):  # STRACE=pub|sub: syscall summary (perf trace -s) during (a)
            who = subs[0] if os.environ.get("STRACE") == "sub" else pub
            strace = subprocess.Popen(["perf", "trace", "-s", "-o", "/tmp/aw-sub-bench.strace", "-p", str(who.proc.pid)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
        daemons = [pub] + subs
        cg_pid = str((pub if cg == "pub" else subs[0]).proc.pid)
        if cg:
            subprocess.run(["callgrind_control", "-i", "on", cg_pid], stdout=subprocess.DEVNULL, check=True)
        cpu0 = [cpu_s(d.proc.pid) for d in daemons]
        sw0 = [wakeups(d.proc.pid) for d in daemons]
        pf0 = [minflt(d.proc.pid) for d in daemons]
        th0 = thread_cpu_s(pub.proc.pid)
        io0 = io(pub.proc.pid)
        sio0 = [io(d.proc.pid) for d in subs]
        seg0 = tcp_out()
        all0 = cpu_all()
        ipi0 = ipis()
        opens0 = tcp_out("ActiveOpens")
        me0 = sum(os.times()[:2])
        def burst(k):
            """Burst k (0-based): BURST PUTs of new properties, then wait for every mirror to have them all."""
            t0 = time.time()
            for i in range(BURST):
                name = "burst%d" % i if k == 0 or os.environ.get("SAME_NAMES") else "burst%d_%d" % (k, i)
                r = b.req("PUT", "/properties/" + name, body="value-%d" % i)
                assert r.status == 204, r
            t_put = time.time()
            return t0, t_put, poll.wait_all(BURST * (k + 1), N, poll_ms=POLL_MS_A)

        t0, t_put, t1 = burst(0)
        if cg:
            subprocess.run(["callgrind_control", "-i", "off", cg_pid], stdout=subprocess.DEVNULL, check=True)
        if perf:
            perf.send_signal(2)
            perf.wait()
        if strace:
            strace.send_signal(2)
            strace.wait()
        total = N * BURST
        cpu = [cpu_s(d.proc.pid) - c for d, c in zip(daemons, cpu0)]
        sw = [wakeups(d.proc.pid) - c for d, c in zip(daemons, sw0)]
        pf = [minflt(d.proc.pid) - c for d, c in zip(daemons, pf0)]
        log("(a) throughput: %d callbacks in %.3f s (PUTs took %.3f s) -> %.0f callbacks/s (receipt polled every %g ms)"
            % (total, t1 - t0, t_put - t0, total / (t1 - t0), POLL_MS_A))
        log("    CPU during (a): publisher %.2f s, subscriber daemons %.2f s + %.2f s, this poller %.2f s "
            "(wall %.2f s, %d cores, load average %.1f)"
            % (cpu[0], cpu[1], cpu[2], sum(os.times()[:2]) - me0, t1 - t0, os.cpu_count(), os.getloadavg()[0]))
        all1 = cpu_all()
        ipi1 = ipis()
        log("    machine during (a): %.2f s busy (every process and kernel thread), %.2f s idle, %.2f s stolen by the "
            "hypervisor" % tuple(b - a for a, b in zip(all0, all1)))
        log("    inter-processor interrupts during (a): %.2f rescheduling + %.2f function call per callback"
            % tuple((b - a) / float(total) for a, b in zip(ipi0, ipi1)))
        log("    sleeps (voluntary context switches) during (a): publisher %d, subscriber daemons %d + %d; minor page "
            "faults: %d, %d + %d" % tuple(sw[:3] + pf[:3]))
        th1 = thread_cpu_s(pub.proc.pid)
        loops = sorted(((v - th0.get(k, 0.0), k) for k, v in th1.items()), reverse=True)
        log("    publisher threads during (a): %s s (busiest first; shards are event loops, the rest storage "
            "and checkpoint threads)" % " + ".join("%.2f" % v for v, _ in loops if v >= 0.005))
        io1 = io(pub.proc.pid)
        log("    TCP segments sent during (a), all processes: %.2f per callback; %d new connections"
            % ((tcp_out() - seg0) / float(N * BURST), tcp_out("ActiveOpens") - opens0))
        log("    publisher I/O during (a): %d read calls (%.1f MB), %d write calls (%.1f MB) incl. sockets"
            % (io1["syscr"] - io0["syscr"], (io1["rchar"] - io0["rchar"]) / 1e6, io1["syscw"] - io0["syscw"],
               (io1["wchar"] - io0["wchar"]) / 1e6))
        sio1 = [io(d.proc.pid) for d in subs]
        log("    subscriber daemons' writes during (a): %s incl. sockets"
            % " + ".join("%d calls (%.1f MB)" % (b["syscw"] - a["syscw"], (b["wchar"] - a["wchar"]) / 1e6)
                         for a, b in zip(sio0, sio1)))
        # Honesty check: every mirror got there by callbacks (no failed/given-up deliveries, no pull syncs).
        warn = [sum(1 for line in d.read_log().splitlines() if "delivery:" in line or "subscriber:" in line)
                for d in daemons]
        log("    delivery/subscriber warnings in the logs: publisher %d, subscribers %d + %d" % tuple(warn))
        if TRACE:  # delivery progress after the last PUT: flat stretches are stalls
            log("    progress (ms since the first PUT: callbacks applied, mirrors done); the PUTs ended at %.0f ms"
                % ((t_put - t0) * 1000))
            step = max(1, len(poll.trace) // 30)
            log("     " + "  ".join("%.0f: %d, %d" % ((tt - t0) * 1000, tot, got) for tt, tot, got in poll.trace[::step]))
        rates = [total / (t1 - t0)]
        for k in range(1, BURSTS):
            time.sleep(3)
            c0 = [cpu_s(d.proc.pid) for d in daemons]
            o0 = tcp_out("ActiveOpens")
            bt0, bput, bt1 = burst(k)
            rates.append(total / (bt1 - bt0))
            c1 = [cpu_s(d.proc.pid) - c for d, c in zip(daemons, c0)]
            log("(a) burst %d: %.0f callbacks/s (PUTs took %.3f s; CPU publisher %.2f s, subscribers %.2f + %.2f s; "
                "%d new TCP connections)" % (k + 1, rates[-1], bput - bt0, c1[0], c1[1], c1[2],
                                             tcp_out("ActiveOpens") - o0))
        if BURSTS > 1:
            rs = sorted(rates)
            log("(a) %d bursts: median %.0f callbacks/s (min %.0f, max %.0f)" % (BURSTS, rs[len(rs) // 2], rs[0], rs[-1]))
        time.sleep(3)

        # (b) latency of one change
        seen = {}
        t0 = time.time()
        r = b.req("PUT", "/properties/single", body="one-change")
        t_ans = time.time()
        assert r.status == 204, r
        poll.wait_all(BURST * BURSTS + 1, N, per_actor=seen)
        lat = [(v - t0) * 1000.0 for v in seen.values()]
        log("(b) latency PUT->receipt over %d subscribers: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms "
            "(poll interval %.0f ms; the PUT itself answered after %.1f ms)"
            % (len(lat), pct(lat, 50), pct(lat, 90), pct(lat, 99), max(lat), POLL_MS, (t_ans - t0) * 1000.0))

        # (c) memory
        log("(c) publisher VmHWM %.1f MB (VmRSS now %.1f MB)" % (vm(pub.proc.pid, "VmHWM") / 1024.0,
                                                                 vm(pub.proc.pid, "VmRSS") / 1024.0))
        for i, d in enumerate(subs):
            log("    subscriber daemon %d VmHWM %.1f MB" % (i + 1, vm(d.proc.pid, "VmHWM") / 1024.0))
        log(machine())
    finally:
        for d in [pub] + subs:
            try:
                d.stop(check=False)
            finally:
                d.cleanup()


if __name__ == "__main__":
    main()
