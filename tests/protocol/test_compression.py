"""Callback compression (protocol.md §9.11, sdk-api.md §6.6, option tag `callbackcompression`): the
receiver takes gzip/deflate bodies on /callbacks (decoded size bounded by --max-body, unknown codings 415);
subscribers ask for compression with accept_encoding; publishers gzip callback bodies over 1 KiB."""
import gzip
import json
import time
import zlib

import awtest
from test_subscriptions import befriend, mirror, remote, wait_for
from test_subscription_delivery import FakePeer, count_rows, props, subscribe


class Compression(awtest.MultiDaemonTest):
    def pair(self):
        pub, sub = self.daemon(), self.daemon()
        a = sub.create_actor("subscriber", "pw-a")
        b = pub.create_actor("publisher", "pw-b")
        return pub, sub, a, b, befriend(a, b)

    # ------------------------------------------------------------------ publisher and subscriber daemons

    def test_tag_advertised(self):
        d = self.daemon()
        a = d.create_actor("x", "pw")
        tags = a.req("GET", "/meta/actingweb/supported", noauth=True).text.split(",")
        self.assertIn("callbackcompression", tags)
        self.assertEqual(tags, sorted(tags))

    def test_large_callback_between_daemons(self):
        pub, sub, a, b, _ = self.pair()
        subid = subscribe(a, b)
        # the subscriber asked for compression when it subscribed; the publisher stored it
        self.assertEqual(count_rows(pub, "SELECT accept_encoding FROM subscriptions WHERE actor=? AND subid=?",
                                    b.id, subid), "gzip,deflate")
        big = {"text": "lorem ipsum dolor sit amet " * 400, "items": list(range(300)), "nested": {"k": "v" * 50}}
        self.assertEqual(b.req("PUT", "/properties/big", json_body=big).status, 204)
        self.assertEqual(b.req("PUT", "/properties/small", body="s").status, 204)
        self.assertTrue(wait_for(lambda: remote(a, b) == props(b), timeout=20), remote(a, b))
        self.assertEqual(remote(a, b)["big"], big)
        self.assertTrue(wait_for(lambda: mirror(a, b)[0]["sequence"] == 2, timeout=10), mirror(a, b))

    def test_publisher_gzips_for_accept_encoding(self):
        """Seen on the wire by a fake subscriber: bodies over 1 KiB gzip-compressed with Content-Encoding, small
        ones plain; sequence numbers and content unchanged."""
        pub = self.daemon("--auto-accept", "--default-relationship", "friend")
        b = pub.create_actor("publisher", "pw")
        f = FakePeer()
        self.fakes.append(f)
        f.trust_with(b)
        r = b.req("POST", "/subscriptions/%s" % f.id, bearer=f.secret,
                  json_body={"id": f.id, "target": "properties", "granularity": "high",
                             "accept_encoding": ["br", "gzip", "deflate"]})
        self.assertEqual(r.status, 201, r)
        sid = r.json()["subscriptionid"]
        self.assertEqual(count_rows(pub, "SELECT accept_encoding FROM subscriptions WHERE subid=?", sid),
                         "gzip,deflate")
        big = "x" * 5000
        b.req("PUT", "/properties/small", body="s")
        b.req("PUT", "/properties/big", body=big)
        self.assertTrue(wait_for(lambda: len(f.accepted()) >= 2, timeout=10), f.all_calls())
        (_, s1, h1, body1, _), (_, s2, h2, body2, _) = f.accepted()[:2]
        self.assertEqual((s1, s2), (1, 2))
        self.assertNotIn("content-encoding", h1)
        self.assertEqual(body1["data"], {"small": "s"})
        self.assertEqual(h2.get("content-encoding"), "gzip")
        self.assertLess(int(h2["content-length"]), 1000)
        self.assertEqual(body2["data"], {"big": big})
        self.assertEqual(body2["sequence"], 2)

    def test_no_compression_without_accept_encoding(self):
        pub = self.daemon("--auto-accept", "--default-relationship", "friend")
        b = pub.create_actor("publisher", "pw")
        f = FakePeer()
        self.fakes.append(f)
        f.trust_with(b)
        f.subscribe(b)
        b.req("PUT", "/properties/big", body="y" * 5000)
        self.assertTrue(wait_for(lambda: len(f.accepted()) >= 1, timeout=10), f.all_calls())
        self.assertNotIn("content-encoding", f.accepted()[0][2])
        self.assertEqual(f.accepted()[0][3]["data"], {"big": "y" * 5000})

    # ------------------------------------------------------------------ receiver

    def callback(self, a, b, secret, subid, raw, encoding):
        return a.req("POST", "/callbacks/subscriptions/%s/%s" % (b.id, subid), bearer=secret, body=raw,
                     headers={"Content-Type": "application/json", "Content-Encoding": encoding})

    def test_receiver_accepts_gzip_and_deflate(self):
        pub, sub, a, b, secret = self.pair()
        subid = subscribe(a, b)
        base = {"id": b.id, "subscriptionid": subid, "target": "properties", "granularity": "high"}
        doc = dict(base, sequence=1, data={"g": "zipped " * 300})
        r = self.callback(a, b, secret, subid, gzip.compress(json.dumps(doc).encode()), "gzip")
        self.assertEqual(r.status, 204, r)
        doc2 = dict(base, sequence=2, data={"d": [1, 2, 3]})
        r = self.callback(a, b, secret, subid, zlib.compress(json.dumps(doc2).encode()), "deflate")
        self.assertEqual(r.status, 204, r)
        raw_deflate = zlib.compressobj(wbits=-15)
        body = raw_deflate.compress(json.dumps(dict(base, sequence=3, data={"r": True})).encode()) + raw_deflate.flush()
        r = self.callback(a, b, secret, subid, body, "deflate")
        self.assertEqual(r.status, 204, r)
        r = self.callback(a, b, secret, subid, json.dumps(dict(base, sequence=4, data={"p": 1})).encode(), "identity")
        self.assertEqual(r.status, 204, r)
        self.assertEqual(remote(a, b), {"g": "zipped " * 300, "d": [1, 2, 3], "r": True, "p": 1})
        self.assertEqual(mirror(a, b)[0]["sequence"], 4)

    def test_receiver_refuses_bombs_unknown_and_corrupt(self):
        pub, sub, a, b, secret = self.pair()
        subid = subscribe(a, b)
        # 64 MiB of JSON whitespace in ~64 KiB of gzip: the decoded size passes --max-body (1 MiB) -> 413
        bomb = gzip.compress(b"{" + b" " * (64 << 20) + b"}", compresslevel=9)
        self.assertLess(len(bomb), 1 << 20)
        r = self.callback(a, b, secret, subid, bomb, "gzip")
        self.assertEqual(r.status, 413, r)
        self.assertEqual(r.json()["error"]["code"], 413)
        r = self.callback(a, b, secret, subid, b"whatever", "br")
        self.assertEqual(r.status, 415, r)
        self.assertTrue(r.header("content-type").startswith("application/json"), r.headers)
        self.assertEqual(r.json()["error"]["code"], 415)
        r = self.callback(a, b, secret, subid, b"\x1f\x8b not really gzip", "gzip")
        self.assertEqual(r.status, 400, r)
        r = self.callback(a, b, secret, subid, gzip.compress(b'{"sequence": 1')[:-6], "gzip")
        self.assertEqual(r.status, 400, r)
        # credentials and existence still come first
        self.assertEqual(self.callback(a, b, "wrong", subid, bomb, "gzip").status, 403)
        self.assertEqual(self.callback(a, b, secret, "nosuchsub", b"x", "br").status, 404)
        # nothing was applied
        self.assertEqual(mirror(a, b)[0]["sequence"], 0)


if __name__ == "__main__":
    awtest.main()
