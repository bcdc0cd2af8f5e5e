"""Suspension and resume with resync callbacks (protocol.md §9.9 resync, sdk-api.md §6.7, clarifications #4)."""

import awtest
from test_subscriptions import befriend, mirror, remote, wait_for


class Suspension(awtest.PubSubTest):
    def test_suspend_resume_resyncs(self):
        a = self.sub.create_actor("s", "pw")
        b = self.pub.create_actor("p", "pw")
        secret = befriend(a, b)
        b.req("PUT", "/properties/x", body="1")
        r = a.req("POST", "/subscriptions", json_body={"peerid": b.id, "target": "properties", "granularity": "high"})
        self.assertEqual(r.status, 204, r)
        subid = r.header("location").rsplit("/", 1)[1]
        self.assertEqual(remote(a, b), {"x": 1})
        # only the creator may suspend; the target is required
        self.assertEqual(b.req("POST", "/devtest/subscriptions/suspend", bearer=secret,
                               json_body={"target": "properties"}).status, 403)
        self.assertEqual(b.req("POST", "/devtest/subscriptions/suspend", json_body={}).status, 400)
        r = b.req("POST", "/devtest/subscriptions/suspend", json_body={"target": "properties"})
        self.assertEqual(r.status, 200, r)
        # while suspended: no diffs, no sequence movement
        b.req("PUT", "/properties/x", body="2")
        b.req("PUT", "/properties/y", body="3")
        b.req("DELETE", "/properties/x")
        doc = b.req("GET", "/subscriptions/%s/%s" % (a.id, subid)).json()
        self.assertEqual(doc["sequence"], 0)
        self.assertEqual(remote(a, b), {"x": 1})
        # resume: one resync per subscription, consuming a sequence number; the subscriber replaces its copy
        r = b.req("POST", "/devtest/subscriptions/resume", json_body={"target": "properties"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["queued"], 1)
        self.assertTrue(wait_for(lambda: remote(a, b) == {"y": 3}), remote(a, b))
        self.assertTrue(wait_for(lambda: mirror(a, b)[0]["sequence"] == 1))
        # resume when not suspended -> 404
        self.assertEqual(b.req("POST", "/devtest/subscriptions/resume", json_body={"target": "properties"}).status, 404)
        # normal delivery continues after the resync
        b.req("PUT", "/properties/z", body="4")
        self.assertTrue(wait_for(lambda: remote(a, b) == {"y": 3, "z": 4}), remote(a, b))


if __name__ == "__main__":
    awtest.main()
