"""Peer notices that fail are retried from the durable outbox (clarifications #3: a trust deleted while
the peer is unreachable is deleted locally at once, and the peer hears of it once it is back)."""
import time
import unittest

import awtest
from test_subscriptions import befriend, wait_for


class Notices(unittest.TestCase):
    def setUp(self):
        self.d1 = awtest.Daemon().start()
        self.d2 = awtest.Daemon().start()

    def tearDown(self):
        for d in (self.d1, self.d2):
            try:
                d.stop()
            finally:
                d.cleanup()

    def test_trust_delete_notice_retried_after_peer_returns(self):
        a = self.d1.create_actor("a", "pw")
        b = self.d2.create_actor("b", "pw")
        befriend(a, b)
        self.d2.stop()
        r = a.req("DELETE", "/trust/friend/%s" % b.id)
        self.assertEqual(r.status, 204, r)
        self.assertEqual(a.req("GET", "/trust/friend/%s" % b.id).status, 404)
        time.sleep(0.5)
        self.d2.start()  # same port and data
        self.assertEqual(b.req("GET", "/trust/friend/%s" % a.id).status, 200)
        gone = wait_for(lambda: b.req("GET", "/trust/friend/%s" % a.id).status == 404, timeout=20)
        self.assertTrue(gone, "the delete notice never reached the peer")

    def test_notice_survives_publisher_restart(self):
        a = self.d1.create_actor("a", "pw")
        b = self.d2.create_actor("b", "pw")
        befriend(a, b)
        self.d2.stop()
        self.assertEqual(a.req("DELETE", "/trust/friend/%s" % b.id).status, 204)
        self.d1.stop()          # the queued notice is in storage
        self.d1.start()
        self.d2.start()
        gone = wait_for(lambda: b.req("GET", "/trust/friend/%s" % a.id).status == 404, timeout=20)
        self.assertTrue(gone, "the delete notice was lost across a restart")


if __name__ == "__main__":
    awtest.main()
