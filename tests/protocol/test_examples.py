"""The examples in examples/ (built into $AW_BUILD_DIR/examples), run against real actingwebd daemons."""
import http.client
import http.server
import json
import os
import signal
import socket
import subprocess
import threading
import time
import unittest

import awtest

BUILD = os.environ.get("AW_BUILD_DIR") or os.path.join(os.path.dirname(__file__), "..", "..", "build")
EXAMPLES = os.path.join(BUILD, "examples")


def example(name):
    return os.path.join(EXAMPLES, name)


def check_sanitizers(text):
    for m in awtest.SANITIZER_MARKERS:
        if m in text:
            raise AssertionError("sanitizer report:\n" + text[-6000:])


class DelayProxy:
    """A tiny HTTP forwarder in front of a daemon that holds requests under /callbacks/ for `delay` seconds,
    so a peer is slow to answer a notification (everything else passes at once)."""

    def __init__(self, target_port, delay, match="/callbacks/"):
        self.target_port = target_port
        self.delay = delay
        self.match = match
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def forward(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                if proxy.match in self.path:
                    time.sleep(proxy.delay)
                hdrs = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn = http.client.HTTPConnection("127.0.0.1", proxy.target_port, timeout=30)
                conn.request(self.command, self.path, body=body, headers=hdrs)
                r = conn.getresponse()
                data = r.read()
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_POST = do_PUT = do_DELETE = forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def trust(a, peer, peer_url, rel="friend"):
    """Trust from `a` to the actor `peer` reached at `peer_url`; the peer approves it."""
    r = a.req("POST", "/trust", json_body={"url": peer_url, "relationship": rel, "desc": "example"})
    assert r.status == 201, r
    r = peer.req("PUT", "/trust/%s/%s" % (rel, a.id), json_body={"approved": True})
    assert r.status == 204, r
    return r


class NotifyPeers(unittest.TestCase):
    """examples/notify_peers: 2 good (slow) peers on two daemons + 1 peer whose daemon is stopped."""
    DELAY = 1.0

    @classmethod
    def setUpClass(cls):
        cls.da = awtest.Daemon().start()
        cls.db = awtest.Daemon().start()
        cls.dc = awtest.Daemon().start()
        cls.dd = awtest.Daemon().start()
        cls.proxies = []

    @classmethod
    def tearDownClass(cls):
        for p in cls.proxies:
            p.close()
        for d in (cls.da, cls.db, cls.dc, cls.dd):
            try:
                if d.proc:
                    d.stop()
            finally:
                d.cleanup()

    def run_notify(self, *args, timeout=60):
        t0 = time.time()
        p = subprocess.run([example("notify_peers")] + list(args), capture_output=True, text=True, timeout=timeout)
        elapsed = time.time() - t0
        check_sanitizers(p.stderr)
        return p, elapsed

    def test_help(self):
        p, _ = self.run_notify("--help")
        self.assertEqual(p.returncode, 0)
        self.assertIn("usage: notify_peers", p.stdout)
        p, _ = self.run_notify("--actor", "x")
        self.assertEqual(p.returncode, 2)

    def test_notify_all_peers_concurrently(self):
        a = self.da.create_actor()
        b = self.db.create_actor()
        c = self.dc.create_actor()
        d = self.dd.create_actor()
        pb = DelayProxy(self.db.port, self.DELAY)
        pc = DelayProxy(self.dc.port, self.DELAY)
        self.proxies += [pb, pc]
        trust(a, b, "%s/%s" % (pb.base, b.id))
        trust(a, c, "%s/%s" % (pc.base, c.id))
        trust(a, d, d.url)
        self.dd.stop()  # the third peer is down: connection refused
        # Run next to the live daemon A, on its database (like one more shard).
        p, elapsed = self.run_notify("--storage", "sqlite:%s/actingweb.db" % self.da.data,
                                     "--base-url", self.da.base, "--actor", a.id,
                                     "--message", json.dumps({"text": "hello peers"}))
        out = p.stdout
        if os.environ.get("AW_EXAMPLES_VERBOSE"):
            print(out)
        self.assertEqual(p.returncode, 1, out + p.stderr)  # one peer failed
        lines = {}
        for ln in out.splitlines():
            if ln.startswith("peer "):
                lines[ln.split()[1]] = ln
        self.assertEqual(set(lines), {b.id, c.id, d.id}, out)
        # The good peers answered: no notification hook there, so 403 — still delivered and answered.
        for peer in (b, c):
            self.assertRegex(lines[peer.id], r": answered 403 \(AW_EPEER\) in [0-9.]+ ms$", out)
        self.assertRegex(lines[d.id], r": failed AW_ENET \(.*\) in [0-9.]+ ms$", out)
        self.assertIn("notified 3 peers: 2 answered, 1 failed", out)
        # Concurrency: the wall time is about the slowest peer, well under the sequential sum.
        per_peer = [float(ln.rsplit(" in ", 1)[1].split()[0]) / 1000 for ln in lines.values()]
        total = float(out.rsplit("total ", 1)[1].split()[0]) / 1000
        self.assertGreaterEqual(min(per_peer[:]), 0)
        self.assertGreater(sum(per_peer), 2 * self.DELAY, out)
        self.assertLess(total, 0.7 * sum(per_peer), out)
        self.assertLess(total, 2 * self.DELAY + 0.5, out)
        self.assertLess(elapsed, 10, out)

    def test_no_trusts(self):
        a = self.da.create_actor()
        p, _ = self.run_notify("--storage", "sqlite:%s/actingweb.db" % self.da.data, "--base-url", self.da.base,
                               "--actor", a.id)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("notified 0 peers: 0 answered, 0 failed", p.stdout)


class Proc:
    """A running example with its stdout read line by line in the background."""

    def __init__(self, args):
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.cv = threading.Condition()
        self.err = []
        threading.Thread(target=self._read, args=(self.p.stdout, self.lines), daemon=True).start()
        threading.Thread(target=self._read, args=(self.p.stderr, self.err), daemon=True).start()

    def _read(self, f, into):
        for ln in f:
            with self.cv:
                into.append(ln.rstrip("\n"))
                self.cv.notify_all()

    def wait_line(self, pred, timeout=20):
        deadline = time.time() + timeout
        with self.cv:
            while True:
                for ln in self.lines:
                    if pred(ln):
                        return ln
                left = deadline - time.time()
                if left <= 0 or self.p.poll() is not None and not any(pred(x) for x in self.lines):
                    if left > 0:
                        self.cv.wait(0.2)  # let the reader drain what the process wrote last
                        if any(pred(x) for x in self.lines):
                            continue
                    raise AssertionError("no matching line; output:\n%s\nstderr:\n%s"
                                         % ("\n".join(self.lines), "\n".join(self.err)))
                self.cv.wait(min(left, 0.2))

    def finish(self, timeout=30):
        rc = self.p.wait(timeout=timeout)
        time.sleep(0.1)
        check_sanitizers("\n".join(self.err))
        return rc

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        for f in (self.p.stdout, self.p.stderr):
            try:
                f.close()
            except Exception:
                pass


class EmbedUv(unittest.TestCase):
    """examples/embed_uv: a libuv program with its own timer and echo sockets that attaches an aw_app."""

    @classmethod
    def setUpClass(cls):
        cls.d = awtest.Daemon().start()
        cls.tmp = awtest.tempfile.mkdtemp(prefix="embed-")

    @classmethod
    def tearDownClass(cls):
        try:
            cls.d.stop()
        finally:
            cls.d.cleanup()
            awtest.shutil.rmtree(cls.tmp, ignore_errors=True)

    def start(self, *extra, name="e.db"):
        port = awtest.free_port()
        pr = Proc([example("embed_uv"), "--port", str(port), "--echo-port", "0",
                   "--storage", "sqlite:%s/%s" % (self.tmp, name)] + list(extra))
        self.addCleanup(pr.kill)
        pr.wait_line(lambda l: l.startswith("actingweb serving http://127.0.0.1:%d" % port))
        echo = int(pr.wait_line(lambda l: l.startswith("echo listening on")).split(":")[1].split()[0])
        return pr, port, echo

    def test_serves_echoes_calls_peer_and_closes(self):
        peer = self.d.create_actor()
        pr, port, echo = self.start("--peer", peer.url, "--interval", "100", name="a.db")
        # The program's own TCP and UDP echo handlers answer on the shared loop...
        with socket.create_connection(("127.0.0.1", echo), timeout=5) as s:
            s.sendall(b"ping over tcp")
            self.assertEqual(s.recv(100), b"ping over tcp")
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(5)
        u.sendto(b"ping over udp", ("127.0.0.1", echo))
        self.assertEqual(u.recvfrom(100)[0], b"ping over udp")
        u.close()
        # ...the attached app serves actors on the same loop...
        r = awtest.request(port, "POST", "/", json_body={"creator": "embedder"})
        self.assertEqual(r.status, 201, r)
        a = r.json()
        self.assertEqual(r.header("location"), "http://127.0.0.1:%d/%s" % (port, a["id"]))
        r = awtest.request(port, "GET", "/%s/meta" % a["id"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["type"], "urn:actingweb:example.org:embed_uv")
        r = awtest.request(port, "PUT", "/%s/properties/color" % a["id"], json_body="blue",
                           auth=("embedder", a["passphrase"]))
        self.assertIn(r.status, (200, 201, 204), r)
        # ...and the timer callback's async peer call came back on the loop.
        ln = pr.wait_line(lambda l: l.startswith("peer meta: id="))
        self.assertIn("id=%s type=urn:actingweb:actingweb-c:actingwebd http=200" % peer.id, ln)
        pr.p.send_signal(signal.SIGTERM)
        self.assertEqual(pr.finish(), 0, pr.lines + pr.err)
        self.assertIn("shutting down (signal %d)" % signal.SIGTERM, pr.lines)
        self.assertEqual(pr.lines[-2:], ["actingweb closed", "loop closed cleanly"], pr.lines)
        self.assertEqual(pr.lines.count("actingweb closed"), 1, pr.lines)  # closed_cb runs exactly once
        # The port is free again.
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()

    def test_exit_after_with_call_in_flight(self):
        peer = self.d.create_actor()
        slow = DelayProxy(self.d.port, 20.0, match="/meta")
        self.addCleanup(slow.close)
        pr, _, _ = self.start("--peer", "%s/%s" % (slow.base, peer.id), "--interval", "100",
                              "--exit-after", "600", name="b.db")
        t0 = time.time()
        self.assertEqual(pr.finish(), 0, pr.lines + pr.err)
        self.assertLess(time.time() - t0, 5)  # the outstanding call did not hold the shutdown
        self.assertIn("shutting down (exit-after)", pr.lines)
        self.assertTrue(any(l.startswith("peer meta: failed AW_ESHUTDOWN") for l in pr.lines), pr.lines)
        self.assertEqual(pr.lines[-2:], ["actingweb closed", "loop closed cleanly"], pr.lines)
        self.assertEqual(pr.lines.count("actingweb closed"), 1, pr.lines)  # closed_cb runs exactly once

    def test_usage(self):
        p = subprocess.run([example("embed_uv"), "--help"], capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 0)
        self.assertIn("usage: embed_uv", p.stdout)
        p = subprocess.run([example("embed_uv")], capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 2)


class MiniApp(unittest.TestCase):
    """examples/mini_app: hooks (lifecycle, property, method, action, callback) on top of the SDK, aw_app_run."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = awtest.tempfile.mkdtemp(prefix="mini-")
        cls.port = awtest.free_port()
        cls.proc = Proc([example("mini_app"), "--port", str(cls.port), "--storage", "sqlite:%s/mini.db" % cls.tmp])
        cls.proc.wait_line(lambda l: l.startswith("mini_app serving"))
        deadline = time.time() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", cls.port), timeout=0.2).close()
                break
            except OSError:
                if time.time() > deadline or cls.proc.p.poll() is not None:
                    cls.proc.kill()
                    raise RuntimeError("mini_app did not listen: %s" % cls.proc.err)
                time.sleep(0.02)

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.proc.p.poll() is None:
                cls.proc.p.send_signal(signal.SIGTERM)
                rc = cls.proc.finish()
                assert rc == 0, (rc, cls.proc.lines, cls.proc.err)
                assert cls.proc.lines[-1] == "mini_app stopped", cls.proc.lines
        finally:
            cls.proc.kill()
            awtest.shutil.rmtree(cls.tmp, ignore_errors=True)

    def req(self, method, path, **kw):
        return awtest.request(self.port, method, path, **kw)

    def actor(self):
        r = self.req("POST", "/", json_body={"creator": "ada", "passphrase": "pw-ada-12345"})
        self.assertEqual(r.status, 201, r)
        a = r.json()
        self.assertEqual(r.header("location"), "http://127.0.0.1:%d/%s" % (self.port, a["id"]))
        return a["id"], ("ada", "pw-ada-12345")

    def test_meta_and_lifecycle_hook(self):
        aid, auth = self.actor()
        self.assertEqual(self.req("GET", "/%s/meta/type" % aid).text, "urn:actingweb:example.org:mini_app")
        # actor_created hook wrote a property through the SDK
        r = self.req("GET", "/%s/properties/created_by" % aid, auth=auth)
        self.assertEqual((r.status, r.json()), (200, "mini_app"))

    def test_method_and_action(self):
        aid, auth = self.actor()
        self.assertEqual(self.req("PUT", "/%s/properties/nickname" % aid, json_body="Ada", auth=auth).status, 204)
        r = self.req("POST", "/%s/methods/greet" % aid, auth=auth,
                     json_body={"jsonrpc": "2.0", "method": "greet", "params": {"name": "Bob"}, "id": 7})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"jsonrpc": "2.0", "result": {"greeting": "Hello Bob, I am Ada"}, "id": 7})
        r = self.req("POST", "/%s/methods/greet" % aid, auth=auth, json_body={"name": "Eve"})
        self.assertEqual((r.status, r.json()), (200, {"greeting": "Hello Eve, I am Ada"}))
        r = self.req("GET", "/%s/methods" % aid, auth=auth)
        self.assertEqual(r.status, 200, r)
        greet = [m for m in r.json()["methods"] if m["name"] == "greet"]
        self.assertEqual(greet[0]["description"], "Greet the caller by name")
        self.assertEqual(greet[0]["input_schema"]["properties"]["name"]["type"], "string")
        r = self.req("POST", "/%s/actions/reset" % aid, auth=auth)
        self.assertEqual((r.status, r.json()), (200, {"reset": True}))
        self.assertEqual(self.req("GET", "/%s/properties/nickname" % aid, auth=auth).status, 404)
        self.assertEqual(self.req("POST", "/%s/methods/nosuch" % aid, auth=auth, json_body={}).status // 100, 4)

    def test_notification_callback(self):
        aid, auth = self.actor()
        for n in (1, 2):
            r = self.req("POST", "/%s/callbacks/notification" % aid, auth=auth, json_body={"text": "hi %d" % n})
            self.assertEqual((r.status, r.json()), (200, {"received": n}))
        r = self.req("GET", "/%s/properties/last_notification" % aid, auth=auth)
        self.assertEqual(r.json(), {"text": "hi 2"})
        # other callback names have no hook: 403 (protocol.md §10)
        self.assertEqual(self.req("POST", "/%s/callbacks/other" % aid, auth=auth, json_body={}).status, 403)

    def test_property_hooks(self):
        aid, auth = self.actor()
        r = self.req("PUT", "/%s/properties/nickname" % aid, json_body="  Ada  ", auth=auth)
        self.assertEqual(r.status, 204, r)
        got = self.req("GET", "/%s/properties/nickname" % aid, auth=auth).json()
        self.assertEqual(got, "Ada")  # transformed by the hook
        for bad in ("", "   ", "x" * 33, 5):
            r = self.req("PUT", "/%s/properties/nickname" % aid, json_body=bad, auth=auth)
            self.assertEqual(r.status, 400, (bad, r))
            self.assertEqual(r.json()["error"]["message"], "nickname must be a string of 1 to 32 characters")
        self.assertEqual(self.req("GET", "/%s/properties/nickname" % aid, auth=auth).json(), "Ada")
        # "_" properties are hidden from REST reads
        self.req("POST", "/%s/callbacks/notification" % aid, auth=auth, json_body={"x": 1})
        self.assertEqual(self.req("GET", "/%s/properties/_notifications" % aid, auth=auth).status, 404)
        r = self.req("GET", "/%s/properties" % aid, auth=auth)
        self.assertEqual(r.status, 200)
        self.assertNotIn("_notifications", r.json())
        self.assertIn("last_notification", r.json())

    def test_notified_by_notify_peers(self):
        """examples/notify_peers → a daemon actor notifies its mini_app peer: the hook answers 200."""
        d = awtest.Daemon().start()
        try:
            a = d.create_actor()
            mid, auth = self.actor()
            r = a.req("POST", "/trust", json_body={"url": "http://127.0.0.1:%d/%s" % (self.port, mid),
                                                  "relationship": "friend"})
            self.assertEqual(r.status, 201, r)
            r = self.req("PUT", "/%s/trust/friend/%s" % (mid, a.id), json_body={"approved": True}, auth=auth)
            self.assertEqual(r.status, 204, r)
            p = subprocess.run([example("notify_peers"), "--storage", "sqlite:%s/actingweb.db" % d.data,
                                "--base-url", d.base, "--actor", a.id, "--message", '{"text": "from a daemon"}'],
                               capture_output=True, text=True, timeout=60)
            check_sanitizers(p.stderr)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertRegex(p.stdout, r"peer %s .*: answered 200 \(AW_OK\)" % mid)
            r = self.req("GET", "/%s/properties/last_notification" % mid, auth=auth)
            self.assertEqual(r.json(), {"text": "from a daemon"})
        finally:
            try:
                d.stop()
            finally:
                d.cleanup()

    def test_usage(self):
        p = subprocess.run([example("mini_app"), "--help"], capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 0)
        self.assertIn("usage: mini_app", p.stdout)


if __name__ == "__main__":
    awtest.main()
