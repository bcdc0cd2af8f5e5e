"""Protocol-test harness: starts real actingwebd processes on free loopback ports and talks HTTP to them.

Every test module imports this. The daemon binary comes from $AWD_BIN (set by CTest; the ASan build's
binary when the suite runs under sanitizers). A daemon that prints a sanitizer report, or does not exit 0
on SIGTERM, fails the test that stops it.
"""
import base64
import fcntl
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

AWD_BIN = os.environ.get("AWD_BIN") or os.path.join(os.path.dirname(__file__), "..", "..", "build", "actingwebd")
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "SUMMARY: UndefinedBehaviorSanitizer")


_port_locks = []  # fds of the port locks this process holds (released when it exits)


def free_port():
    """A loopback port for a daemon. The daemons bind with SO_REUSEPORT, so two test processes that were handed
    the same port (a port from bind(0) is free again once closed) would share its connections: one daemon's
    actors would answer 404 on the other's. So the port is locked for this process's life (an flock on
    /tmp/awtest-port-N.lock), and taken outside the kernel's ephemeral range, where no client socket holds it."""
    lo, hi = 20000, 32000
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            eph_lo = int(f.read().split()[0])
        hi = min(hi, eph_lo)
    except (OSError, ValueError, IndexError):
        pass
    rnd = random.Random(os.getpid() * 1000003 + time.monotonic_ns())
    for _ in range(2000):
        port = rnd.randrange(lo, hi)
        fd = os.open("/tmp/awtest-port-%d.lock" % port, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            os.close(fd)  # in use by something else: the lock goes with the fd
            continue
        finally:
            s.close()
        _port_locks.append(fd)
        return port
    raise RuntimeError("no free loopback port in %d..%d" % (lo, hi))


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # dict, lower-case names
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return "<Response %d %r>" % (self.status, self.body[:200])


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def request(port, method, path, body=None, json_body=None, headers=None, auth=None, bearer=None, timeout=30,
            host="127.0.0.1"):
    """One HTTP request on a fresh connection. `path` is sent verbatim (no normalisation)."""
    hdrs = dict(headers or {})
    data = body
    if json_body is not None:
        data = json.dumps(json_body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    if isinstance(data, str):
        data = data.encode()
    if auth is not None:
        hdrs["Authorization"] = basic(*auth)
    if bearer is not None:
        hdrs["Authorization"] = "Bearer " + bearer
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in hdrs.items():
            conn.putheader(k, v)
        if data is not None:
            conn.putheader("Content-Length", str(len(data)))
        conn.endheaders()
        if data is not None:
            conn.send(data)
        r = conn.getresponse()
        resp = Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()
    return resp


class Daemon:
    """One actingwebd process with its own data directory."""

    def __init__(self, *extra, devtest=True, shards=1, data=None, env=None, wrap=None, binary=None):
        self.port = free_port()
        self.own_data = data is None
        self.data = data or tempfile.mkdtemp(prefix="awtest-")
        self.extra = list(extra)
        self.devtest = devtest
        self.shards = shards
        self.env = env
        self.wrap = list(wrap or [])  # a command prefix, e.g. valgrind (benchmarks)
        self.binary = binary  # another actingwebd than $AWD_BIN (benchmarks comparing builds)
        self.proc = None
        self.log_path = os.path.join(self.data, "daemon.log")
        self.base = "http://127.0.0.1:%d" % self.port

    def start(self):
        args = self.wrap + [self.binary or AWD_BIN, "--host", "127.0.0.1", "--port", str(self.port), "--data", self.data,
                "--shards", str(self.shards), "--log-level", "warn"] + self.extra
        if self.devtest:
            args.append("--devtest")
        env = dict(os.environ)
        env.update(self.env or {})
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log, env=env)
        deadline = time.time() + (120 if self.wrap else 20)
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("actingwebd exited at start: %s" % self.read_log())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("actingwebd did not listen on %d" % self.port)

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, check=True):
        """SIGTERM, wait, and check the exit status and the log for sanitizer reports."""
        if not self.proc:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = "hang"
        self.proc = None
        self.log.close()
        log = self.read_log()
        if check:
            for m in SANITIZER_MARKERS:
                if m in log:
                    raise AssertionError("sanitizer report from actingwebd:\n" + log[-6000:])
            if rc != 0:
                raise AssertionError("actingwebd exited with %r on SIGTERM:\n%s" % (rc, log[-4000:]))

    def pause(self, timeout=10):
        """SIGSTOP, then wait until every thread of the daemon has stopped. kill() only queues the stop: one
        thread takes it and then stops the others, and until that thread gets a CPU (late, on a loaded
        machine) the daemon's loops go on answering requests."""
        os.kill(self.proc.pid, signal.SIGSTOP)
        deadline = time.monotonic() + timeout
        task_dir = "/proc/%d/task" % self.proc.pid
        while True:
            states = []
            for tid in os.listdir(task_dir):
                try:
                    with open("%s/%s/stat" % (task_dir, tid)) as f:
                        states.append(f.read().rsplit(")", 1)[1].split()[0])
                except OSError:
                    pass  # a thread that just exited
            if states and all(st in ("T", "t") for st in states):
                return
            if time.monotonic() > deadline:
                raise AssertionError("actingwebd did not stop on SIGSTOP: thread states %r" % states)
            time.sleep(0.001)

    def resume(self):
        os.kill(self.proc.pid, signal.SIGCONT)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None
        self.log.close()

    def cleanup(self):
        if self.proc:
            self.stop(check=False)
        if self.own_data and not os.environ.get("AWTEST_KEEP"):  # AWTEST_KEEP=1 keeps data and logs
            shutil.rmtree(self.data, ignore_errors=True)

    # --- HTTP helpers -------------------------------------------------------------------
    def req(self, method, path, **kw):
        return request(self.port, method, path, **kw)

    def create_actor(self, creator="creator", passphrase=None, **extra):
        body = {"creator": creator}
        if passphrase is not None:
            body["passphrase"] = passphrase
        body.update(extra)
        r = self.req("POST", "/", json_body=body)
        assert r.status == 201, r
        a = r.json()
        return Actor(self, a["id"], a["creator"], a["passphrase"], r.header("Location"))


class Actor:
    def __init__(self, daemon, id, creator, passphrase, url):
        self.daemon = daemon
        self.id = id
        self.creator = creator
        self.passphrase = passphrase
        self.url = url
        self.path = "/" + id

    @property
    def auth(self):
        return (self.creator, self.passphrase)

    def req(self, method, sub="", **kw):
        """Request below the actor root as its creator unless auth/bearer/noauth given."""
        if kw.pop("noauth", False):
            pass
        elif "auth" not in kw and "bearer" not in kw and "Authorization" not in (kw.get("headers") or {}):
            kw["auth"] = self.auth
        return self.daemon.req(method, self.path + sub, **kw)


class DaemonTest(unittest.TestCase):
    """A test class with one daemon for all its tests (override `daemon_args`)."""
    daemon_args = ()
    daemon_kwargs = {}

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(*cls.daemon_args, **cls.daemon_kwargs).start()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.d.stop()
        finally:
            cls.d.cleanup()

    def assertStatus(self, resp, status, msg=None):
        self.assertEqual(resp.status, status, msg or resp)

    def assertJsonError(self, resp, status):
        self.assertStatus(resp, status)
        self.assertTrue(resp.header("content-type", ).startswith("application/json"), resp.headers)
        body = resp.json()
        self.assertEqual(body["error"]["code"], status)
        self.assertIsInstance(body["error"]["message"], str)


def stop_all(daemons):
    """Stop (with the sanitizer and exit-status checks) and clean up every daemon, resuming one a test left
    SIGSTOPped; then raise the first failure."""
    errors = []
    for d in daemons:
        try:
            if d.proc:
                try:
                    d.resume()
                except OSError:
                    pass
            d.stop()
        except AssertionError as e:
            errors.append(e)
        finally:
            d.cleanup()
    if errors:
        raise errors[0]


class PubSubTest(unittest.TestCase):
    """A publisher daemon (cls.pub) and a subscriber daemon (cls.sub) shared by all tests of the class."""

    @classmethod
    def setUpClass(cls):
        cls.pub = Daemon().start()
        cls.sub = Daemon().start()

    @classmethod
    def tearDownClass(cls):
        stop_all((cls.pub, cls.sub))


class MultiDaemonTest(unittest.TestCase):
    """Tests that start daemons of their own (self.daemon(...)) and fake peers (appended to self.fakes, each
    with close()). Teardown closes the fakes, resumes a daemon a test left SIGSTOPped, stops each daemon (the
    sanitizer and exit-status checks) and removes its data, then raises the first failure."""

    def setUp(self):
        self.daemons = []
        self.fakes = []

    def daemon(self, *args, **kw):
        d = Daemon(*args, **kw).start()
        self.daemons.append(d)
        return d

    def tearDown(self):
        for f in self.fakes:
            f.close()
        stop_all(self.daemons)


def main():
    unittest.main(verbosity=2)
