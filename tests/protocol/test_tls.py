"""https peers (issue #3): peer calls verify the peer's certificate and host name against the system CA
store, or against --peer-ca-file. A fake https peer with a certificate from a throwaway CA."""
import http.server
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
import unittest

import awtest

PEER_ID = "1" * 32


class FakeTLSPeer(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, code, obj):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/%s/meta" % PEER_ID:
            self.reply(200, {"id": PEER_ID, "type": "urn:actingweb:test:tls"})
        else:
            self.reply(404, {})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        if self.path == "/%s/trust/friend" % PEER_ID:
            self.reply(202, {})
        else:
            self.reply(404, {})


def make_ca_and_cert(d):
    def run(*args):
        subprocess.run(args, cwd=d, check=True, capture_output=True)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=awtest CA")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr",
        "-subj", "/CN=127.0.0.1")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    run("openssl", "x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "srv.pem", "-days", "2", "-extfile", "ext.cnf")


@unittest.skipUnless(shutil.which("openssl"), "needs the openssl command")
class TLSPeers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="awtls-")
        make_ca_and_cert(cls.tmp)
        cls.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeTLSPeer)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(cls.tmp, "srv.pem"), os.path.join(cls.tmp, "srv.key"))
        cls.srv.socket = ctx.wrap_socket(cls.srv.socket, server_side=True)
        cls.port = cls.srv.server_address[1]
        cls.thread = threading.Thread(target=cls.srv.serve_forever, daemon=True)
        cls.thread.start()
        cls.trusting = awtest.Daemon("--peer-ca-file", os.path.join(cls.tmp, "ca.pem")).start()
        cls.plain = awtest.Daemon().start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.shutdown()
        for d in (cls.trusting, cls.plain):
            try:
                d.stop()
            finally:
                d.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def url(self):
        return "https://127.0.0.1:%d/%s" % (self.port, PEER_ID)

    def test_https_peer_with_known_ca(self):
        a = self.trusting.create_actor("tls", "pw")
        r = a.req("POST", "/trust", json_body={"url": self.url(), "relationship": "friend"})
        self.assertEqual(r.status, 201, r)
        rec = r.json()
        self.assertEqual(rec["peerid"], PEER_ID)
        self.assertEqual(rec["type"], "urn:actingweb:test:tls")
        self.assertFalse(rec["peer_approved"])  # the fake peer answered 202

    def test_https_peer_with_unknown_ca_is_refused(self):
        a = self.plain.create_actor("tls", "pw")
        r = a.req("POST", "/trust", json_body={"url": self.url(), "relationship": "friend"})
        self.assertEqual(r.status, 408, r)  # the certificate does not verify: nothing is sent, nothing kept
        self.assertEqual(a.req("GET", "/trust").json(), [])


if __name__ == "__main__":
    awtest.main()
