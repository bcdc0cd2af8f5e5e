"""Factory, actor root and /meta (protocol.md §2, §3)."""
import awtest


class FactoryMeta(awtest.DaemonTest):
    def test_create_json(self):
        r = self.d.req("POST", "/", json_body={"creator": " Maria@Example.ORG ", "passphrase": "p" * 20})
        self.assertStatus(r, 201)
        a = r.json()
        self.assertEqual(a["creator"], "maria@example.org")
        self.assertEqual(a["passphrase"], "p" * 20)
        self.assertRegex(a["id"], "^[0-9a-f]{32}$")
        self.assertEqual(r.header("location"), self.d.base + "/" + a["id"])
        self.assertTrue(r.header("x-request-id"))

    def test_create_defaults_and_accept(self):
        r = self.d.req("POST", "/", headers={"Accept": "application/json"})
        self.assertStatus(r, 201)
        a = r.json()
        self.assertEqual(a["creator"], "creator")
        self.assertRegex(a["passphrase"], "^[0-9a-f]{40}$")

    def test_create_trustee_root(self):
        r = self.d.req("POST", "/", json_body={"creator": "trustee", "trustee_root": "http://127.0.0.1:1/x"})
        self.assertStatus(r, 201)
        self.assertEqual(r.json()["trustee_root"], "http://127.0.0.1:1/x")

    def test_create_form_gives_html(self):
        r = self.d.req("POST", "/", body="creator=formuser", headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertStatus(r, 200)
        self.assertIn("text/html", r.header("content-type"))
        self.assertIn("formuser", r.text)

    def test_factory_get_html(self):
        r = self.d.req("GET", "/")
        self.assertStatus(r, 200)
        self.assertIn("text/html", r.header("content-type"))
        self.assertIn("<form", r.text)

    def test_bad_factory_bodies(self):
        for body in (b"{", b"[1,2]", b'{"creator": 5}', b'{"a":1,"a":2}', b'"x"'):
            r = self.d.req("POST", "/", body=body, headers={"Content-Type": "application/json"})
            self.assertJsonError(r, 400)

    def test_request_id_echo(self):
        r = self.d.req("GET", "/", headers={"X-Request-ID": "abc-123"})
        self.assertEqual(r.header("x-request-id"), "abc-123")

    def test_root_get_and_auth(self):
        a = self.d.create_actor("root-user", "secretpass1")
        r = a.req("GET")
        self.assertStatus(r, 200)
        self.assertEqual(r.json(), {"id": a.id, "creator": "root-user", "passphrase": "secretpass1"})
        r = a.req("GET", noauth=True)
        self.assertStatus(r, 401)
        self.assertIn("Basic realm=", r.header("www-authenticate"))
        self.assertEqual(r.text, "Authentication required")
        self.assertJsonError(a.req("GET", auth=("root-user", "wrong")), 403)
        self.assertJsonError(a.req("GET", auth=("other", "secretpass1")), 403)
        self.assertJsonError(a.req("GET", bearer="nope"), 403)
        self.assertJsonError(a.req("GET", headers={"Authorization": "Digest x"}), 403)

    def test_root_browser_redirects(self):
        a = self.d.create_actor("browser", "pw123")
        r = a.req("GET", noauth=True, headers={"Accept": "text/html"})
        self.assertStatus(r, 302)
        self.assertEqual(r.header("location"), self.d.base + "/login")
        r = a.req("GET", headers={"Accept": "text/html"})
        self.assertStatus(r, 302)
        self.assertEqual(r.header("location"), a.url + "/www")

    def test_delete_actor(self):
        a = self.d.create_actor("deleter", "pw")
        self.assertJsonError(a.req("DELETE", auth=("deleter", "bad")), 403)
        self.assertStatus(a.req("DELETE"), 204)
        self.assertJsonError(self.d.req("GET", a.path + "/meta"), 404)
        self.assertJsonError(a.req("GET"), 404)
        self.assertJsonError(a.req("DELETE"), 404)
        # _method override on GET
        b = self.d.create_actor("deleter2", "pw")
        self.assertStatus(b.req("GET", "?_method=DELETE"), 204)
        self.assertJsonError(b.req("GET"), 404)

    def test_unknown_actor(self):
        self.assertJsonError(self.d.req("GET", "/" + "0" * 32 + "/meta"), 404)
        self.assertJsonError(self.d.req("GET", "/" + "0" * 32, auth=("a", "b")), 404)

    def test_meta(self):
        a = self.d.create_actor("metauser", "pw")
        r = self.d.req("GET", a.path + "/meta")
        self.assertStatus(r, 200)
        m = r.json()
        for k in ("id", "type", "version", "desc", "info", "trustee_root", "specification", "aw_version",
                  "aw_supported", "aw_formats", "aw_trust_types"):
            self.assertIn(k, m)
        self.assertEqual(m["id"], a.id)
        self.assertEqual(m["aw_version"], "1.0")
        self.assertEqual(m["type"], "urn:actingweb:actingweb-c:actingwebd")
        texts = {"id": a.id, "type": m["type"], "version": "1.0", "actingweb/version": "1.0",
                 "actingweb/formats": "json", "actingweb/supported": m["aw_supported"],
                 "desc": m["desc"] + a.id, "info": "", "trustee_root": "", "specification": ""}
        for path, want in texts.items():
            r = self.d.req("GET", a.path + "/meta/" + path)
            self.assertStatus(r, 200, path)
            self.assertEqual(r.text, want, path)
        tags = m["aw_supported"].split(",")
        self.assertEqual(tags, sorted(tags))
        r = self.d.req("GET", a.path + "/meta/trusttypes")
        self.assertStatus(r, 200)
        self.assertIn("friend", r.json()["trust_types"])
        self.assertEqual(r.json()["default_trust_type"], "associate")
        self.assertStatus(self.d.req("GET", a.path + "/meta/actingweb/trust_types"), 200)
        for bad in ("nosuch", "actingweb/nosuch", "id/extra", "raml"):
            self.assertJsonError(self.d.req("GET", a.path + "/meta/" + bad), 404)
        # credentials are ignored on /meta, even wrong ones
        self.assertStatus(self.d.req("GET", a.path + "/meta", auth=("x", "y")), 200)
        self.assertJsonError(self.d.req("PUT", a.path + "/meta", body="x"), 405)

    def test_keep_alive(self):
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=10)
        for _ in range(3):
            c.request("GET", "/")
            r = c.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
            self.assertNotEqual((r.getheader("Connection") or "").lower(), "close")
        c.close()


if __name__ == "__main__":
    awtest.main()
