"""Durability: every write acknowledged with a 2xx survives kill -9 of the daemon (WAL + synchronous=NORMAL
survives a process kill, design.md). Sequential and concurrent writers, properties and devtest attributes."""
import os
import sys
import sqlite3
import threading
import time
import unittest

import awtest


def integrity_ok(data_dir):
    con = sqlite3.connect(os.path.join(data_dir, "actingweb.db"), timeout=10)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()


class Durability(unittest.TestCase):
    def setUp(self):
        self.daemons = []

    def tearDown(self):
        for d in self.daemons:
            try:
                if d.proc:
                    d.stop()
            finally:
                pass
        if self.daemons:
            import shutil
            shutil.rmtree(self.daemons[0].data, ignore_errors=True)

    def start(self, data=None, shards=1):
        d = awtest.Daemon(data=data, shards=shards).start()
        self.daemons.append(d)
        return d

    def restart_after_kill(self, d, shards=1):
        d.kill9()
        self.assertIsNone(d.proc)
        return self.start(data=d.data, shards=shards)

    def has_properties(self, a):
        r = a.req("PUT", "/properties/_probe", body=b"1", headers={"Content-Type": "application/json"})
        if r.status == 204:
            a.req("DELETE", "/properties/_probe")
            return True
        return False

    def test_sequential_writes_survive_kill(self):
        d = self.start()
        a = d.create_actor("durable", "durable-pass")
        props = {}
        if self.has_properties(a):
            for i in range(300):
                name = "p%03d" % i
                value = {"i": i, "s": "v" * (i % 50)} if i % 3 else "text value %d \u00e9" % i
                if isinstance(value, dict):
                    r = a.req("PUT", "/properties/" + name, json_body=value)
                else:
                    r = a.req("PUT", "/properties/" + name, body=value.encode(),
                              headers={"Content-Type": "text/plain; charset=utf-8"})
                self.assertIn(r.status, (200, 201, 204), r)
                props[name] = value
            # Several at once through POST, and an overwrite, and a delete.
            r = a.req("POST", "/properties", json_body={"multi1": 1, "multi2": [1, 2]})
            self.assertIn(r.status, (200, 201, 204), r)
            props.update({"multi1": 1, "multi2": [1, 2]})
            r = a.req("PUT", "/properties/p001", json_body={"overwritten": True})
            self.assertIn(r.status, (200, 201, 204), r)
            props["p001"] = {"overwritten": True}
            self.assertIn(a.req("DELETE", "/properties/p002").status, (200, 204))
            del props["p002"]
        attrs = {}
        for i in range(200):
            r = a.req("PUT", "/devtest/attribute/dur/a%03d" % i, json_body={"n": i})
            self.assertEqual(r.status, 204, r)
            attrs["a%03d" % i] = {"n": i}
        r = a.req("POST", "/devtest/attribute/dur2", json_body={"x": 1, "y": "two"})
        self.assertEqual(r.status, 200, r)

        d2 = self.restart_after_kill(d)
        a.daemon = d2
        for name, value in props.items():
            r = a.req("GET", "/properties/" + name)
            self.assertEqual(r.status, 200, (name, r))
            if isinstance(value, str):
                self.assertEqual(r.text, value)
            else:
                self.assertEqual(r.json(), value)
        if props:
            self.assertEqual(a.req("GET", "/properties/p002").status, 404)
        r = a.req("GET", "/devtest/attributes/dur")
        self.assertEqual(r.status, 200, r)
        got = {k: v["data"] for k, v in r.json().items()}
        self.assertEqual(got, attrs)
        r = a.req("GET", "/devtest/attributes/dur2")
        self.assertEqual({k: v["data"] for k, v in r.json().items()}, {"x": 1, "y": "two"})
        # The actor itself, and a new actor can be created after the restart.
        self.assertEqual(a.req("GET").json()["id"], a.id)
        d2.create_actor("after-restart")
        d2.stop()
        self.assertTrue(integrity_ok(d2.data))

    def test_concurrent_writes_survive_kill(self):
        d = self.start(shards=2)
        actors = [d.create_actor("conc%d" % i, "conc-pass-%d" % i) for i in range(2)]
        use_props = self.has_properties(actors[0])
        acked = []            # (actor index, kind, name, value) for every 2xx
        counters = {}         # (thread) -> highest acked counter value
        lock = threading.Lock()
        stop = threading.Event()

        def writer(t):
            a = actors[t % 2]
            n = 0
            while not stop.is_set():
                n += 1
                kind = "prop" if use_props and n % 2 else "attr"
                name = "t%d-%05d" % (t, n)
                try:
                    if kind == "prop":
                        r = awtest.request(d.port, "PUT", a.path + "/properties/" + name, json_body={"n": n},
                                           auth=a.auth, timeout=5)
                    else:
                        r = awtest.request(d.port, "PUT", a.path + "/devtest/attribute/conc/" + name,
                                           json_body={"n": n}, auth=a.auth, timeout=5)
                    # A counter overwritten in place: the stored value must be >= the last acked one.
                    r2 = awtest.request(d.port, "PUT", a.path + "/devtest/attribute/counter/t%d" % t,
                                        json_body=n, auth=a.auth, timeout=5)
                except OSError:
                    if stop.is_set() or d.proc is None:
                        return
                    time.sleep(0.01)
                    continue
                except Exception:  # http.client errors when the daemon dies mid-answer
                    return
                with lock:
                    if 200 <= r.status < 300:
                        acked.append((t % 2, kind, name, n))
                    if 200 <= r2.status < 300:
                        counters[t] = n

        threads = [threading.Thread(target=writer, args=(t,), daemon=True) for t in range(6)]
        for th in threads:
            th.start()
        time.sleep(2.0)
        d.kill9()
        stop.set()
        for th in threads:
            th.join(timeout=30)
        self.assertGreater(len(acked), 50, "too few writes acknowledged before the kill")
        print("\n  %d writes acknowledged before kill -9 (properties: %s)" % (len(acked), use_props), file=sys.stderr)

        d2 = self.start(data=d.data, shards=2)
        missing = []
        for ai, a in enumerate(actors):
            a.daemon = d2
            stored_attrs = {}
            r = a.req("GET", "/devtest/attributes/conc")
            if r.status == 200:
                stored_attrs = {k: v["data"] for k, v in r.json().items()}
            stored_props = {}
            if use_props:
                r = a.req("GET", "/properties")
                self.assertEqual(r.status, 200, r)
                stored_props = r.json()
            for (idx, kind, name, n) in acked:
                if idx != ai:
                    continue
                store = stored_props if kind == "prop" else stored_attrs
                if store.get(name) != {"n": n}:
                    missing.append((ai, kind, name))
        self.assertEqual(missing, [], "%d of %d acknowledged writes lost" % (len(missing), len(acked)))
        for t, n in counters.items():
            a = actors[t % 2]
            r = a.req("GET", "/devtest/attributes/counter/t%d" % t)
            self.assertEqual(r.status, 200, r)
            self.assertGreaterEqual(r.json()["data"], n)
        d2.stop()
        self.assertTrue(integrity_ok(d2.data))

    def test_repeated_kills(self):
        d = self.start()
        a = d.create_actor("again", "again-pass")
        for round_ in range(3):
            r = a.req("POST", "/devtest/attribute/rounds", json_body={"r%d" % round_: round_})
            self.assertEqual(r.status, 200, r)
            d = self.restart_after_kill(d)
            a.daemon = d
        r = a.req("GET", "/devtest/attributes/rounds")
        self.assertEqual({k: v["data"] for k, v in r.json().items()}, {"r0": 0, "r1": 1, "r2": 2})


if __name__ == "__main__":
    awtest.main()
