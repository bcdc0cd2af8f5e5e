"""List properties (protocol.md §6.7): spec index paths, Ref extensions, metadata, bulk edit, errors."""
import awtest

JSON = {"Content-Type": "application/json"}


class Lists(awtest.DaemonTest):
    def setUp(self):
        self.a = self.d.create_actor("lists-%s" % self._testMethodName[:40], "pw-lists-123")
        r = self.a.req("POST", "/properties", json_body={"notes": {"_type": "list", "description": "To do",
                                                                    "explanation": "Free text"}})
        self.assertStatus(r, 201)
        self.assertEqual(r.json(), {"notes": "[Empty list property created]"})

    def items(self):
        r = self.a.req("GET", "/properties/notes")
        self.assertStatus(r, 200)
        return r.json()

    def append(self, item):
        r = self.a.req("POST", "/properties/notes", json_body=item)
        self.assertStatus(r, 201)
        return r

    def test_empty_and_append(self):
        self.assertEqual(self.items(), [])
        self.assertEqual(self.a.req("GET", "/properties/notes?format=full").json(), [])
        r = self.append({"t": "a"})
        self.assertEqual(r.header("location"), self.a.url + "/properties/notes/0")
        self.assertEqual(r.json()["index"], 0)
        r = self.append("b")
        self.assertEqual(r.header("location"), self.a.url + "/properties/notes/1")
        self.assertEqual(self.items(), [{"t": "a"}, "b"])
        r = self.a.req("GET", "/properties/notes?format=short")
        self.assertEqual(r.json(), {"_list": True, "count": 2, "description": "To do", "explanation": "Free text"})

    def test_index_paths(self):
        for i in range(3):
            self.append({"i": i})
        self.assertEqual(self.a.req("GET", "/properties/notes/1").json(), {"i": 1})
        self.assertJsonError(self.a.req("GET", "/properties/notes/3"), 404)
        self.assertJsonError(self.a.req("GET", "/properties/notes/x"), 404)
        # PUT: replace, i == len appends, i > len 404
        self.assertStatus(self.a.req("PUT", "/properties/notes/1", json_body={"i": "one"}), 204)
        self.assertStatus(self.a.req("PUT", "/properties/notes/3", json_body={"i": 3}), 204)
        self.assertJsonError(self.a.req("PUT", "/properties/notes/5", json_body={"i": 5}), 404)
        self.assertEqual(self.items(), [{"i": 0}, {"i": "one"}, {"i": 2}, {"i": 3}])
        # DELETE: later items shift down
        self.assertStatus(self.a.req("DELETE", "/properties/notes/0"), 204)
        self.assertEqual(self.items(), [{"i": "one"}, {"i": 2}, {"i": 3}])
        self.assertJsonError(self.a.req("DELETE", "/properties/notes/3"), 404)
        self.assertEqual(self.a.req("GET", "/properties").json()["notes"], {"_list": True, "count": 3})
        # bad item bodies: nothing changes
        for body in (b"{", b'{"a":1,"a":2}', b"", b"[" * 70 + b"]" * 70):
            r = self.a.req("PUT", "/properties/notes/0", body=body, headers=JSON)
            self.assertJsonError(r, 400)
            r = self.a.req("POST", "/properties/notes", body=body, headers=JSON)
            self.assertJsonError(r, 400)
        self.assertEqual(self.items(), [{"i": "one"}, {"i": 2}, {"i": 3}])

    def test_ref_index_query(self):
        self.append("a")
        self.assertEqual(self.a.req("GET", "/properties/notes?index=0").json(), "a")
        self.assertJsonError(self.a.req("GET", "/properties/notes?index=1"), 404)
        self.assertJsonError(self.a.req("GET", "/properties/notes?index=-1"), 400)
        self.assertStatus(self.a.req("PUT", "/properties/notes?index=0", json_body="A"), 204)
        self.assertStatus(self.a.req("PUT", "/properties/notes?index=1", json_body="B"), 204)
        self.assertJsonError(self.a.req("PUT", "/properties/notes?index=3", json_body="C"), 404)
        self.assertJsonError(self.a.req("PUT", "/properties/notes?index=-1", json_body="C"), 400)
        self.assertEqual(self.items(), ["A", "B"])

    def test_items_endpoint(self):
        r = self.a.req("POST", "/properties/notes/items", json_body={"action": "add", "item_value": {"x": 1}})
        self.assertStatus(r, 201)
        self.assertEqual(r.json(), {"success": True, "index": 0})
        self.a.req("POST", "/properties/notes/items", json_body={"action": "add", "item_value": "y"})
        r = self.a.req("GET", "/properties/notes/items")
        self.assertEqual(r.json(), {"items": [{"index": 0, "item": {"x": 1}}, {"index": 1, "item": "y"}],
                                    "count": 2})
        self.assertStatus(self.a.req("POST", "/properties/notes/items",
                                     json_body={"action": "update", "item_index": 1, "item_value": "z"}), 204)
        self.assertStatus(self.a.req("POST", "/properties/notes/items",
                                     json_body={"action": "delete", "item_index": 0}), 204)
        self.assertEqual(self.items(), ["z"])
        for bad in ({"action": "update", "item_index": 5, "item_value": 1}, {"action": "delete", "item_index": 5},
                    {"action": "delete"}, {"action": "add"}, {"action": "nope"}, {"item_value": 1},
                    {"action": "delete", "item_index": -1}):
            self.assertJsonError(self.a.req("POST", "/properties/notes/items", json_body=bad), 400)
        self.assertEqual(self.items(), ["z"])
        self.a.req("PUT", "/properties/simple", body=b"1", headers=JSON)
        self.assertJsonError(self.a.req("GET", "/properties/simple/items"), 404)
        self.assertJsonError(self.a.req("GET", "/properties/simple/metadata"), 404)
        self.assertJsonError(self.a.req("PUT", "/properties/missing/metadata", json_body={"description": "x"}), 404)

    def test_metadata(self):
        self.append(1)
        r = self.a.req("GET", "/properties/notes/metadata")
        self.assertEqual(r.json(), {"name": "notes", "description": "To do", "explanation": "Free text",
                                    "count": 1, "_list": True})
        self.assertStatus(self.a.req("PUT", "/properties/notes/metadata", json_body={"description": "New"}), 204)
        self.assertEqual(self.a.req("GET", "/properties/notes/metadata").json()["description"], "New")
        self.assertEqual(self.a.req("GET", "/properties/notes/metadata").json()["explanation"], "Free text")
        self.assertJsonError(self.a.req("PUT", "/properties/notes/metadata", json_body={"count": 5}), 400)
        self.assertJsonError(self.a.req("PUT", "/properties/notes/metadata", json_body={"description": 5}), 400)

    def test_bulk_edit(self):
        for t in ("a", "b", "c"):
            self.append({"task": t})
        r = self.a.req("POST", "/properties", json_body={"notes": {"items": [
            {"index": 0, "task": "A"}, {"index": 3, "task": "d"}, {"index": 1}, {"index": 9}]}})
        self.assertStatus(r, 201)
        self.assertEqual(r.json(), {"notes": "[Bulk update: 2 items updated, 1 items deleted]"})
        self.assertEqual(self.items(), [{"task": "A"}, {"task": "c"}, {"task": "d"}])
        # any bad element rejects the whole batch
        for bad in ([{"index": 0, "task": "X"}, {"task": "no index"}], [{"index": 0, "task": "X"}, {"index": 7, "t": 1}],
                    "notalist"):
            self.assertJsonError(self.a.req("POST", "/properties", json_body={"notes": {"items": bad}}), 400)
        self.assertEqual(self.items(), [{"task": "A"}, {"task": "c"}, {"task": "d"}])
        r = self.a.req("POST", "/properties", json_body={"other": {"items": []}})
        self.assertStatus(r, 201)
        self.assertEqual(r.json(), {"other": "[No items to update]"})
        self.assertJsonError(self.a.req("POST", "/properties", json_body={"other": {"items": [{"index": 0, "a": 1}]}}),
                             400)
        # fill an empty list
        self.a.req("POST", "/properties", json_body={"fresh": {"_type": "list"}})
        r = self.a.req("POST", "/properties", json_body={"fresh": {"items": [{"index": 0, "t": 0}, {"index": 1, "t": 1}]}})
        self.assertStatus(r, 201)
        self.assertEqual(self.a.req("GET", "/properties/fresh").json(), [{"t": 0}, {"t": 1}])

    def test_delete_list_and_conflicts(self):
        self.append(1)
        self.assertJsonError(self.a.req("PUT", "/properties/notes", json_body=[1]), 409)
        self.assertJsonError(self.a.req("POST", "/properties", json_body={"notes": {"_type": "list"}}), 409)
        self.assertStatus(self.a.req("DELETE", "/properties/notes"), 204)
        self.assertJsonError(self.a.req("GET", "/properties/notes"), 404)
        self.assertJsonError(self.a.req("GET", "/properties/notes/metadata"), 404)
        self.assertEqual(self.a.req("GET", "/properties").json(), {})

    def test_auth(self):
        self.assertStatus(self.a.req("GET", "/properties/notes", noauth=True), 401)
        self.assertJsonError(self.a.req("POST", "/properties/notes", json_body=1, bearer="bad"), 403)
        self.assertJsonError(self.a.req("DELETE", "/properties/notes/0", auth=(self.a.creator, "x")), 403)
        self.assertEqual(self.items(), [])


if __name__ == "__main__":
    awtest.main()
