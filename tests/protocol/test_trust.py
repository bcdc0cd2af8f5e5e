"""/trust end to end between real daemons (protocol.md §7, clarifications #3)."""
import unittest

import awtest


def initiate(a, b, rel="friend", desc="test"):
    r = a.req("POST", "/trust", json_body={"url": b.url, "relationship": rel, "desc": desc})
    assert r.status == 201, r
    return r


def rec(actor, peer, rel="friend", **kw):
    return actor.req("GET", "/trust/%s/%s" % (rel, peer.id), **kw)


FIELDS = ("id", "peerid", "baseuri", "type", "relationship", "secret", "desc", "approved", "peer_approved",
          "verified", "verification_token")


class TrustTwoDaemons(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d1 = awtest.Daemon().start()
        cls.d2 = awtest.Daemon().start()

    @classmethod
    def tearDownClass(cls):
        for d in (cls.d1, cls.d2):
            try:
                d.stop()
            finally:
                d.cleanup()

    def pair(self):
        return self.d1.create_actor(), self.d2.create_actor()

    def test_supported_tag(self):
        a = self.d1.create_actor()
        tags = a.req("GET", "/meta/actingweb/supported").text.split(",")
        self.assertIn("trust", tags)
        self.assertNotIn("onewaytrust", tags)

    def test_handshake_pending_then_approve(self):
        a, b = self.pair()
        r = initiate(a, b, desc="calendar")
        self.assertEqual(r.header("location"), "%s/trust/friend/%s" % (a.url, b.id))
        ra = r.json()
        for f in FIELDS:
            self.assertIn(f, ra)
        self.assertEqual((ra["id"], ra["peerid"], ra["baseuri"]), (a.id, b.id, b.url))
        self.assertEqual(ra["type"], "urn:actingweb:actingweb-c:actingwebd")
        self.assertEqual((ra["approved"], ra["peer_approved"], ra["verified"]), (True, False, True))
        self.assertRegex(ra["secret"], "^[0-9a-f]{40}$")
        self.assertRegex(ra["verification_token"], "^[0-9a-f]{40}$")
        self.assertEqual(ra["desc"], "calendar")
        self.assertEqual(rec(a, b).status, 200)
        # B: pending (202 for the creator), verified by the call-back, same secret.
        r = rec(b, a)
        self.assertEqual(r.status, 202, r)
        rb = r.json()
        self.assertEqual((rb["id"], rb["peerid"], rb["baseuri"]), (b.id, a.id, a.url))
        self.assertEqual((rb["approved"], rb["peer_approved"], rb["verified"]), (False, True, True))
        self.assertEqual(rb["secret"], ra["secret"])
        self.assertNotEqual(rb["verification_token"], ra["verification_token"])
        self.assertEqual(rb["relationship"], "friend")
        # The peer reading its own unapproved record at B: 403; at A (approved): 200 with both token keys.
        self.assertEqual(rec(b, a, bearer=ra["secret"]).status, 403)
        r = rec(a, b, bearer=ra["secret"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["verification_token"], ra["verification_token"])
        self.assertEqual(r.json()["verificationToken"], ra["verification_token"])
        # B approves: A hears it before the 204.
        self.assertEqual(b.req("PUT", "/trust/friend/" + a.id, json_body={"approved": True}).status, 204)
        self.assertEqual(rec(a, b).json()["peer_approved"], True)
        r = rec(b, a)
        self.assertEqual(r.status, 200)
        self.assertEqual((r.json()["approved"], r.json()["peer_approved"]), (True, True))
        # Now the peer can read at B too.
        self.assertEqual(rec(b, a, bearer=ra["secret"]).status, 200)
        # A no-op PUT (already approved) and a desc edit are 204.
        self.assertEqual(a.req("PUT", "/trust/friend/" + b.id, json_body={"approved": True}).status, 204)
        self.assertEqual(a.req("PUT", "/trust/friend/" + b.id, json_body={"desc": "new"}).status, 204)
        self.assertEqual(rec(a, b).json()["desc"], "new")

    def test_approval_other_direction(self):
        a, b = self.pair()
        # B (on d2) initiates toward A (on d1); A approves.
        initiate(b, a, rel="partner")
        self.assertEqual(rec(a, b, rel="partner").status, 202)
        self.assertEqual(a.req("PUT", "/trust/partner/" + b.id, json_body={"approved": "true"}).status, 204)
        self.assertEqual(rec(b, a, rel="partner").json()["peer_approved"], True)
        self.assertEqual(rec(a, b, rel="partner").status, 200)

    def test_approval_by_form(self):
        a, b = self.pair()
        initiate(a, b)
        r = b.req("GET", "/trust/friend/%s?_method=PUT&approved=true" % a.id)
        self.assertEqual(r.status, 204, r)
        self.assertTrue(rec(a, b).json()["peer_approved"])

    def test_peer_notification_post(self):
        a, b = self.pair()
        secret = initiate(a, b).json()["secret"]
        # B's peer (A, via bearer) posting approval at B sets B's peer_approved (already true) -> 204.
        self.assertEqual(b.req("POST", "/trust/friend/" + a.id, json_body={"approved": True}, bearer=secret).status, 204)
        # Missing approved from the peer -> 403; bad JSON -> 400.
        self.assertEqual(b.req("POST", "/trust/friend/" + a.id, json_body={}, bearer=secret).status, 403)
        r = b.req("POST", "/trust/friend/" + a.id, body="{", headers={"Content-Type": "application/json"}, bearer=secret)
        self.assertEqual(r.status, 400)
        # Creator on a missing record -> 404.
        self.assertEqual(b.req("POST", "/trust/friend/" + "f" * 32, json_body={"approved": True}).status, 404)
        # Another peer's bearer -> 403.
        c = self.d2.create_actor()
        s2 = initiate(c, b).json()["secret"]
        self.assertEqual(b.req("PUT", "/trust/friend/" + c.id, json_body={"approved": True}).status, 204)
        self.assertEqual(b.req("POST", "/trust/friend/" + a.id, json_body={"approved": True}, bearer=s2).status, 403)

    def test_delete_from_initiator(self):
        a, b = self.pair()
        initiate(a, b)
        self.assertEqual(a.req("DELETE", "/trust/friend/" + b.id).status, 204)
        self.assertEqual(rec(a, b).status, 404)
        self.assertEqual(rec(b, a).status, 404)

    def test_delete_from_responder(self):
        a, b = self.pair()
        initiate(a, b)
        self.assertEqual(b.req("DELETE", "/trust/friend/" + a.id).status, 204)
        self.assertEqual(rec(b, a).status, 404)
        self.assertEqual(rec(a, b).status, 404)

    def test_delete_by_peer_bearer_is_local(self):
        a, b = self.pair()
        secret = initiate(a, b).json()["secret"]
        # A (the peer at B) deletes its record at B: B deletes locally only, A keeps its record.
        self.assertEqual(b.req("DELETE", "/trust/friend/" + a.id, bearer=secret).status, 204)
        self.assertEqual(rec(b, a).status, 404)
        self.assertEqual(rec(a, b).status, 200)

    def test_delete_peer_true_then_reinitiate(self):
        a, b = self.pair()
        s1 = initiate(a, b).json()["secret"]
        self.assertEqual(a.req("DELETE", "/trust/friend/%s?peer=true" % b.id).status, 204)
        self.assertEqual(rec(a, b).status, 404)
        self.assertEqual(rec(b, a).status, 202)  # B keeps its record
        s2 = initiate(a, b).json()["secret"]
        self.assertNotEqual(s1, s2)
        self.assertEqual(rec(b, a).json()["secret"], s2)  # replaced at B too
        self.assertEqual(len(b.req("GET", "/trust").json()), 1)

    def test_reinitiation_replaces(self):
        a, b = self.pair()
        s1 = initiate(a, b).json()["secret"]
        b.req("PUT", "/trust/friend/" + a.id, json_body={"approved": True})
        r2 = initiate(a, b, rel="associate").json()
        self.assertNotEqual(r2["secret"], s1)
        self.assertEqual(len(a.req("GET", "/trust").json()), 1)
        rb = rec(b, a, rel="associate")
        self.assertEqual(rb.status, 202)  # back to the policy value
        self.assertEqual(rb.json()["secret"], r2["secret"])
        self.assertEqual(rec(b, a, rel="friend").status, 404)

    def test_list_and_filters(self):
        a, b = self.pair()
        c = self.d2.create_actor()
        self.assertEqual(a.req("GET", "/trust").json(), [])
        initiate(a, b, rel="friend")
        initiate(a, c, rel="associate")
        self.assertEqual(len(a.req("GET", "/trust").json()), 2)
        self.assertEqual([t["peerid"] for t in a.req("GET", "/trust?relationship=friend").json()], [b.id])
        self.assertEqual([t["peerid"] for t in a.req("GET", "/trust?peerid=" + c.id).json()], [c.id])
        self.assertEqual(len(a.req("GET", "/trust?type=urn:actingweb:actingweb-c:actingwebd").json()), 2)
        self.assertEqual(a.req("GET", "/trust?type=friend").json(), [])
        self.assertEqual(a.req("GET", "/trust?relationship=friend&peerid=" + c.id).json(), [])

    def test_permissions_query(self):
        a, b = self.pair()
        initiate(a, b)
        r = a.req("GET", "/trust/friend/%s?permissions=true" % b.id)
        self.assertEqual(r.status, 200)
        self.assertIn("permissions", r.json())
        self.assertIsNone(r.json()["permissions"])
        self.assertNotIn("permissions", rec(a, b).json())
        # PUT with a permissions object creates the override (§7.11); a malformed one is a 400.
        perms = {"properties": {"patterns": ["public/*"], "operations": ["read"]}}
        self.assertEqual(a.req("PUT", "/trust/friend/" + b.id, json_body={"permissions": perms}).status, 204)
        p = a.req("GET", "/trust/friend/%s?permissions=true" % b.id).json()["permissions"]
        self.assertEqual(p["properties"]["patterns"], ["public/*"])
        self.assertIn("updated_at", p)
        r = a.req("PUT", "/trust/friend/" + b.id, json_body={"permissions": {"properties": 7}})
        self.assertEqual(r.status, 400)
        self.assertEqual(a.req("PUT", "/trust/friend/" + b.id, json_body={"permissions": None}).status, 204)
        self.assertIsNone(a.req("GET", "/trust/friend/%s?permissions=true" % b.id).json()["permissions"])

    def test_statuses(self):
        a, b = self.pair()
        secret = initiate(a, b).json()["secret"]
        self.assertEqual(a.req("GET", "/trust", noauth=True).status, 401)
        self.assertEqual(a.req("GET", "/trust", auth=("creator", "wrong")).status, 403)
        self.assertEqual(a.req("POST", "/trust", json_body={"url": b.url}, noauth=True).status, 401)
        self.assertEqual(a.req("GET", "/trust", bearer=secret).status, 403)  # friend peers cannot list
        self.assertEqual(a.req("GET", "/trust/friend").status, 404)
        self.assertEqual(a.req("GET", "/trust/friend/" + "0" * 32).status, 404)
        self.assertEqual(rec(a, b, rel="associate").status, 404)  # {rel} mismatch
        self.assertEqual(a.req("GET", "/trust/friend/" + b.id, noauth=True).status, 401)
        self.assertEqual(a.req("PUT", "/trust/friend/" + b.id, json_body={"approved": False}).status, 400)
        self.assertEqual(a.req("PUT", "/trust/friend/" + "0" * 32, json_body={"approved": True}).status, 404)
        self.assertEqual(a.req("PUT", "/trust/friend/" + b.id, json_body={"approved": True}, bearer=secret).status, 403)
        self.assertEqual(a.req("DELETE", "/trust/friend/" + "0" * 32, noauth=True).status, 404)
        self.assertEqual(a.req("DELETE", "/trust/friend/" + "0" * 32, auth=("x", "y")).status, 404)
        self.assertEqual(a.req("DELETE", "/trust/friend/" + b.id, noauth=True).status, 403)
        self.assertEqual(a.req("DELETE", "/trust/friend/" + a.id).status, 400)
        self.assertEqual(a.req("POST", "/trust", json_body={"relationship": "friend"}).status, 400)
        self.assertEqual(a.req("POST", "/trust", json_body={"url": b.url + "/"}).status, 400)
        self.assertEqual(a.req("POST", "/trust", json_body={"url": "ftp://x/y"}).status, 400)
        self.assertEqual(a.req("POST", "/trust", body="{", headers={"Content-Type": "application/json"}).status, 400)
        self.assertEqual(rec(a, b).status, 200)  # nothing above changed it

    def test_inbound_bad_requests(self):
        b = self.d2.create_actor()
        r = b.req("POST", "/trust/friend", json_body={"baseuri": "http://127.0.0.1:1/x"}, noauth=True)
        self.assertEqual(r.status, 400)
        r = b.req("POST", "/trust/friend", json_body={"id": "x"}, noauth=True)
        self.assertEqual(r.status, 400)
        r = b.req("POST", "/trust/friend", body="nope", headers={"Content-Type": "application/json"}, noauth=True)
        self.assertEqual(r.status, 400)
        r = self.d2.req("POST", "/" + "0" * 32 + "/trust/friend", json_body={"baseuri": "http://127.0.0.1:1/x", "id": "x"})
        self.assertEqual(r.status, 404)

    def test_inbound_secret_conflict(self):
        a, b = self.pair()
        secret = initiate(a, b).json()["secret"]
        # Another requester presenting the same secret -> 403, nothing stored.
        r = b.req("POST", "/trust/friend", noauth=True, json_body={
            "baseuri": "http://127.0.0.1:1/" + "e" * 32, "id": "e" * 32, "type": "urn:x", "secret": secret})
        self.assertEqual(r.status, 403, r)
        self.assertEqual(len(b.req("GET", "/trust").json()), 1)

    def test_inbound_unverifiable(self):
        b = self.d2.create_actor()
        # Unreachable requester and no verify token: stored pending, verified false, never fails.
        r = b.req("POST", "/trust/friend", noauth=True, json_body={
            "baseuri": "http://127.0.0.1:1/" + "d" * 32, "id": "d" * 32, "secret": "s" * 40, "verify": "v" * 40})
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.json()["verified"], False)
        self.assertEqual(r.json()["type"], "")
        self.assertEqual(r.header("location"), "%s/trust/friend/%s" % (b.url, "d" * 32))
        # No secret: a generated one, verified false.
        r = b.req("POST", "/trust/associate", noauth=True, json_body={"baseuri": "http://127.0.0.1:1/" + "c" * 32, "id": "c" * 32})
        self.assertEqual(r.status, 202, r)
        self.assertRegex(r.json()["secret"], "^[0-9a-f]{40}$")

    def test_trustee(self):
        a = self.d1.create_actor(passphrase="x" * 20)
        self.assertEqual(a.req("GET", "/trust/trustee").status, 404)
        r = a.req("PUT", "/trust/trustee", json_body={"trustee_root": "http://127.0.0.1:1/" + "a" * 32})
        self.assertEqual(r.status, 204)
        self.assertEqual(a.req("GET").json()["trustee_root"], "http://127.0.0.1:1/" + "a" * 32)
        self.assertEqual(a.req("PUT", "/trust/trustee", body="{", headers={"Content-Type": "application/json"}).status, 400)
        r = a.req("PUT", "/trust/trustee", json_body={"creator": "trustee"})
        self.assertEqual(r.status, 204)
        a.creator = "trustee"
        # The passphrase now works as a trustee bearer on /trust.
        self.assertEqual(a.req("GET", "/trust", bearer=a.passphrase).status, 200)
        self.assertEqual(a.req("DELETE", "/trust/trustee").status, 204)
        self.assertNotIn("trustee_root", a.req("GET").json())

    def test_actor_delete_notifies_peers(self):
        a, b = self.pair()
        c = self.d2.create_actor()
        initiate(a, b)
        initiate(c, a)
        self.assertEqual(a.req("DELETE").status, 204)
        self.assertEqual(rec(b, a).status, 404)
        self.assertEqual(rec(c, a).status, 404)


class TrustAutoAccept(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d1 = awtest.Daemon().start()
        cls.d2 = awtest.Daemon("--auto-accept", "--default-relationship", "friend").start()

    @classmethod
    def tearDownClass(cls):
        for d in (cls.d1, cls.d2):
            try:
                d.stop()
            finally:
                d.cleanup()

    def test_auto_accept_default_relationship(self):
        a, b = self.d1.create_actor(), self.d2.create_actor()
        ra = initiate(a, b, rel="friend").json()
        self.assertTrue(ra["peer_approved"])
        self.assertEqual(rec(a, b).json()["peer_approved"], True)
        r = rec(b, a)
        self.assertEqual(r.status, 200)
        self.assertEqual((r.json()["approved"], r.json()["peer_approved"]), (True, True))

    def test_other_relationship_pending(self):
        a, b = self.d1.create_actor(), self.d2.create_actor()
        ra = initiate(a, b, rel="partner").json()
        self.assertFalse(ra["peer_approved"])
        self.assertEqual(rec(b, a, rel="partner").status, 202)

    def test_default_relationship_when_omitted(self):
        a, b = self.d2.create_actor(), self.d1.create_actor()
        r = a.req("POST", "/trust", json_body={"url": b.url})
        self.assertEqual(r.status, 201)
        self.assertEqual(r.json()["relationship"], "friend")  # d2's default
        a2, b2 = self.d1.create_actor(), self.d2.create_actor()
        r = a2.req("POST", "/trust", body="url=" + b2.url, headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json()["relationship"], "associate")  # d1's default


class TrustThreeDaemons(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ds = [awtest.Daemon().start() for _ in range(3)]

    @classmethod
    def tearDownClass(cls):
        for d in cls.ds:
            try:
                d.stop()
            finally:
                d.cleanup()

    def test_mesh_and_cascade(self):
        a, b, c = [d.create_actor() for d in self.ds]
        initiate(a, b)
        initiate(a, c, rel="admin")
        initiate(b, c)
        for x, y in ((b, a), (c, a), (c, b)):
            rel = "admin" if (x, y) == (c, a) else "friend"
            self.assertEqual(x.req("PUT", "/trust/%s/%s" % (rel, y.id), json_body={"approved": True}).status, 204)
        for x, y, rel in ((a, b, "friend"), (b, a, "friend"), (a, c, "admin"), (c, a, "admin"), (b, c, "friend"),
                          (c, b, "friend")):
            r = rec(x, y, rel=rel)
            self.assertEqual(r.status, 200, (x.id, y.id, r))
            self.assertEqual((r.json()["approved"], r.json()["peer_approved"]), (True, True))
        # C's admin trust with A lets A's... (A is the admin peer at C): A reads C's trust list with its bearer.
        secret = rec(a, c, rel="admin").json()["secret"]
        self.assertEqual(c.req("GET", "/trust", bearer=secret).status, 200)
        self.assertEqual(a.req("DELETE").status, 204)
        self.assertEqual(rec(b, a).status, 404)
        self.assertEqual(rec(c, a, rel="admin").status, 404)
        self.assertEqual(rec(b, c).status, 200)


class DevtestProxy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = awtest.Daemon().start()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.d.stop()
        finally:
            cls.d.cleanup()

    def test_twin(self):
        a = self.d.create_actor()
        r = a.req("POST", "/devtest/proxy/create")
        self.assertEqual(r.status, 200, r)
        meta = r.json()
        self.assertEqual(meta["trustee_root"], a.url)
        twin = r.header("location")
        self.assertEqual(twin, self.d.base + "/" + meta["id"])
        trusts = a.req("GET", "/trust").json()
        self.assertEqual([(t["peerid"], t["relationship"], t["approved"], t["peer_approved"]) for t in trusts],
                         [(meta["id"], "friend", True, True)])
        # Same twin the second time.
        r = a.req("POST", "/devtest/proxy/create")
        self.assertEqual(r.json()["id"], meta["id"])
        self.assertEqual(a.req("GET", "/devtest/proxy/nothing").status, 404)
        # Deleting the actor deletes the twin.
        self.assertEqual(a.req("DELETE").status, 204)
        self.assertEqual(self.d.req("GET", "/%s/meta" % meta["id"]).status, 404)

    def test_proxy_properties(self):
        a = self.d.create_actor()
        r = a.req("POST", "/devtest/proxy/create", json_body={"colour": "blue"})
        self.assertEqual(r.status, 200, r)
        r = a.req("GET", "/devtest/proxy/properties")
        if r.status == 404 and b"not supported" in r.body:
            self.skipTest("/properties not served yet")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json().get("colour"), "blue")
        self.assertEqual(a.req("PUT", "/devtest/proxy/properties/size", body="42",
                               headers={"Content-Type": "application/json"}).status, 204)
        self.assertEqual(a.req("GET", "/devtest/proxy/properties").json().get("size"), 42)
        # DELETE is relayed with the twin's own answer (what a friend may do there is the twin's call).
        twin = a.req("GET", "/trust").json()[0]
        r = a.req("DELETE", "/devtest/proxy/properties")
        direct = self.d.req("DELETE", "/%s/properties" % twin["peerid"], bearer=twin["secret"])
        self.assertEqual(r.status, direct.status)


if __name__ == "__main__":
    awtest.main()
