"""/properties: simple values, nested paths, the collection, auth, and the bad-input matrix (protocol.md §6)."""
import json
import os
import sqlite3
import time

import awtest

JSON = {"Content-Type": "application/json"}
TEXT = {"Content-Type": "text/plain"}


class Properties(awtest.DaemonTest):
    daemon_args = ("--max-body", "65536")

    def setUp(self):
        self.a = self.d.create_actor("props-%s" % self._testMethodName[:40], "pw-props-123")

    # helpers ------------------------------------------------------------------------------
    def put(self, name, body, headers=JSON, **kw):
        return self.a.req("PUT", "/properties/" + name, body=body, headers=headers, **kw)

    def get(self, name="", **kw):
        return self.a.req("GET", "/properties" + ("/" + name if name else ""), **kw)

    def snapshot(self):
        r = self.get()
        self.assertStatus(r, 200)
        return r.json()

    def add_trust(self, relationship, approved=True):
        """Insert a trust straight into the daemon's database (the /trust endpoint is tested elsewhere)."""
        secret = os.urandom(20).hex()
        peer = os.urandom(16).hex()
        db = sqlite3.connect(os.path.join(self.d.data, "actingweb.db"), timeout=10)
        try:
            db.execute("INSERT INTO trusts(actor, peerid, baseuri, type, relationship, secret, desc, approved,"
                       " peer_approved, verified, verification_token, created_at) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                       (self.a.id, peer, "http://127.0.0.1:1/" + peer, "urn:actingweb:test:peer", relationship,
                        secret, "", 1 if approved else 0, 1, 1, "", "2026-01-01T00:00:00.000000Z"))
            db.commit()
        finally:
            db.close()
        return secret

    # simple values ------------------------------------------------------------------------
    def test_put_get_json_and_text(self):
        self.assertStatus(self.put("profile", b'{"lang": "nb", "n": [1, 2]}'), 204)
        r = self.get("profile")
        self.assertStatus(r, 200)
        self.assertTrue(r.header("content-type").startswith("application/json"))
        self.assertEqual(r.json(), {"lang": "nb", "n": [1, 2]})
        self.assertStatus(self.put("n", b"4"), 204)
        self.assertEqual(self.get("n").body, b"4")
        self.assertStatus(self.put("q", b'"x"'), 204)
        self.assertEqual(self.get("q").body, b'"x"')
        # any other content type: raw text, byte for byte
        self.assertStatus(self.put("mood", "calm today ✓".encode(), headers=TEXT), 204)
        r = self.get("mood")
        self.assertEqual(r.body, "calm today ✓".encode())
        self.assertTrue(r.header("content-type").startswith("application/json"))
        self.assertStatus(self.put("num", b"30", headers=TEXT), 204)
        self.assertEqual(self.get("num").body, b"30")
        self.assertEqual(self.snapshot(), {"profile": {"lang": "nb", "n": [1, 2]}, "n": 4, "q": "x",
                                           "mood": "calm today ✓", "num": 30})

    def test_replace_empty_delete(self):
        self.assertStatus(self.put("x", b'{"a": 1, "b": 2}'), 204)
        self.assertStatus(self.put("x", b'{"c": 3}'), 204)
        self.assertEqual(self.get("x").json(), {"c": 3})
        self.assertStatus(self.put("x", b""), 204)
        self.assertJsonError(self.get("x"), 404)
        self.assertStatus(self.a.req("DELETE", "/properties/never"), 204)
        self.assertStatus(self.put("y", b"1"), 204)
        self.assertStatus(self.a.req("DELETE", "/properties/y"), 204)
        self.assertJsonError(self.get("y"), 404)

    def test_empty_collection(self):
        r = self.get()
        self.assertStatus(r, 200)
        self.assertEqual(r.json(), {})

    def test_method_override(self):
        self.assertStatus(self.put("m", b"1"), 204)
        self.assertStatus(self.a.req("GET", "/properties/m?_method=DELETE"), 204)
        self.assertJsonError(self.get("m"), 404)
        self.assertStatus(self.put("m2", b"1"), 204)
        self.assertStatus(self.a.req("POST", "/properties/m2", body="_method=DELETE",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"}), 204)
        self.assertJsonError(self.get("m2"), 404)

    # nested -------------------------------------------------------------------------------
    def test_nested(self):
        self.assertStatus(self.put("home", b'{"street": "Strandgaten 1", "garden": 4}'), 204)
        self.assertStatus(self.put("home/garden/size", b"12"), 204)
        self.assertEqual(self.get("home").json(), {"street": "Strandgaten 1", "garden": {"size": 12}})
        self.assertStatus(self.put("home/city", b"Oslo", headers=TEXT), 204)
        r = self.get("home/city")
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b'"Oslo"')
        self.assertEqual(self.get("home/garden").json(), {"size": 12})
        self.assertJsonError(self.get("home/nope"), 404)
        self.assertJsonError(self.get("home/garden/size/deeper"), 404)
        self.assertJsonError(self.get("nothing/x"), 404)
        # deep merge keeps siblings
        self.assertStatus(self.put("home/garden", b'{"trees": 2}'), 204)
        self.assertEqual(self.get("home/garden").json(), {"size": 12, "trees": 2})
        # nested PUT on a missing property creates it; on raw text replaces it
        self.assertStatus(self.put("newp/a/b", b"true"), 204)
        self.assertEqual(self.get("newp").json(), {"a": {"b": True}})
        self.assertStatus(self.put("txt", b"plain", headers=TEXT), 204)
        self.assertEqual(self.get("txt/x").body, b"plain")  # Ref: whole text
        self.assertJsonError(self.a.req("DELETE", "/properties/txt/x"), 404)
        self.assertStatus(self.put("txt/k", b"1"), 204)
        self.assertEqual(self.get("txt").json(), {"k": 1})
        # nested delete
        self.assertStatus(self.a.req("DELETE", "/properties/home/garden/size"), 204)
        self.assertEqual(self.get("home/garden").json(), {"trees": 2})
        self.assertJsonError(self.a.req("DELETE", "/properties/home/garden/size"), 404)
        self.assertJsonError(self.a.req("DELETE", "/properties/home/street/x"), 404)
        self.assertJsonError(self.a.req("DELETE", "/properties/missing/x"), 404)

    # POST ---------------------------------------------------------------------------------
    def test_post_collection(self):
        r = self.a.req("POST", "/properties", json_body={"city": "Bergen", "age": "30", "profile": {"tz": "X"},
                                                          "n": 5})
        self.assertStatus(r, 201)
        self.assertEqual(r.json(), {"city": "Bergen", "age": "30", "profile": {"tz": "X"}, "n": 5})
        self.assertEqual(self.get("city").body, b"Bergen")
        self.assertEqual(self.get("age").json(), 30)  # posted string stored as raw text
        self.assertEqual(self.snapshot(), {"city": "Bergen", "age": 30, "profile": {"tz": "X"}, "n": 5})
        # "" deletes
        r = self.a.req("POST", "/properties", json_body={"city": ""})
        self.assertStatus(r, 201)
        self.assertJsonError(self.get("city"), 404)
        # POST /properties/{name} is a collection POST when {name} is not a list
        r = self.a.req("POST", "/properties/ignored", json_body={"k": 1})
        self.assertStatus(r, 201)
        self.assertEqual(self.get("k").json(), 1)
        self.assertJsonError(self.get("ignored"), 404)

    def test_post_nothing_and_errors(self):
        r = self.a.req("POST", "/properties", json_body={})
        self.assertJsonError(r, 403)
        self.assertEqual(r.json()["error"]["message"], "No attributes accepted")
        before = self.snapshot()
        for body in (b"{", b"[1]", b'{"a":1,"a":2}', b'"x"', b"\xff"):
            self.assertJsonError(self.a.req("POST", "/properties", body=body, headers=JSON), 400)
        # an invalid name anywhere rejects the whole batch
        self.assertJsonError(self.a.req("POST", "/properties", json_body={"ok": 1, "bad#name": 2}), 400)
        self.assertJsonError(self.a.req("POST", "/properties", json_body={"ok": 1, "list:x": 2}), 400)
        self.assertJsonError(self.a.req("POST", "/properties", json_body={"ok": 1, "n" * 256: 2}), 400)
        self.assertJsonError(self.a.req("POST", "/properties", json_body={"ok": 1, "": 2}), 400)
        self.assertJsonError(self.a.req("POST", "/properties", json_body={"ok": 1, "l": {"items": 5}}), 400)
        self.assertEqual(self.snapshot(), before)

    def test_post_form(self):
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        r = self.a.req("POST", "/properties", body="city=Bergen&n=5", headers=form)
        self.assertStatus(r, 201)
        self.assertEqual(self.get("city").body, b"Bergen")
        r = self.a.req("POST", "/properties", body="property=p1&property_type=simple&value=v1", headers=form)
        self.assertStatus(r, 201)
        self.assertEqual(self.get("p1").body, b"v1")
        r = self.a.req("POST", "/properties", body="property=l1&property_type=list&description=D", headers=form)
        self.assertStatus(r, 201)
        self.assertEqual(self.get("l1").json(), [])

    # DELETE all ---------------------------------------------------------------------------
    def test_delete_all(self):
        self.a.req("POST", "/properties", json_body={"a": 1, "b": "x", "l": {"_type": "list"}})
        self.assertStatus(self.a.req("POST", "/properties/l", json_body={"t": 1}), 201)
        self.assertStatus(self.a.req("DELETE", "/properties"), 204)
        self.assertEqual(self.snapshot(), {})
        self.assertJsonError(self.get("l"), 404)

    # list/name collisions -----------------------------------------------------------------
    def test_name_taken_by_list(self):
        self.assertStatus(self.a.req("POST", "/properties", json_body={"l": {"_type": "list"}}), 201)
        self.assertJsonError(self.put("l", b"1"), 409)
        self.assertJsonError(self.a.req("POST", "/properties", json_body={"x": 1, "l": 1}), 409)
        self.assertJsonError(self.get("x"), 404)  # atomic: nothing stored
        self.assertStatus(self.put("s", b"1"), 204)
        self.assertJsonError(self.a.req("POST", "/properties", json_body={"s": {"_type": "list"}}), 409)
        self.assertEqual(self.get("s").json(), 1)

    # bad-input matrix ---------------------------------------------------------------------
    def test_bad_input_matrix(self):
        self.assertStatus(self.put("keep", b'{"v": 1}'), 204)
        before = self.snapshot()
        cases = [
            (b"{", JSON, 400),                              # malformed JSON
            (b'{"a": 1, "a": 2}', JSON, 400),               # duplicate keys
            (b'"\xff\xfe"', JSON, 400),                     # invalid UTF-8 in JSON
            (b"\xff\xfe raw", TEXT, 400),                   # invalid UTF-8 raw text
            (b"[" * 65 + b"]" * 65, JSON, 400),             # deeper than --max-depth 64
            (b"x" * 70000, TEXT, 413),                      # over --max-body
        ]
        for body, hdrs, status in cases:
            for path in ("keep", "keep/v", "fresh"):
                r = self.put(path, body, headers=hdrs)
                self.assertJsonError(r, status)
        # collection POST: over --max-body, and a body that is neither JSON nor a form
        self.assertJsonError(self.a.req("POST", "/properties", body=b'{"a": "' + b"x" * 70000 + b'"}',
                                        headers=JSON), 413)
        self.assertJsonError(self.a.req("POST", "/properties", body=b"city=x", headers=TEXT), 400)
        # content type parameters are fine
        self.assertStatus(self.put("ct", b'{"a": 1}', headers={"Content-Type": "application/json; charset=utf-8"}),
                          204)
        self.assertEqual(self.get("ct").json(), {"a": 1})
        self.assertStatus(self.a.req("DELETE", "/properties/ct"), 204)
        # at the limit is fine
        self.assertStatus(self.put("deep", b"[" * 64 + b"]" * 64), 204)
        self.assertStatus(self.a.req("DELETE", "/properties/deep"), 204)
        # nesting made too deep through a nested PUT
        r = self.put("keep/" + "/".join("k%d" % i for i in range(10)), b"[" * 60 + b"]" * 60)
        self.assertJsonError(r, 400)
        # path tricks and names
        for path, ok in (("/properties/..", (400, 404)), ("/properties/a%2Fb", (400,)),
                         ("/properties/a%23b", (400,)), ("/properties/" + "n" * 300, (400, 414)),
                         ("/properties/%FF", (400,))):
            r = self.a.req("PUT", path, body=b"1", headers=JSON)
            self.assertIn(r.status, ok, (path, r))
        self.assertJsonError(self.get("list:internal"), 404)
        self.assertJsonError(self.put("list:internal", b"1"), 400)
        # credentials
        r = self.a.req("PUT", "/properties/keep", body=b"2", headers=JSON, noauth=True)
        self.assertStatus(r, 401)
        self.assertIn("Basic realm=", r.header("www-authenticate"))
        self.assertJsonError(self.a.req("PUT", "/properties/keep", body=b"2", headers=JSON,
                                        auth=(self.a.creator, "wrong")), 403)
        self.assertJsonError(self.a.req("PUT", "/properties/keep", body=b"2", headers=JSON, bearer="nope"), 403)
        self.assertStatus(self.a.req("GET", "/properties", noauth=True), 401)
        self.assertJsonError(self.a.req("DELETE", "/properties", bearer="nope"), 403)
        self.assertEqual(self.snapshot(), before)

    def test_query_errors_and_methods(self):
        self.assertJsonError(self.a.req("GET", "/properties?format=full&metadata=true"), 400)
        self.assertJsonError(self.a.req("GET", "/properties?format=bogus"), 400)
        self.assertJsonError(self.a.req("PATCH", "/properties/x", body=b"1", headers=JSON), 405)
        self.assertJsonError(self.a.req("PUT", "/properties", body=b"1", headers=JSON), 405)
        self.assertJsonError(self.d.req("GET", "/" + "0" * 32 + "/properties"), 404)

    def test_collection_formats(self):
        self.a.req("POST", "/properties", json_body={"city": "Bergen", "profile": {"lang": "nb"},
                                                      "rem": {"_type": "list", "description": "To do",
                                                              "explanation": "Free"}})
        for it in ({"t": 1}, {"t": 2}):
            self.assertStatus(self.a.req("POST", "/properties/rem", json_body=it), 201)
        self.assertEqual(self.snapshot(), {"city": "Bergen", "profile": {"lang": "nb"},
                                           "rem": {"_list": True, "count": 2}})
        self.assertEqual(self.a.req("GET", "/properties?format=short").json(), self.snapshot())
        r = self.a.req("GET", "/properties?format=full")
        self.assertEqual(r.json()["rem"], {"_list": True, "count": 2, "description": "To do",
                                           "explanation": "Free", "items": [{"t": 1}, {"t": 2}]})
        r = self.a.req("GET", "/properties?metadata=true")
        self.assertStatus(r, 200)
        m = r.json()
        self.assertEqual(sorted(m["simple"]["properties"]), ["city", "profile"])
        self.assertEqual(m["simple"]["total_bytes"], len("Bergen") + len('{"lang":"nb"}'))
        self.assertEqual(m["lists"]["rem"]["count"], 2)
        self.assertEqual(m["lists"]["rem"]["description"], "To do")
        self.assertEqual(m["lists"]["rem"]["total_bytes"], 2 * len('{"t":1}'))

    # peers --------------------------------------------------------------------------------
    def test_peer_access(self):
        self.a.req("POST", "/properties", json_body={"city": "Bergen", "public": {"x": 1}})
        friend = self.add_trust("friend")
        assoc = self.add_trust("associate")
        pending = self.add_trust("friend", approved=False)
        # unapproved: 403 everywhere
        self.assertJsonError(self.a.req("GET", "/properties/city", bearer=pending), 403)
        self.assertJsonError(self.a.req("PUT", "/properties/z", body=b"1", headers=JSON, bearer=pending), 403)
        # associate: may not write; collection read is filtered
        self.assertJsonError(self.a.req("PUT", "/properties/z", body=b"1", headers=JSON, bearer=assoc), 403)
        self.assertJsonError(self.a.req("GET", "/properties/city", bearer=assoc), 403)
        r = self.a.req("GET", "/properties", bearer=assoc)
        self.assertStatus(r, 200)
        self.assertNotIn("city", r.json())
        self.assertEqual(self.a.req("GET", "/properties/public/x", bearer=assoc).status, 200)
        # friend: read and write, not private/*
        self.assertStatus(self.a.req("PUT", "/properties/fz", body=b"1", headers=JSON, bearer=friend), 204)
        self.assertEqual(self.a.req("GET", "/properties/city", bearer=friend).body, b"Bergen")
        self.assertJsonError(self.a.req("PUT", "/properties/private/k", body=b"1", headers=JSON, bearer=friend), 403)
        self.assertJsonError(self.a.req("GET", "/properties/private/k", bearer=friend), 403)
        self.assertJsonError(self.a.req("DELETE", "/properties/city", bearer=friend), 403)  # no delete op
        self.assertEqual(self.snapshot(), {"city": "Bergen", "public": {"x": 1}, "fz": 1})

    def test_trustee_refused(self):
        t = self.d.create_actor("trustee", "t" * 20, trustee_root="http://127.0.0.1:1/x")
        self.assertJsonError(t.req("GET", "/properties", bearer="t" * 20), 403)
        self.assertJsonError(t.req("PUT", "/properties/x", body=b"1", headers=JSON, bearer="t" * 20), 403)
        self.assertEqual(t.req("GET", "/properties").json(), {})

    # §6.6 / §9.6: every write registers a change (checked through polling subscriptions' stored diffs) --
    def add_sub(self, peer_secret, subtarget="", resource=""):
        subid = os.urandom(16).hex()
        db = sqlite3.connect(os.path.join(self.d.data, "actingweb.db"), timeout=10)
        try:
            peer = db.execute("SELECT peerid FROM trusts WHERE secret = ?", (peer_secret,)).fetchone()[0]
            db.execute("INSERT INTO subscriptions(actor, subid, peerid, target, subtarget, resource, granularity,"
                       " callback, created_at) VALUES(?,?,?,?,?,?,?,?,?)",
                       (self.a.id, subid, peer, "properties", subtarget, resource, "high", 0,
                        "2026-01-01T00:00:00.000000Z"))
            db.commit()
        finally:
            db.close()
        return subid

    def diffs(self, subid):
        db = sqlite3.connect(os.path.join(self.d.data, "actingweb.db"), timeout=10)
        try:
            rows = db.execute("SELECT blob FROM diffs WHERE actor = ? AND subid = ? ORDER BY seq",
                              (self.a.id, subid)).fetchall()
        finally:
            db.close()
        return [json.loads(r[0]) for r in rows]

    def test_changes_registered(self):
        friend = self.add_trust("friend")
        s1 = self.add_sub(friend)
        s2 = self.add_sub(friend, "work")
        s3 = self.add_sub(friend, "work", "desk")
        r = self.a.req("POST", "/properties", json_body={"home": {"street": "Strandgaten 1"}, "mood": "calm",
                                                          "work": {"office": "B2", "desk": "14", "floor": "3"}})
        self.assertStatus(r, 201)
        self.assertStatus(self.put("work", b'{"office": "C7"}'), 204)
        self.assertStatus(self.put("work/desk", b'"22"'), 204)
        self.assertStatus(self.a.req("DELETE", "/properties/work/office"), 204)
        self.assertEqual(self.diffs(s1), [
            {"home": {"street": "Strandgaten 1"}, "mood": "calm", "work": {"office": "B2", "desk": "14", "floor": "3"}},
            {"work": {"office": "C7"}}, {"work": {"desk": "22"}}, {"work": {"office": ""}}])
        self.assertEqual(self.diffs(s2), [{"office": "B2", "desk": "14", "floor": "3"}, {"office": "C7"},
                                          {"desk": "22"}, {"office": ""}])
        self.assertEqual(self.diffs(s3), ["14", "22"])
        # a failed write registers nothing
        self.assertJsonError(self.put("work", b"{"), 400)
        self.assertEqual(len(self.diffs(s1)), 4)
        # list operations carry the §9.7 diff; DELETE /properties one change per property
        self.a.req("POST", "/properties", json_body={"rem": {"_type": "list"}})
        n = len(self.diffs(s1))
        self.assertStatus(self.a.req("POST", "/properties/rem", json_body={"text": "Buy coffee"}), 201)
        self.assertEqual(self.diffs(s1)[n], {"rem": {"list": "rem", "operation": "append", "length": 1,
                                                     "item": {"text": "Buy coffee"}, "index": 0}})
        self.assertStatus(self.a.req("DELETE", "/properties"), 204)
        tail = self.diffs(s1)[n + 1:]
        self.assertIn({"mood": ""}, tail)
        self.assertIn({"work": ""}, tail)
        self.assertIn({"home": ""}, tail)


if __name__ == "__main__":
    awtest.main()
