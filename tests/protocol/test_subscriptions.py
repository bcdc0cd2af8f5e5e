"""Subscriptions and callbacks between real daemons (protocol.md §9, issue #4)."""
import json
import threading
import time

import awtest


def befriend(a, b):
    """A initiates a friend trust toward B; B approves; both records approved."""
    r = a.req("POST", "/trust", json_body={"url": b.url, "relationship": "friend"})
    assert r.status == 201, r
    r = b.req("PUT", "/trust/friend/%s" % a.id, json_body={"approved": True})
    assert r.status == 204, r
    ra = a.req("GET", "/trust/friend/%s" % b.id).json()
    assert ra["approved"] and ra["peer_approved"], ra
    return ra["secret"]


def wait_for(fn, timeout=10.0, step=0.05):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(step)
    return last


def remote(a, b):
    """A's stored copy of B's data (devtest view of the remote store)."""
    r = a.req("GET", "/devtest/attributes/remote:%s" % b.id)
    if r.status == 404:
        return {}
    assert r.status == 200, r
    out = {}
    for k, v in r.json().items():
        d = v["data"]
        if isinstance(d, dict) and list(d.keys()) == ["value"]:
            d = d["value"]
        out[k] = d
    return out


def mirror(a, b):
    subs = a.req("GET", "/subscriptions/%s" % b.id).json()["data"]
    return [s for s in subs if s["callback"]]


class Subscriptions(awtest.PubSubTest):
    def pair(self):
        a = self.sub.create_actor("subscriber", "pw-a")
        b = self.pub.create_actor("publisher", "pw-b")
        secret = befriend(a, b)
        return a, b, secret

    def subscribe(self, a, b, **scope):
        body = {"peerid": b.id, "target": "properties", "granularity": "high"}
        body.update(scope)
        r = a.req("POST", "/subscriptions", json_body=body)
        self.assertEqual(r.status, 204, r)
        loc = r.header("location")
        self.assertTrue(loc.startswith(b.url + "/subscriptions/" + a.id + "/"), loc)
        return loc.rsplit("/", 1)[1]

    def test_tag_advertised(self):
        b = self.pub.create_actor()
        self.assertIn("subscriptions", b.req("GET", "/meta/actingweb/supported").text.split(","))

    def test_diffs_follow_the_permission_override(self):
        """A diff carries only what the subscriber may read (its trust type's defaults merged with the
        override the publisher stored for it); a peer without an override, on the same publisher, gets it all."""
        a, b, _ = self.pair()
        c = self.sub.create_actor("other", "pw-c")
        befriend(c, b)
        r = b.req("PUT", "/trust/friend/%s/permissions" % a.id,
                  json_body={"properties": {"patterns": ["*"], "excluded_patterns": ["private*"]}})
        self.assertEqual(r.status, 201, r)
        self.subscribe(a, b)
        self.subscribe(c, b)
        self.assertEqual(b.req("PUT", "/properties/open", body="1").status, 204)
        self.assertEqual(b.req("PUT", "/properties/private_diary", body="2").status, 204)
        self.assertEqual(b.req("PUT", "/properties/last", body="3").status, 204)
        self.assertTrue(wait_for(lambda: "last" in remote(a, b) and "last" in remote(c, b)),
                        (remote(a, b), remote(c, b)))
        self.assertEqual(remote(a, b), {"open": 1, "last": 3})
        self.assertEqual(remote(c, b), {"open": 1, "private_diary": 2, "last": 3})
        seqs = [m["sequence"] for m in mirror(a, b)]
        self.assertEqual(seqs, [2], mirror(a, b))   # the filtered-out change took no sequence number

    def test_subscribe_baseline_and_high_callbacks(self):
        a, b, _ = self.pair()
        self.assertEqual(b.req("PUT", "/properties/mood", body="calm").status, 204)
        b.req("PUT", "/properties/work", json_body={"office": "B2", "desk": "14"})
        subid = self.subscribe(a, b)
        # mirror on A, record on B
        m = mirror(a, b)
        self.assertEqual([s["subscriptionid"] for s in m], [subid])
        self.assertEqual(m[0]["granularity"], "high")
        recs = b.req("GET", "/subscriptions/%s" % a.id).json()["data"]
        self.assertEqual([(s["subscriptionid"], s["callback"]) for s in recs], [(subid, False)])
        # baseline stored before the 204
        self.assertEqual(remote(a, b), {"mood": "calm", "work": {"office": "B2", "desk": "14"}})
        # changes arrive by callback
        b.req("PUT", "/properties/work/desk", body="22", headers={"Content-Type": "application/json"})
        b.req("PUT", "/properties/city", body="Bergen")
        b.req("DELETE", "/properties/mood")
        want = {"work": {"office": "B2", "desk": 22}, "city": "Bergen"}
        got = wait_for(lambda: remote(a, b) == want and remote(a, b))
        self.assertEqual(remote(a, b), want)
        # publisher keeps diffs until acknowledged; sequence numbers 1..3
        r = b.req("GET", "/subscriptions/%s/%s" % (a.id, subid))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["sequence"], 3)
        # the subscriber acknowledges within the ack interval: diffs get cleared
        self.assertTrue(wait_for(lambda: b.req("GET", "/subscriptions/%s/%s" % (a.id, subid)).json()["data"] == [],
                                 timeout=8))
        self.assertEqual(mirror(a, b)[0]["sequence"], 3)

    def test_baseline_of_absent_subtarget(self):
        """A subtarget the publisher does not have yet is an empty baseline, not a failure: no pull sync
        follows it, so a granularity "none" subscription keeps its diffs until the subscriber asks."""
        a, b, _ = self.pair()
        subid = self.subscribe(a, b, subtarget="later", granularity="none")
        self.assertEqual(remote(a, b), {})
        self.assertEqual(b.req("PUT", "/properties/later", json_body={"x": 1}).status, 204)
        time.sleep(2.5)  # more than a tick of the subscriber's timer and its ack interval
        r = b.req("GET", "/subscriptions/%s/%s" % (a.id, subid)).json()
        self.assertEqual((r["sequence"], len(r["data"])), (1, 1), r)
        self.assertEqual(remote(a, b), {})
        self.assertNotIn("baseline of %s failed" % subid, self.sub.read_log())

    def test_publisher_api_statuses(self):
        a, b, secret = self.pair()
        path = "/subscriptions/%s" % a.id
        # wrong peer id in path -> 403; no target -> 400; no credentials -> 401
        other = "f" * 32
        r = b.req("POST", "/subscriptions/%s" % other, bearer=secret, json_body={"target": "properties"})
        self.assertEqual(r.status, 403, r)
        r = b.req("POST", path, bearer=secret, json_body={"subtarget": "x"})
        self.assertEqual(r.status, 400, r)
        r = b.req("POST", path, noauth=True, json_body={"target": "properties"})
        self.assertEqual(r.status, 401, r)
        r = b.req("POST", path, bearer=secret, body=b"{bad", headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 400, r)
        # the creator may not create one for a peer
        r = b.req("POST", path, json_body={"target": "properties"})
        self.assertEqual(r.status, 403, r)
        # a peer creates one directly, granularity none by default
        r = b.req("POST", path, bearer=secret, json_body={"id": a.id, "target": "properties", "subtarget": "work"})
        self.assertEqual(r.status, 201, r)
        body = r.json()
        subid = body["subscriptionid"]
        self.assertEqual(body, {"subscriptionid": subid, "target": "properties", "subtarget": "work",
                                "resource": "", "granularity": "none", "sequence": 0})
        self.assertEqual(r.header("location"), "%s/subscriptions/%s/%s" % (b.url, a.id, subid))
        b.req("PUT", "/properties/work", json_body={"office": "C7", "desk": "9"})
        b.req("PUT", "/properties/home", json_body={"street": "x"})   # other subtarget: no diff
        b.req("DELETE", "/properties/work/desk")
        r = b.req("GET", "%s/%s" % (path, subid), bearer=secret)
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        self.assertEqual(doc["sequence"], 2)
        self.assertEqual([d["data"] for d in doc["data"]], [{"office": "C7", "desk": "9"}, {"desk": ""}])
        self.assertEqual([d["sequence"] for d in doc["data"]], [1, 2])
        r = b.req("GET", "%s/%s/2" % (path, subid), bearer=secret)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["data"], {"desk": ""})
        self.assertEqual(b.req("GET", "%s/%s/9" % (path, subid), bearer=secret).status, 404)
        # clear up to 1
        self.assertEqual(b.req("PUT", "%s/%s" % (path, subid), bearer=secret, json_body={"sequence": 1}).status, 204)
        self.assertEqual(b.req("GET", "%s/%s/1" % (path, subid), bearer=secret).status, 404)
        self.assertEqual(b.req("PUT", "%s/%s" % (path, subid), bearer=secret, json_body={"x": 1}).status, 400)
        # another actor's bearer is refused; the creator can read
        self.assertEqual(b.req("GET", "%s/%s" % (path, subid), bearer="nope").status, 403)
        self.assertEqual(b.req("GET", "%s/%s" % (path, subid)).status, 200)
        # listing
        r = b.req("GET", "/subscriptions?target=properties")
        self.assertEqual(r.status, 200)
        self.assertIn(subid, [s["subscriptionid"] for s in r.json()["data"]])
        self.assertEqual(b.req("GET", "/subscriptions", bearer=secret).status, 403)
        # delete
        self.assertEqual(b.req("DELETE", "%s/%s" % (path, subid), bearer=secret).status, 204)
        self.assertEqual(b.req("GET", "%s/%s" % (path, subid), bearer=secret).status, 404)

    def test_concurrent_writers_never_reuse_sequence(self):
        a, b, secret = self.pair()
        r = b.req("POST", "/subscriptions/%s" % a.id, bearer=secret, json_body={"target": "properties"})
        subid = r.json()["subscriptionid"]
        n_threads, per = 8, 25

        def writer(t):
            for i in range(per):
                r = b.req("PUT", "/properties/p%d" % t, body=str(i), headers={"Content-Type": "application/json"})
                assert r.status == 204, r
        ts = [threading.Thread(target=writer, args=(t,)) for t in range(n_threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        doc = b.req("GET", "/subscriptions/%s/%s" % (a.id, subid), bearer=secret).json()
        seqs = [d["sequence"] for d in doc["data"]]
        self.assertEqual(seqs, list(range(1, n_threads * per + 1)))
        self.assertEqual(doc["sequence"], n_threads * per)

    def test_unsubscribe_removes_both_sides(self):
        a, b, _ = self.pair()
        b.req("PUT", "/properties/x", body="1")
        subid = self.subscribe(a, b)
        self.assertTrue(remote(a, b))
        r = a.req("DELETE", "/subscriptions/%s/%s" % (b.id, subid))
        self.assertEqual(r.status, 204, r)
        self.assertEqual(mirror(a, b), [])
        self.assertEqual(b.req("GET", "/subscriptions/%s" % a.id).json()["data"], [])
        self.assertEqual(remote(a, b), {})

    def test_callback_endpoint_statuses(self):
        a, b, secret = self.pair()
        subid = self.subscribe(a, b)
        path = "/callbacks/subscriptions/%s/%s" % (b.id, subid)
        # secret of A's trust with B: A's record holds the same secret
        body = {"id": b.id, "subscriptionid": subid, "target": "properties", "sequence": 1, "data": {"k": "v"}}
        self.assertEqual(a.req("POST", "/callbacks/subscriptions/%s/%s" % (b.id, "0" * 32), bearer=secret,
                               json_body=body).status, 404)
        self.assertEqual(a.req("POST", "/callbacks/subscriptions/%s/%s" % (b.id, "0" * 32), noauth=True,
                               json_body=body).status, 404)
        self.assertEqual(a.req("POST", path, noauth=True, json_body=body).status, 401)
        self.assertEqual(a.req("POST", path, bearer="wrong", json_body=body).status, 403)
        self.assertEqual(a.req("POST", path, bearer=secret, body=b"{x",
                               headers={"Content-Type": "application/json"}).status, 400)
        # out of order: 3 then 2 then 1 -> all applied in order
        for seq, val in ((3, "c"), (2, "b"), (1, "a")):
            b3 = dict(body, sequence=seq, data={"k%d" % seq: val})
            self.assertEqual(a.req("POST", path, bearer=secret, json_body=b3).status, 204)
        self.assertEqual(remote(a, b), {"k1": "a", "k2": "b", "k3": "c"})
        # duplicate is a no-op
        self.assertEqual(a.req("POST", path, bearer=secret, json_body=dict(body, sequence=2, data={"k2": "zzz"})).status, 204)
        self.assertEqual(remote(a, b)["k2"], "b")
        # resync replaces the scope
        r = a.req("POST", path, bearer=secret, json_body=dict(body, sequence=4, type="resync", data={"only": 1}))
        self.assertEqual(r.status, 204)
        self.assertEqual(remote(a, b), {"only": 1})
        self.assertEqual(mirror(a, b)[0]["sequence"], 4)

    def test_gap_resolved_by_timer(self):
        a, b, secret = self.pair()
        subid = self.subscribe(a, b)
        path = "/callbacks/subscriptions/%s/%s" % (b.id, subid)
        # real changes 1..3 at the publisher (delivered), then a fake callback with seq 10: a gap the
        # subscriber resolves on its own via pull sync / baseline within the gap timeout (5 s).
        b.req("PUT", "/properties/g", body="1")
        wait_for(lambda: remote(a, b).get("g") == 1)
        r = a.req("POST", path, bearer=secret,
                  json_body={"id": b.id, "subscriptionid": subid, "target": "properties", "sequence": 10,
                             "data": {"phantom": 1}})
        self.assertEqual(r.status, 204)
        b.req("PUT", "/properties/h", body="2")
        # no further callbacks needed: the timer syncs with the publisher (sequence 2) and drops the
        # queued entry only once it is covered.
        ok = wait_for(lambda: remote(a, b).get("h") == 2, timeout=15)
        self.assertTrue(ok, remote(a, b))


if __name__ == "__main__":
    awtest.main()
