"""Storage executor (--store-threads): storage calls that wait complete later on the loop, and the loop keeps
serving meanwhile. A second SQLite connection holds the write lock for a second; a PUT then waits in the
storage layer's busy handler. With the executor on, the loop (factory page) and other storage work (/meta
reads, WAL readers are not blocked) answer at once, and the PUT completes with 204 when the lock goes.
Without it (the SQLite default, faster when storage does not wait) the whole shard waits for the lock."""
import os
import sqlite3
import threading
import time
import unittest

import awtest


class StoreExec(unittest.TestCase):
    def run_locked_put(self, threads):
        d = awtest.Daemon("--store-threads", str(threads)).start()
        try:
            a = d.create_actor("exec", "exec-pass")
            r = a.req("PUT", "/properties/mood", json_body="calm")
            self.assertEqual(r.status, 204)
            con = sqlite3.connect(os.path.join(d.data, "actingweb.db"), timeout=10, isolation_level=None,
                                  check_same_thread=False)
            con.execute("BEGIN IMMEDIATE")  # the write lock, held by another connection
            out = {}

            def put():
                t0 = time.time()
                out["r"] = a.req("PUT", "/properties/mood", json_body="busy")
                out["ms"] = (time.time() - t0) * 1000

            th = threading.Thread(target=put)
            th.start()
            unlock = threading.Timer(1.2, lambda: (con.execute("COMMIT"), con.close()))
            unlock.start()
            time.sleep(0.2)  # the PUT is waiting for the lock now
            t0 = time.time()
            page = d.req("GET", "/")
            page_ms = (time.time() - t0) * 1000
            t0 = time.time()
            meta = a.req("GET", "/meta/id")
            meta_ms = (time.time() - t0) * 1000
            unlock.join(10)
            th.join(10)
            self.assertFalse(th.is_alive())
            self.assertEqual(page.status, 200)
            self.assertEqual(meta.status, 200)
            self.assertEqual(out["r"].status, 204, out["r"].body)
            self.assertEqual(a.req("GET", "/properties/mood").json(), "busy")
            return page_ms, meta_ms, out["ms"]
        finally:
            d.stop()

    def test_executor_keeps_the_loop_serving(self):
        page_ms, meta_ms, put_ms = self.run_locked_put(2)
        self.assertLess(page_ms, 300, "the loop waited for storage")
        self.assertLess(meta_ms, 300, "a read waited behind the blocked write")
        self.assertGreater(put_ms, 700, "the PUT did not wait for the lock")

    def test_inline_storage_holds_the_shard(self):
        page_ms, _, put_ms = self.run_locked_put(0)
        self.assertGreater(page_ms, 500, "inline storage is expected to hold the loop while it waits")
        self.assertGreater(put_ms, 700)

    def test_concurrent_writers_on_worker_connections(self):
        d = awtest.Daemon("--store-threads", "3").start()
        try:
            a = d.create_actor("exec2", "exec2-pass")
            errors = []

            def writer(k):
                for i in range(40):
                    r = a.req("PUT", "/properties/w%d" % k, json_body={"i": i})
                    if r.status != 204:
                        errors.append((k, i, r.status, r.body))

            ths = [threading.Thread(target=writer, args=(k,)) for k in range(6)]
            for t in ths:
                t.start()
            for t in ths:
                t.join(60)
            self.assertEqual(errors, [])
            got = a.req("GET", "/properties").json()
            for k in range(6):
                self.assertEqual(got["w%d" % k], {"i": 39})
        finally:
            d.stop()


if __name__ == "__main__":
    awtest.main()
