"""Subscription delivery between real daemons and against a fake subscriber (protocol.md §9.9-9.10,
sdk-api.md §5-6, issue #4): restarts, outages, ordering, 429/503, low granularity, size downgrade, fan-out."""
import gzip
import http.server
import json
import os
import secrets
import sys
import sqlite3
import threading
import time
import unittest
import urllib.request
import zlib

import awtest
from test_subscriptions import befriend, remote, mirror, wait_for


def props(b):
    r = b.req("GET", "/properties")
    assert r.status in (200, 404), r
    return r.json() if r.status == 200 else {}


def count_rows(d, sql, *args):
    """Read-only query on a daemon's SQLite file."""
    c = sqlite3.connect("file:%s?mode=ro" % os.path.join(d.data, "actingweb.db"), uri=True, timeout=10)
    try:
        return c.execute(sql, args).fetchone()[0]
    finally:
        c.close()


def subscribe(a, b, granularity="high"):
    r = a.req("POST", "/subscriptions", json_body={"peerid": b.id, "target": "properties",
                                                   "granularity": granularity})
    assert r.status == 204, r
    return r.header("location").rsplit("/", 1)[1]


class FakePeer:
    """A peer actor served by a Python http.server: it holds a trust with a publisher actor and records
    every subscription callback (a gzip or deflate body is decoded). `plan` is a list of (status, headers) answers used one by one for
    callbacks; when it is empty the answer is 204."""

    def __init__(self):
        self.id = secrets.token_hex(16)
        self.secret = secrets.token_hex(20)
        self.calls = []   # (time, seq, headers(lower), body)
        self.plan = []
        self.lock = threading.Lock()
        peer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _answer(self, status, headers=None, body=b""):
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body:
                    self.wfile.write(body)

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                if "/callbacks/subscriptions/" not in self.path:
                    return self._answer(204)
                enc = (self.headers.get("Content-Encoding") or "").lower()
                if enc == "gzip":
                    raw = gzip.decompress(raw)
                elif enc == "deflate":
                    raw = zlib.decompress(raw)
                body = json.loads(raw.decode() or "{}")
                with peer.lock:
                    status, hdrs = peer.plan.pop(0) if peer.plan else (204, {})
                    peer.calls.append((time.time(), body.get("sequence"),
                                       {k.lower(): v for k, v in self.headers.items()}, body, status))
                self._answer(status, hdrs)

            def do_PUT(self):
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    self.rfile.read(n)
                self._answer(204)

            do_DELETE = do_PUT

            def do_GET(self):
                self._answer(404)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d/%s" % (self.port, self.id)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def trust_with(self, b):
        """Trust request toward publisher actor b (the publisher must auto-accept 'friend')."""
        r = b.daemon.req("POST", b.path + "/trust/friend",
                         json_body={"baseuri": self.url, "id": self.id, "secret": self.secret,
                                    "type": "urn:test:fake", "desc": "fake subscriber"})
        assert r.status == 201, r

    def subscribe(self, b, granularity="high"):
        r = b.req("POST", "/subscriptions/%s" % self.id, bearer=self.secret,
                  json_body={"id": self.id, "target": "properties", "granularity": granularity})
        assert r.status == 201, r
        return r.json()["subscriptionid"]

    def accepted(self):
        with self.lock:
            return [c for c in self.calls if c[4] == 204]

    def all_calls(self):
        with self.lock:
            return list(self.calls)


class Delivery(awtest.MultiDaemonTest):
    def fake(self):
        f = FakePeer()
        self.fakes.append(f)
        return f

    def pair(self, pub_args=(), sub_args=()):
        pub = self.daemon(*pub_args)
        sub = self.daemon(*sub_args)
        a = sub.create_actor("subscriber", "pw-a")
        b = pub.create_actor("publisher", "pw-b")
        secret = befriend(a, b)
        return pub, sub, a, b, secret

    def assertConverges(self, a, b, timeout=30):
        ok = wait_for(lambda: remote(a, b) == props(b), timeout=timeout, step=0.1)
        self.assertTrue(ok, "subscriber %r != publisher %r" % (remote(a, b), props(b)))

    # ------------------------------------------------------------------ restarts and outages

    def test_publisher_kill9_mid_delivery(self):
        pub, sub, a, b, _ = self.pair(pub_args=("--peer-timeout-ms", "800"))
        b.req("PUT", "/properties/before", body="zero")
        subid = subscribe(a, b)
        self.assertEqual(remote(a, b), {"before": "zero"})
        # The subscriber stops answering: callbacks stay pending (in flight or waiting for a retry).
        sub.pause()
        try:
            for i in range(6):
                self.assertEqual(b.req("PUT", "/properties/p%d" % i, body="v%d" % i).status, 204)
            b.req("PUT", "/properties/before", body="changed")
            b.req("DELETE", "/properties/p0")
            time.sleep(0.3)
            pub.kill9()
        finally:
            sub.resume()
        # the kill really happened mid-delivery: the publisher record's delivery cursor still trailed
        self.assertGreater(count_rows(pub, "SELECT COUNT(*) FROM subscriptions WHERE actor=? AND callback=0"
                                           " AND sent_seq < (SELECT MAX(seq) FROM diffs d WHERE d.actor = subscriptions.actor"
                                           " AND d.subid = subscriptions.subid)", b.id), 0)
        pub.start()   # same port and data: the cursor survives, its lease is taken over
        self.assertConverges(a, b)
        self.assertEqual(mirror(a, b)[0]["sequence"], 8)
        # everything acknowledged in the end: the publisher's diffs are cleared
        self.assertTrue(wait_for(lambda: b.req("GET", "/subscriptions/%s/%s" % (a.id, subid)).json()["data"] == [],
                                 timeout=10))

    def test_subscriber_down_catches_up(self):
        pub, sub, a, b, _ = self.pair()
        subid = subscribe(a, b)
        sub.stop()
        for i in range(4):
            b.req("PUT", "/properties/k%d" % i, body="x%d" % i)
        b.req("PUT", "/properties/k1", json_body={"nested": [1, 2]})
        time.sleep(2.5)    # some attempts fail with connection refused
        sub.start()        # same port and data
        self.assertConverges(a, b, timeout=40)
        self.assertEqual(mirror(a, b)[0]["sequence"], 5)

    def test_subscriber_pull_sync_backs_off_while_publisher_fails(self):
        """A resync the subscriber cannot complete (its publisher answers 500) is retried by the timer with a
        growing delay, not every tick; once the publisher is back, the mirror converges."""
        pub, sub, a, b, secret = self.pair(sub_args=("--gap-timeout", "1"))
        b.req("PUT", "/properties/before", body="zero")
        subid = subscribe(a, b)
        pub.stop()
        seen = []

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                seen.append((time.time(), self.path))
                body = b'{"error": "down for maintenance"}'
                self.send_response(500)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        fake = http.server.ThreadingHTTPServer(("127.0.0.1", pub.port), H)
        fake.daemon_threads = True
        threading.Thread(target=fake.serve_forever, daemon=True).start()
        try:
            # a resync callback without data: its fetch fails, so the mirror keeps a resync pending, which
            # the timer's pull syncs try to honour
            path = "/callbacks/subscriptions/%s/%s" % (b.id, subid)
            r = a.req("POST", path, bearer=secret, json_body={"id": b.id, "subscriptionid": subid, "target":
                                                              "properties", "granularity": "high", "sequence": 1,
                                                              "type": "resync"})
            self.assertEqual(r.status, 204, r)
            self.assertTrue(wait_for(lambda: any("/subscriptions/" in p for _, p in seen), timeout=10),
                            "no pull sync reached the publisher: %r" % seen)
            time.sleep(9)
        finally:
            fake.shutdown()
            fake.server_close()
        pulls = [t for t, p in seen if "/subscriptions/" in p]
        # one try every tick (0.5 s at this gap timeout) would be ~19; with 1, 2, 4, 8 s (±20 %) it is 4 or 5
        self.assertTrue(3 <= len(pulls) <= 6, [round(t - pulls[0], 2) for t in pulls])
        gaps = [b2 - a2 for a2, b2 in zip(pulls, pulls[1:])]
        self.assertTrue(all(g2 > g1 for g1, g2 in zip(gaps, gaps[1:])), gaps)
        # the publisher is back (it knows nothing of sequence 2: the mirror takes a baseline and converges)
        pub.start()
        b.req("PUT", "/properties/after", body="one")
        self.assertConverges(a, b, timeout=30)

    def test_answered_callbacks_survive_kill9(self):
        """Group commit (store/group.h): callbacks arriving together share one transaction and are answered
        only after it commits, so every callback answered 204 survives kill -9 of the subscriber."""
        pub, sub, a0, b, _ = self.pair()
        subs = []
        for i in range(12):
            a = a0 if i == 0 else sub.create_actor("subscriber%d" % i, "pw")
            secret = befriend(a, b) if i else self.secret_of(a, b)
            subs.append((a, subscribe(a, b), secret))
        acked = {}
        stop = threading.Event()

        def send(a, subid, secret):
            path = "/callbacks/subscriptions/%s/%s" % (b.id, subid)
            base = {"id": b.id, "subscriptionid": subid, "target": "properties", "granularity": "high"}
            seq = 0
            while not stop.is_set():
                try:
                    r = a.req("POST", path, bearer=secret,
                              json_body=dict(base, sequence=seq + 1, data={"k": seq + 1}))
                except OSError:
                    return  # the daemon is gone
                if r.status != 204:
                    return
                seq += 1
                acked[a.id] = seq

        threads = [threading.Thread(target=send, args=t) for t in subs]
        for t in threads:
            t.start()
        time.sleep(1.0)
        sub.kill9()
        stop.set()
        for t in threads:
            t.join(10)
        self.assertGreater(sum(acked.values()), 50, "too few callbacks answered before the kill")
        print("\n  %d callbacks answered before kill -9" % sum(acked.values()), file=sys.stderr)
        sub.start()  # same port and data
        for a, subid, _ in subs:
            got = mirror(a, b)[0]["sequence"]
            self.assertGreaterEqual(got, acked.get(a.id, 0), "answered callbacks of %s lost" % a.id)
            if got:
                self.assertEqual(remote(a, b).get("k"), got)

    def secret_of(self, a, b):
        return a.req("GET", "/trust/friend/%s" % b.id).json()["secret"]

    def test_out_of_order_and_duplicates_with_live_publisher(self):
        pub, sub, a, b, secret = self.pair()
        subid = subscribe(a, b)
        path = "/callbacks/subscriptions/%s/%s" % (b.id, subid)
        base = {"id": b.id, "subscriptionid": subid, "target": "properties", "granularity": "high"}
        for seq in (2, 2, 4, 3, 1, 1, 5, 3):
            r = a.req("POST", path, bearer=secret, json_body=dict(base, sequence=seq, data={"s%d" % seq: seq}))
            self.assertEqual(r.status, 204, r)
        self.assertEqual(remote(a, b), {"s1": 1, "s2": 2, "s3": 3, "s4": 4, "s5": 5})
        self.assertEqual(mirror(a, b)[0]["sequence"], 5)
        self.assertEqual(count_rows(sub, "SELECT COUNT(*) FROM pending_callbacks WHERE actor=?", a.id), 0)

    # ------------------------------------------------------------------ fake subscriber: 429 / 503

    def test_429_retry_after_then_in_order(self):
        pub = self.daemon("--auto-accept", "--default-relationship", "friend")
        b = pub.create_actor("publisher", "pw")
        f = self.fake()
        f.trust_with(b)
        f.plan = [(429, {"Retry-After": "1"})]
        f.subscribe(b)
        t0 = time.time()
        for i in range(4):
            self.assertEqual(b.req("PUT", "/properties/q%d" % i, body=str(i)).status, 204)
        self.assertTrue(wait_for(lambda: len(f.accepted()) >= 4, timeout=15), f.all_calls())
        calls = f.all_calls()
        self.assertEqual(calls[0][1], 1)
        self.assertEqual(calls[0][4], 429)
        self.assertEqual([c[1] for c in f.accepted()], [1, 2, 3, 4])
        # the retry waited for Retry-After (1 s), and nothing overtook the paused job
        self.assertGreaterEqual(f.accepted()[0][0] - calls[0][0], 0.9)
        self.assertEqual([c[1] for c in calls], [1, 1, 2, 3, 4])
        self.assertLess(time.time() - t0, 15)

    def test_delivery_does_not_wait_for_the_write_lock(self):
        """While another connection holds SQLite's write lock (another shard registering a change, here this
        test), a claim is tried again 2 ms later instead of waited for on the loop: the daemon keeps answering,
        and delivery goes on once the lock is free. Before, the loop sat in SQLite's busy handler."""
        pub = self.daemon("--auto-accept", "--default-relationship", "friend")
        b = pub.create_actor("publisher", "pw")
        f = self.fake()
        f.trust_with(b)
        f.plan = [(429, {"Retry-After": "3"})]   # the cursor's next claim is due 3 s after the 429
        f.subscribe(b)
        for i in range(3):
            self.assertEqual(b.req("PUT", "/properties/w%d" % i, body=str(i)).status, 204)
        self.assertTrue(wait_for(lambda: len(f.all_calls()) >= 1, timeout=10), f.all_calls())
        t429 = f.all_calls()[0][0]
        # the publisher has stored the retry (cursor released, due ~3 s after the 429) before the lock is taken
        self.assertTrue(wait_for(lambda: count_rows(pub, "SELECT COUNT(*) FROM subscriptions WHERE callback=0 AND"
                                                         " lease_owner IS NULL AND send_due_ms > ?",
                                                    int((t429 + 2.5) * 1000)) == 1, timeout=10))
        self.assertLess(time.time(), t429 + 2.8, "the publisher took too long to store the retry")
        db = sqlite3.connect(os.path.join(pub.data, "actingweb.db"), timeout=10, isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        answers = []
        try:
            while time.time() < t429 + 4.5:   # the claim falls at ~3 s, inside the hold
                t = time.time()
                self.assertEqual(pub.req("GET", b.path + "/meta").status, 200)
                answers.append(time.time() - t)
                time.sleep(0.05)
            self.assertEqual(len(f.accepted()), 0)   # the held lock did hold the claim back
        finally:
            db.execute("ROLLBACK")
            db.close()
        self.assertLess(max(answers), 0.5, answers)
        self.assertTrue(wait_for(lambda: len(f.accepted()) >= 3, timeout=10), f.all_calls())
        self.assertEqual([c[1] for c in f.accepted()], [1, 2, 3])

    def test_503_backoff_then_in_order(self):
        pub = self.daemon("--auto-accept", "--default-relationship", "friend")
        b = pub.create_actor("publisher", "pw")
        f = self.fake()
        f.trust_with(b)
        f.plan = [(503, {}), (503, {})]
        f.subscribe(b)
        for i in range(3):
            b.req("PUT", "/properties/r%d" % i, body=str(i))
        self.assertTrue(wait_for(lambda: len(f.accepted()) >= 3, timeout=20), f.all_calls())
        calls = f.all_calls()
        self.assertEqual([c[1] for c in calls], [1, 1, 1, 2, 3])
        # exponential backoff with ±20 % jitter: ~1 s then ~2 s
        self.assertGreaterEqual(calls[1][0] - calls[0][0], 0.75)
        self.assertGreaterEqual(calls[2][0] - calls[1][0], 1.5)
        # success closes the breaker record again
        self.assertTrue(wait_for(lambda: b.req("GET", "/devtest/attributes/_circuit_breaker_state").status == 404
                                 or b.req("GET", "/devtest/attributes/_circuit_breaker_state").json() == {},
                                 timeout=5))

    def test_circuit_breaker_opens_after_five_failures(self):
        pub = self.daemon("--auto-accept", "--default-relationship", "friend")
        b = pub.create_actor("publisher", "pw")
        f = self.fake()
        f.trust_with(b)
        f.plan = [(500, {})] * 5
        subids = [f.subscribe(b) for _ in range(5)]
        t0 = time.time()
        self.assertEqual(b.req("PUT", "/properties/cb", body="x").status, 204)
        self.assertTrue(wait_for(lambda: len(f.all_calls()) >= 5, timeout=10), f.all_calls())
        # five consecutive failures toward one peer open its circuit for the cool-down (60 s)
        ok = wait_for(lambda: b.req("GET", "/devtest/attributes/_circuit_breaker_state").status == 200
                      and "open_until_ms" in json.dumps(b.req("GET", "/devtest/attributes/_circuit_breaker_state")
                                                        .json()), timeout=5)
        self.assertTrue(ok, b.req("GET", "/devtest/attributes/_circuit_breaker_state"))
        state = b.req("GET", "/devtest/attributes/_circuit_breaker_state").json()[f.id]["data"]
        self.assertGreater(state["open_until_ms"] / 1000.0, t0 + 50)
        # without the breaker each job would be retried after ~1 s; with it nothing goes out
        time.sleep(3)
        self.assertEqual(len(f.all_calls()), 5, f.all_calls())
        self.assertEqual(sorted(c[2].get("authorization", "")[:6] for c in f.all_calls()), ["Bearer"] * 5)
        self.assertEqual(len({c[3]["subscriptionid"] for c in f.all_calls()}), 5)
        self.assertEqual({c[3]["subscriptionid"] for c in f.all_calls()}, set(subids))

    def test_503_pauses_every_subscription_of_the_peer(self):
        """503 holds back all of that peer's subscriptions (sdk-api.md §6.3), for Retry-After when given;
        the pause is stored, so both shards of the publisher respect it, and the next success clears it."""
        pub = awtest.Daemon("--auto-accept", "--default-relationship", "friend", shards=2).start()
        self.daemons.append(pub)
        b = pub.create_actor("publisher", "pw")
        f = self.fake()
        f.trust_with(b)
        sid1 = f.subscribe(b)
        f.plan = [(503, {"Retry-After": "3"})]
        self.assertEqual(b.req("PUT", "/properties/p1", body="one").status, 204)
        self.assertTrue(wait_for(lambda: len(f.all_calls()) >= 1, timeout=10), f.all_calls())
        t503 = f.all_calls()[0][0]
        self.assertEqual(f.all_calls()[0][4], 503)
        # the publisher stores the pause once it has read the answer
        self.assertTrue(wait_for(lambda: count_rows(pub, "SELECT COUNT(*) FROM peer_pauses WHERE actor=? AND peerid=?",
                                                    b.id, f.id) == 1, timeout=5))
        # a second subscription of the same peer, with a change of its own, waits for the pause too
        sid2 = f.subscribe(b)
        self.assertEqual(b.req("PUT", "/properties/p2", body="two").status, 204)
        self.assertTrue(wait_for(lambda: len(f.accepted()) >= 3, timeout=15), f.all_calls())
        later = f.all_calls()[1:]
        self.assertGreaterEqual(min(c[0] for c in later) - t503, 2.8, later)
        self.assertEqual(sorted((c[3]["subscriptionid"], c[1]) for c in f.accepted()),
                         sorted([(sid1, 1), (sid1, 2), (sid2, 1)]))
        # in order per subscription, and the pause is gone after the first success
        self.assertEqual([c[1] for c in f.accepted() if c[3]["subscriptionid"] == sid1], [1, 2])
        self.assertTrue(wait_for(lambda: count_rows(pub, "SELECT COUNT(*) FROM peer_pauses") == 0, timeout=5))

    def test_503_backoff_doubles_across_subscriptions(self):
        """Without Retry-After the peer-wide pause grows 1 s, 2 s, ...; a subscription that had nothing to do
        with the 503s waits for the current pause too."""
        pub = self.daemon("--auto-accept", "--default-relationship", "friend")
        b = pub.create_actor("publisher", "pw")
        f = self.fake()
        f.trust_with(b)
        sids = []
        for name in ("one", "two"):
            r = b.req("POST", "/subscriptions/%s" % f.id, bearer=f.secret,
                      json_body={"id": f.id, "target": "properties", "subtarget": name, "granularity": "high"})
            self.assertEqual(r.status, 201, r)
            sids.append(r.json()["subscriptionid"])
        f.plan = [(503, {}), (503, {})]
        b.req("PUT", "/properties/one", body="1")
        self.assertTrue(wait_for(lambda: len(f.all_calls()) >= 2, timeout=10), f.all_calls())
        # the second pause is stored (backoff doubled) once the publisher has read the answer
        self.assertTrue(wait_for(lambda: count_rows(pub, "SELECT MAX(backoff_ms) FROM peer_pauses") == 2000, timeout=5))
        b.req("PUT", "/properties/two", body="2")      # during the second pause (~2 s)
        self.assertTrue(wait_for(lambda: len(f.accepted()) >= 2, timeout=20), f.all_calls())
        calls = f.all_calls()
        self.assertEqual([(c[3]["subscriptionid"], c[4]) for c in calls[:2]], [(sids[0], 503), (sids[0], 503)])
        self.assertGreaterEqual(calls[1][0] - calls[0][0], 0.75)   # first pause ~1 s
        two = [c for c in calls if c[3]["subscriptionid"] == sids[1]]
        self.assertEqual(len(two), 1, calls)
        self.assertGreaterEqual(two[0][0] - calls[1][0], 1.5)      # second ~2 s, for the other subscription too

    # ------------------------------------------------------------------ per-subscription diff cap

    def test_diff_cap_prunes_and_resyncs(self):
        """Beyond --diff-cap diffs per subscription the oldest are pruned; a subscriber that had not received
        them gets one resync (new sequence) instead of the rest of its backlog (sdk-api.md §6.8)."""
        pub = self.daemon("--auto-accept", "--default-relationship", "friend", "--diff-cap", "5")
        b = pub.create_actor("publisher", "pw")
        f = self.fake()
        f.trust_with(b)
        f.plan = [(429, {"Retry-After": "3"})]   # holds the subscription while the backlog grows
        sid = f.subscribe(b)
        self.assertEqual(b.req("PUT", "/properties/k", body="0").status, 204)
        self.assertTrue(wait_for(lambda: len(f.all_calls()) >= 1, timeout=10), f.all_calls())
        for i in range(1, 8):
            self.assertEqual(b.req("PUT", "/properties/k", body=str(i)).status, 204)
        q = "SELECT %s FROM diffs WHERE actor=? AND subid=?"
        self.assertEqual(count_rows(pub, q % "COUNT(*)", b.id, sid), 5)
        self.assertEqual(count_rows(pub, q % "MIN(seq)", b.id, sid), 4)
        self.assertEqual(count_rows(pub, "SELECT resync_pending FROM subscriptions WHERE actor=? AND subid=?",
                                    b.id, sid), 1)
        # polling shows the five newest
        doc = b.req("GET", "/subscriptions/%s/%s" % (f.id, sid), bearer=f.secret).json()
        self.assertEqual([d["sequence"] for d in doc["data"]], [4, 5, 6, 7, 8])
        # after the 429 pause: one resync with a new sequence, nothing of the old backlog
        self.assertTrue(wait_for(lambda: len(f.accepted()) >= 1, timeout=15), f.all_calls())
        time.sleep(0.5)
        calls = f.all_calls()
        self.assertEqual(len(calls), 2, calls)
        body = calls[1][3]
        self.assertEqual(body.get("type"), "resync")
        self.assertEqual(body["sequence"], 9)
        self.assertTrue(body["url"].endswith("/%s/properties" % b.id), body)
        self.assertEqual(count_rows(pub, "SELECT resync_pending FROM subscriptions WHERE actor=? AND subid=?",
                                    b.id, sid), 0)
        self.assertEqual(count_rows(pub, "SELECT COUNT(*) FROM outbox WHERE actor=?", b.id), 0)
        self.assertEqual(count_rows(pub, "SELECT sent_seq FROM subscriptions WHERE actor=? AND subid=?", b.id, sid), 9)
        # normal delivery afterwards
        b.req("PUT", "/properties/k", body="after")
        self.assertTrue(wait_for(lambda: len(f.accepted()) >= 2, timeout=10), f.all_calls())
        self.assertEqual(f.accepted()[1][1], 10)
        self.assertEqual(f.accepted()[1][3]["data"], {"k": "after"})

    def test_diff_cap_between_daemons_converges(self):
        """A real subscriber that misses pruned diffs ends up equal to the publisher through the resync."""
        pub, sub, a, b, _ = self.pair(pub_args=("--diff-cap", "3", "--peer-timeout-ms", "500"))
        subid = subscribe(a, b)
        sub.pause()
        try:
            for i in range(8):
                self.assertEqual(b.req("PUT", "/properties/c%d" % (i % 4), body="v%d" % i).status, 204)
            self.assertEqual(count_rows(pub, "SELECT COUNT(*) FROM diffs WHERE actor=?", b.id), 3)
            self.assertEqual(count_rows(pub, "SELECT resync_pending FROM subscriptions WHERE actor=? AND subid=?",
                                        b.id, subid), 1)
        finally:
            sub.resume()
        self.assertConverges(a, b, timeout=40)
        self.assertTrue(wait_for(lambda: mirror(a, b)[0]["sequence"] >= 9, timeout=20), mirror(a, b))

    # ------------------------------------------------------------------ low granularity and downgrade

    def test_low_granularity_fetch_and_ack(self):
        pub, sub, a, b, _ = self.pair()
        b.req("PUT", "/properties/base", body="one")
        subid = subscribe(a, b, granularity="low")
        self.assertEqual(remote(a, b), {"base": "one"})
        b.req("PUT", "/properties/lo", json_body={"a": 1})
        b.req("PUT", "/properties/base", body="two")
        self.assertConverges(a, b, timeout=15)
        self.assertEqual(mirror(a, b)[0]["sequence"], 2)
        self.assertTrue(wait_for(lambda: b.req("GET", "/subscriptions/%s/%s" % (a.id, subid)).json()["data"] == [],
                                 timeout=10))
        rec = b.req("GET", "/subscriptions/%s/%s" % (a.id, subid)).json()
        self.assertEqual(rec["sequence"], 2)

    def test_oversized_callback_downgraded(self):
        pub = self.daemon("--auto-accept", "--default-relationship", "friend", "--callback-cap", "1024")
        b = pub.create_actor("publisher", "pw")
        f = self.fake()
        f.trust_with(b)
        subid = f.subscribe(b)
        b.req("PUT", "/properties/small", body="s")
        big = "x" * 4000
        b.req("PUT", "/properties/big", body=big)
        self.assertTrue(wait_for(lambda: len(f.accepted()) >= 2, timeout=10), f.all_calls())
        (_, s1, h1, body1, _), (_, s2, h2, body2, _) = f.accepted()[:2]
        self.assertEqual((s1, s2), (1, 2))
        self.assertEqual(body1["data"], {"small": "s"})
        self.assertNotIn("x-actingweb-granularity-downgraded", h1)
        self.assertEqual(h2.get("x-actingweb-granularity-downgraded"), "true")
        self.assertGreaterEqual(int(h2.get("x-actingweb-original-size")), 4000)
        self.assertNotIn("data", body2)
        self.assertEqual(body2["granularity"], "high")
        self.assertTrue(body2["url"].endswith("/subscriptions/%s/%s/2" % (f.id, subid)), body2["url"])
        # the subscriber can fetch the diff with its secret
        rq = urllib.request.Request(body2["url"], headers={"Authorization": "Bearer " + f.secret})
        with urllib.request.urlopen(rq, timeout=10) as resp:
            doc = json.loads(resp.read())
        self.assertEqual(doc["data"], {"big": big})

    def test_sharded_publisher_keeps_order(self):
        """Several shards share the outbox: each subscription still gets every sequence once, in order."""
        pub = awtest.Daemon("--auto-accept", "--default-relationship", "friend", shards=3).start()
        self.daemons.append(pub)
        b = pub.create_actor("publisher", "pw")
        f = self.fake()
        f.trust_with(b)
        subids = [f.subscribe(b) for _ in range(3)]
        n_threads, per = 4, 15

        def writer(t):
            for i in range(per):
                r = b.req("PUT", "/properties/w%d" % t, body="v%d" % i)
                assert r.status == 204, r
        ts = [threading.Thread(target=writer, args=(t,)) for t in range(n_threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        total = n_threads * per
        self.assertTrue(wait_for(lambda: len(f.accepted()) >= 3 * total, timeout=30), len(f.accepted()))
        time.sleep(0.5)
        for sid in subids:
            seqs = [c[1] for c in f.accepted() if c[3]["subscriptionid"] == sid]
            self.assertEqual(seqs, list(range(1, total + 1)), sid)

    # ------------------------------------------------------------------ three daemons

    def test_one_publisher_two_subscriber_daemons(self):
        pub = self.daemon()
        s1, s2 = self.daemon(), self.daemon()
        b = pub.create_actor("publisher", "pw")
        subs = []
        for d in (s1, s2):
            for _ in range(2):
                a = d.create_actor("subscriber", "pw")
                befriend(a, b)
                subscribe(a, b)
                subs.append(a)
        for i in range(5):
            b.req("PUT", "/properties/t%d" % i, body="v%d" % i)
        b.req("PUT", "/properties/t0", json_body={"deep": {"x": True}})
        for a in subs:
            self.assertConverges(a, b, timeout=15)
            self.assertEqual(mirror(a, b)[0]["sequence"], 6)


if __name__ == "__main__":
    awtest.main()
