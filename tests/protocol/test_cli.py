"""The `aw` command-line client against real daemons (issue #5 part 4, clarifications.md #5).

Runs the binary from $AW_BIN (set by CTest; the ASan build's under sanitizers) with subprocess. Exit codes:
0 success, 1 the server refused, 2 usage error, 3 network error or timeout.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import awtest

AW_BIN = os.environ.get("AW_BIN") or os.path.join(os.path.dirname(__file__), "..", "..", "build", "aw")
CLI_ENV = ("AW_URL", "AW_CREATOR", "AW_PASSPHRASE", "AW_TOKEN")


class Run:
    def __init__(self, args, rc, out, err):
        self.args, self.rc, self.out, self.err = args, rc, out, err

    def json(self):
        return json.loads(self.out)

    def kv(self):
        """Parse aligned `key: value` lines."""
        out = {}
        for line in self.out.splitlines():
            if not line.strip():
                break
            k, _, v = line.partition(":")
            out[k] = v.strip()
        return out

    def table(self):
        """Parse an aligned table into a list of dicts keyed by the header words; cells are sliced at the
        header columns' start positions (cells may be empty)."""
        lines = [l for l in self.out.splitlines() if l.strip()]
        hdr = lines[0].split()
        starts = []
        pos = 0
        for h in hdr:
            pos = lines[0].index(h, pos)
            starts.append(pos)
            pos += len(h)
        rows = []
        for l in lines[1:]:
            cells = [l[a:b].strip() for a, b in zip(starts, starts[1:] + [None])]
            rows.append(dict(zip(hdr, cells)))
        return rows

    def __repr__(self):
        return "<aw %r rc=%d out=%r err=%r>" % (self.args, self.rc, self.out[:600], self.err[:600])


def aw(*args, env=None, timeout=60):
    e = {k: v for k, v in os.environ.items() if k not in CLI_ENV}
    e.update(env or {})
    p = subprocess.run([AW_BIN] + [str(a) for a in args], env=e, capture_output=True, timeout=timeout)
    r = Run(args, p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"))
    for m in awtest.SANITIZER_MARKERS:
        assert m not in r.err, "sanitizer report from aw %r:\n%s" % (args, r.err[-6000:])
    return r


class CliTest(unittest.TestCase):
    def ok(self, *args, **kw):
        r = aw(*args, **kw)
        self.assertEqual(r.rc, 0, r)
        return r

    def fails(self, rc, *args, **kw):
        r = aw(*args, **kw)
        self.assertEqual(r.rc, rc, r)
        self.assertTrue(r.err.strip(), r)  # a message on stderr
        return r


class NoServer(CliTest):
    def test_version_and_help(self):
        r = self.ok("--version")
        self.assertTrue(r.out.startswith("aw "), r)
        r = self.ok("--help")
        for cmd in ("create", "delete", "meta", "get", "set", "del", "trust list", "trust add", "trust approve",
                    "trust delete", "trust show", "sub list", "sub add", "sub delete", "sub show", "call method",
                    "call action"):
            self.assertIn("aw " + cmd, r.out)
        for var in ("AW_URL", "AW_CREATOR", "AW_PASSPHRASE", "AW_TOKEN"):
            self.assertIn(var, r.out)
        r = self.ok("set", "--help")
        self.assertIn("usage: aw set NAME", r.out)
        self.assertIn("--text", r.out)
        r = self.ok("trust", "--help")
        self.assertIn("aw trust approve", r.out)
        r = self.ok("sub", "add", "--help")
        self.assertIn("--granularity", r.out)

    def test_usage_errors(self):
        self.fails(2)                                   # no command
        self.fails(2, "frobnicate")
        self.fails(2, "trust")                          # family without subcommand
        self.fails(2, "trust", "frob")
        self.fails(2, "get", "--bogus-flag", env={"AW_URL": "http://127.0.0.1:1/x"})
        self.fails(2, "get")                            # no URL anywhere
        self.fails(2, "get", "--url")                   # flag without value
        self.fails(2, "get", "--timeout", "soon", "--url", "http://127.0.0.1:1/x")
        self.fails(2, "get", "--timeout", "-1", "--url", "http://127.0.0.1:1/x")
        self.fails(2, "get", "--local", "--url", "http://127.0.0.1:1/x")   # flag of another command
        self.fails(2, "set", "onlyname", "--url", "http://127.0.0.1:1/x")  # too few args
        self.fails(2, "get", "a", "b", "--url", "http://127.0.0.1:1/x")    # too many
        self.fails(2, "del", "--url", "http://127.0.0.1:1/x")              # neither NAME nor --all
        self.fails(2, "del", "x", "--all", "--url", "http://127.0.0.1:1/x")
        self.fails(2, "get", "--url", "ftp://127.0.0.1/x")
        self.fails(2, "get", "--url", "not a url")
        self.fails(2, "sub", "add", "p", "--granularity", "medium", "--url", "http://127.0.0.1:1/x")
        self.fails(2, "call", "method", "m", "{not json", "--url", "http://127.0.0.1:1/x")

    def test_network_error_closed_port(self):
        port = awtest.free_port()  # nothing listens there
        url = "http://127.0.0.1:%d" % port
        self.fails(3, "get", "--url", url + "/abc")
        self.fails(3, "meta", url + "/abc")
        self.fails(3, "create", "--url", url)
        self.fails(3, "trust", "list", env={"AW_URL": url + "/abc", "AW_CREATOR": "c", "AW_PASSPHRASE": "p"})

    def test_timeout(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(8)  # accepts TCP connections (backlog) but never answers
        try:
            t0 = time.time()
            r = self.fails(3, "get", "--timeout", "1", "--url", "http://127.0.0.1:%d/abc" % s.getsockname()[1])
            self.assertLess(time.time() - t0, 10, r)
            self.assertIn("timed out", r.err)
        finally:
            s.close()


class ManPages(unittest.TestCase):
    DOCS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs")

    def flags(self, binary):
        out = subprocess.run([binary, "--help"], capture_output=True, timeout=30).stdout.decode()
        return sorted(set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", out)))

    def test_every_flag_documented(self):
        for binary, page in ((AW_BIN, "aw.1"), (awtest.AWD_BIN, "actingwebd.8")):
            with open(os.path.join(self.DOCS, page)) as f:
                text = f.read().replace("\\-", "-")
            for flag in self.flags(binary):
                self.assertIn(flag, text, "%s is in `%s --help` but not in docs/%s" % (flag, binary, page))

    @unittest.skipUnless(shutil.which("groff"), "groff not installed")
    def test_pages_render_cleanly(self):
        for page in ("aw.1", "actingwebd.8"):
            p = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", os.path.join(self.DOCS, page)],
                               capture_output=True, timeout=30)
            self.assertEqual((p.returncode, p.stderr), (0, b""), page)


class OneDaemon(CliTest):
    @classmethod
    def setUpClass(cls):
        cls.d = awtest.Daemon().start()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.d.stop()
        finally:
            cls.d.cleanup()

    def new_actor(self, creator="cli", passphrase="pw-cli"):
        r = self.ok("create", "--url", self.d.base, "--creator", creator, "--passphrase", passphrase, "--json")
        a = r.json()
        return a["id"], self.d.base + "/" + a["id"]

    def test_create_table_and_json(self):
        r = self.ok("create", "--creator", "maria", "--passphrase", "secret-1", env={"AW_URL": self.d.base})
        kv = r.kv()
        self.assertEqual(kv["creator"], "maria")
        self.assertEqual(kv["passphrase"], "secret-1")
        self.assertEqual(kv["url"], self.d.base + "/" + kv["id"])
        self.assertEqual(list(kv)[:2], ["id", "url"])
        # the actor exists with those credentials
        self.assertEqual(self.d.req("GET", "/%s/properties" % kv["id"], auth=("maria", "secret-1")).status, 200)
        # --json: the server's body, pretty
        r = self.ok("create", "--json", "--url", self.d.base + "/")
        body = r.json()
        self.assertEqual(body["creator"], "creator")
        self.assertEqual(len(body["passphrase"]), 40)
        self.assertIn("\n  ", r.out)
        # trustee root
        r = self.ok("create", "--url", self.d.base, "--trustee-root", "http://127.0.0.1:9/t")
        self.assertEqual(r.kv().get("trustee_root"), "http://127.0.0.1:9/t")

    def test_create_env_and_flag_precedence(self):
        env = {"AW_URL": self.d.base, "AW_CREATOR": "envuser", "AW_PASSPHRASE": "envpass"}
        kv = self.ok("create", env=env).kv()
        self.assertEqual((kv["creator"], kv["passphrase"]), ("envuser", "envpass"))
        kv = self.ok("create", "--creator", "flaguser", env=env).kv()
        self.assertEqual((kv["creator"], kv["passphrase"]), ("flaguser", "envpass"))
        # --url wins over AW_URL
        kv = self.ok("create", "--url", self.d.base, env=dict(env, AW_URL="http://127.0.0.1:1")).kv()
        self.assertTrue(kv["id"])

    def test_properties(self):
        aid, url = self.new_actor()
        env = {"AW_URL": url, "AW_CREATOR": "cli", "AW_PASSPHRASE": "pw-cli"}
        self.ok("set", "city", "Bergen", env=env)
        self.ok("set", "n", "42", env=env)
        self.ok("set", "profile", '{"lang": "nb", "tz": "Europe/Oslo"}', env=env)
        self.ok("set", "s", '"quoted"', env=env)
        self.ok("set", "forced", "42", "--text", env=env)
        self.ok("set", "neg", "--", "-5", env=env)
        self.ok("set", "profile/lang", "en", env=env)
        # what the server stored
        body = self.d.req("GET", "/%s/properties" % aid, auth=("cli", "pw-cli")).json()
        self.assertEqual(body["city"], "Bergen")
        self.assertEqual(body["n"], 42)
        self.assertEqual(body["profile"], {"lang": "en", "tz": "Europe/Oslo"})
        self.assertEqual(body["s"], "quoted")
        self.assertEqual(body["neg"], -5)
        r = self.d.req("GET", "/%s/properties/forced" % aid, auth=("cli", "pw-cli"))
        self.assertEqual(r.body, b"42")
        r = self.d.req("GET", "/%s/properties/s" % aid, auth=("cli", "pw-cli"))
        self.assertEqual(r.body, b'"quoted"')
        # table
        rows = {row["NAME"]: row["VALUE"] for row in self.ok("get", env=env).table()}
        self.assertEqual(rows["city"], "Bergen")
        self.assertEqual(rows["n"], "42")
        self.assertEqual(json.loads(rows["profile"]), {"lang": "en", "tz": "Europe/Oslo"})
        self.assertEqual(self.ok("get", env=env).out.splitlines()[0].split(), ["NAME", "VALUE"])
        # --json
        self.assertEqual(self.ok("get", "--json", env=env).json(), body)
        # one value, nested member
        self.assertEqual(self.ok("get", "city", env=env).out, "Bergen\n")
        self.assertEqual(self.ok("get", "profile/tz", env=env).out, "Europe/Oslo\n")
        self.assertEqual(json.loads(self.ok("get", "profile", env=env).out), {"lang": "en", "tz": "Europe/Oslo"})
        self.assertEqual(self.ok("get", "profile/tz", "--json", env=env).json(), "Europe/Oslo")
        # a name needing percent-encoding
        self.ok("set", "two words", "x y", env=env)
        self.assertEqual(self.ok("get", "two words", env=env).out, "x y\n")
        # delete one, then all
        self.ok("del", "city", env=env)
        r = self.fails(1, "get", "city", env=env)
        self.assertIn("404", r.err)
        self.ok("del", "profile/lang", env=env)
        self.assertEqual(json.loads(self.ok("get", "profile", env=env).out), {"tz": "Europe/Oslo"})
        self.ok("del", "--all", env=env)
        self.assertEqual(self.ok("get", "--json", env=env).json(), {})

    def test_credentials_precedence(self):
        aid, url = self.new_actor("owner", "right")
        good = {"AW_URL": url, "AW_CREATOR": "owner", "AW_PASSPHRASE": "right"}
        bad = {"AW_URL": url, "AW_CREATOR": "owner", "AW_PASSPHRASE": "wrong"}
        self.ok("get", env=good)
        r = self.fails(1, "get", env=bad)
        self.assertIn("403", r.err)
        # flags win over the environment, both ways
        self.ok("get", "--passphrase", "right", env=bad)
        self.fails(1, "get", "--passphrase", "wrong", env=good)
        self.ok("get", "--creator", "owner", "--passphrase", "right", env={"AW_URL": url})
        # a --token flag wins over Basic from the environment; Basic flags win over AW_TOKEN
        self.fails(1, "get", "--token", "not-a-secret", env=good)
        self.ok("get", "--creator", "owner", "--passphrase", "right", env={"AW_URL": url, "AW_TOKEN": "bogus"})
        # no credentials at all: refused by the server
        self.fails(1, "get", env={"AW_URL": url})

    def test_meta(self):
        aid, url = self.new_actor()
        kv = self.ok("meta", url).kv()
        self.assertEqual(kv["id"], aid)
        self.assertEqual(kv["type"], "urn:actingweb:actingweb-c:actingwebd")
        self.assertIn("trust", kv["aw_supported"])
        j = self.ok("meta", "--json", env={"AW_URL": url}).json()
        self.assertEqual(j["id"], aid)
        self.assertEqual(j["actingweb"]["version"], "1.0")
        self.assertEqual(self.ok("meta", url + "/").kv()["id"], aid)  # trailing slash tolerated
        r = self.fails(1, "meta", self.d.base + "/nosuchactor")
        self.assertIn("404", r.err)

    def test_delete_actor(self):
        aid, url = self.new_actor("del", "pw")
        self.fails(1, "delete", "--url", url, "--creator", "del", "--passphrase", "bad")
        self.ok("delete", "--url", url, "--creator", "del", "--passphrase", "pw")
        self.assertEqual(self.d.req("GET", "/%s/meta" % aid).status, 404)
        self.fails(1, "delete", "--url", url, "--creator", "del", "--passphrase", "pw")

    def test_calls(self):
        # /methods and /actions are application-defined: with no handler the server refuses (exit 1), and
        # a JSON-RPC "method not found" error (HTTP 200) is a refusal too.
        aid, url = self.new_actor()
        env = {"AW_URL": url, "AW_CREATOR": "cli", "AW_PASSPHRASE": "pw-cli"}
        self.fails(1, "call", "method", "nosuch", '{"a": 1}', env=env)
        # (JSON-RPC to an unknown method is covered in Calls: against actingwebd it currently leaks the
        # params under ASan, src/http/methods.c; reported.)
        self.fails(1, "call", "action", "nosuch", env=env)
        self.fails(2, "call", "action", "x", "[1,", env=env)

    def test_error_message_from_server(self):
        aid, url = self.new_actor()
        r = self.fails(1, "trust", "add", "http://127.0.0.1:%d/nobody" % awtest.free_port(),
                       env={"AW_URL": url, "AW_CREATOR": "cli", "AW_PASSPHRASE": "pw-cli"})
        self.assertIn("408", r.err)
        r = self.fails(1, "trust", "show", "nopeer", env={"AW_URL": url, "AW_CREATOR": "cli", "AW_PASSPHRASE": "pw-cli"})
        self.assertIn("no trust", r.err)


MINI_APP = os.path.join(os.environ.get("AW_BUILD_DIR") or os.path.join(os.path.dirname(__file__), "..", "..", "build"),
                        "examples", "mini_app")


@unittest.skipUnless(os.access(MINI_APP, os.X_OK), "examples/mini_app not built")
class Calls(CliTest):
    """`aw call` against examples/mini_app, which registers method "greet" and action "reset"."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="awcli-")
        cls.port = awtest.free_port()
        cls.log = open(os.path.join(cls.tmp, "mini.log"), "wb")
        cls.proc = subprocess.Popen([MINI_APP, "--port", str(cls.port), "--storage",
                                     "sqlite:" + os.path.join(cls.tmp, "mini.db")], stdout=cls.log, stderr=cls.log)
        deadline = time.time() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", cls.port), timeout=0.2).close()
                break
            except OSError:
                if time.time() > deadline or cls.proc.poll() is not None:
                    cls.tearDownClass()
                    raise RuntimeError("mini_app did not start")
                time.sleep(0.05)

    @classmethod
    def tearDownClass(cls):
        if cls.proc.poll() is None:
            cls.proc.send_signal(signal.SIGTERM)
            try:
                cls.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                cls.proc.kill()
                cls.proc.wait()
        cls.log.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_method_and_action(self):
        j = self.ok("create", "--url", "http://127.0.0.1:%d" % self.port, "--creator", "c", "--passphrase", "p",
                    "--json").json()
        env = {"AW_URL": "http://127.0.0.1:%d/%s" % (self.port, j["id"]), "AW_CREATOR": "c", "AW_PASSPHRASE": "p"}
        self.ok("set", "nickname", "Ada", env=env)
        r = self.ok("call", "method", "greet", '{"name": "Bob"}', env=env)
        self.assertEqual(json.loads(r.out), {"greeting": "Hello Bob, I am Ada"})
        r = self.ok("call", "method", "greet", '{"name": "Eve"}', "--rpc", env=env)
        self.assertEqual(json.loads(r.out), {"greeting": "Hello Eve, I am Ada"})
        r = self.ok("call", "method", "greet", '{"name": "Eve"}', "--rpc", "--json", env=env)
        self.assertEqual(r.json(), {"jsonrpc": "2.0", "result": {"greeting": "Hello Eve, I am Ada"}, "id": 1})
        r = self.fails(1, "call", "method", "nosuch", "--rpc", env=env)
        self.assertIn("Method not found", r.err)
        self.assertIn("-32601", r.err)
        self.fails(1, "call", "method", "nosuch", env=env)
        r = self.ok("call", "action", "reset", env=env)
        self.assertEqual(json.loads(r.out), {"reset": True})
        self.fails(1, "get", "nickname", env=env)
        self.fails(1, "call", "action", "nosuch", env=env)
        self.fails(1, "call", "method", "greet", "--passphrase", "wrong", env=env)


class TwoDaemons(CliTest):
    @classmethod
    def setUpClass(cls):
        cls.da = awtest.Daemon().start()
        cls.db = awtest.Daemon().start()

    @classmethod
    def tearDownClass(cls):
        for d in (cls.da, cls.db):
            try:
                d.stop()
            finally:
                d.cleanup()

    def pair(self):
        a = self.da.create_actor("alice", "pw-a")
        b = self.db.create_actor("bob", "pw-b")
        ea = {"AW_URL": a.url, "AW_CREATOR": "alice", "AW_PASSPHRASE": "pw-a"}
        eb = {"AW_URL": b.url, "AW_CREATOR": "bob", "AW_PASSPHRASE": "pw-b"}
        return a, b, ea, eb

    def befriend(self, a, b, ea, eb):
        kv = self.ok("trust", "add", b.url, "--relationship", "friend", "--desc", "cli test", env=ea).kv()
        self.assertEqual(kv["peerid"], b.id)
        self.assertEqual(kv["relationship"], "friend")
        self.assertEqual(kv["approved"], "true")
        self.assertEqual(kv["peer_approved"], "false")
        self.assertEqual(kv["desc"], "cli test")
        self.ok("trust", "approve", a.id, env=eb)
        return kv["secret"]

    def test_trust_flow(self):
        a, b, ea, eb = self.pair()
        kv = self.ok("trust", "add", b.url, "--relationship", "friend", "--desc", "cli test", env=ea).kv()
        secret = kv["secret"]
        # pending on B
        rows = self.ok("trust", "list", env=eb).table()
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual((rows[0]["PEERID"], rows[0]["RELATIONSHIP"], rows[0]["APPROVED"], rows[0]["PEER_APPROVED"]),
                         (a.id, "friend", "no", "yes"))
        self.assertEqual(rows[0]["BASEURI"], a.url)
        self.assertEqual(rows[0]["DESC"], "cli test")
        self.ok("trust", "approve", a.id, env=eb)
        # both sides approved; A learnt it through the notice
        ra = self.ok("trust", "list", "--json", env=ea).json()
        self.assertEqual(len(ra), 1)
        self.assertTrue(ra[0]["approved"] and ra[0]["peer_approved"], ra)
        rb = self.ok("trust", "show", a.id, "--json", env=eb).json()
        self.assertTrue(rb["approved"] and rb["peer_approved"], rb)
        self.assertEqual(rb["secret"], secret)
        kv = self.ok("trust", "show", b.id, env=ea).kv()
        self.assertEqual(kv["peerid"], b.id)
        self.assertEqual(kv["approved"], "true")
        # filter
        self.assertEqual(self.ok("trust", "list", "--relationship", "admin", "--json", env=ea).json(), [])
        self.assertEqual(len(self.ok("trust", "list", "--relationship", "friend", env=ea).table()), 1)
        # the peer's bearer (its trust secret) reads the record as that peer
        r = self.ok("trust", "show", a.id, "--relationship", "friend", "--json", "--token", secret,
                    env={"AW_URL": b.url})
        self.assertEqual(r.json()["peerid"], a.id)
        r = self.ok("trust", "show", a.id, "--relationship", "friend", "--json", env={"AW_URL": b.url, "AW_TOKEN": secret})
        self.assertEqual(r.json()["peerid"], a.id)
        # wrong relationship: 404
        self.fails(1, "trust", "show", a.id, "--relationship", "admin", env=eb)
        # delete --local keeps the peer's record; a plain delete tells the peer
        self.ok("trust", "delete", a.id, "--local", env=eb)
        self.assertEqual(self.ok("trust", "list", "--json", env=eb).json(), [])
        self.assertEqual(len(self.ok("trust", "list", "--json", env=ea).json()), 1)
        self.ok("trust", "delete", b.id, env=ea)
        self.assertEqual(self.ok("trust", "list", "--json", env=ea).json(), [])
        self.fails(1, "trust", "delete", b.id, env=ea)
        self.fails(1, "trust", "approve", "nosuchpeer", env=eb)

    def test_subscriptions(self):
        a, b, ea, eb = self.pair()
        self.befriend(a, b, ea, eb)
        kv = self.ok("sub", "add", b.id, "--granularity", "high", env=ea).kv()
        subid = kv["subscriptionid"]
        self.assertTrue(subid)
        self.assertEqual(kv["url"], "%s/subscriptions/%s/%s" % (b.url, a.id, subid))
        j = self.ok("sub", "add", b.id, "--subtarget", "work", "--granularity", "none", "--json", env=ea).json()
        sub2 = j["subscriptionid"]
        self.assertEqual(j["peerid"], b.id)
        # A's list: its mirrors (subscriber role)
        rows = {r["SUBSCRIPTIONID"]: r for r in self.ok("sub", "list", env=ea).table()}
        self.assertEqual(set(rows), {subid, sub2})
        self.assertEqual(rows[subid]["ROLE"], "subscriber")
        self.assertEqual(rows[subid]["PEERID"], b.id)
        self.assertEqual(rows[subid]["TARGET"], "properties")
        self.assertEqual(rows[subid]["GRANULARITY"], "high")
        # B's list: the publisher side
        rows = self.ok("sub", "list", env=eb).table()
        self.assertEqual({r["SUBSCRIPTIONID"] for r in rows}, {subid, sub2})
        self.assertTrue(all(r["ROLE"] == "publisher" and r["PEERID"] == a.id for r in rows), rows)
        data = self.ok("sub", "list", "--json", env=eb).json()
        self.assertEqual(data["id"], b.id)
        self.assertEqual(len(data["data"]), 2)
        # filters: per peer and by scope
        self.assertEqual(len(self.ok("sub", "list", a.id, env=eb).table()), 2)
        self.assertEqual([r["SUBSCRIPTIONID"] for r in self.ok("sub", "list", "--subtarget", "work", env=eb).table()],
                         [sub2])
        # a change makes a diff on the publisher
        self.ok("set", "work", '{"desk": "14"}', env=eb)
        out = self.ok("sub", "show", a.id, sub2, env=eb).out
        head, _, diffs = out.partition("\n\n")
        kv = dict((l.split(":", 1)[0], l.split(":", 1)[1].strip()) for l in head.splitlines())
        self.assertEqual(kv["subscriptionid"], sub2)
        self.assertEqual(kv["subtarget"], "work")
        self.assertEqual(kv["sequence"], "1")
        self.assertIn("SEQUENCE", diffs)
        self.assertIn('{"desk":"14"}', diffs)
        j = self.ok("sub", "show", a.id, sub2, "--json", env=eb).json()
        self.assertEqual(j["sequence"], 1)
        self.assertEqual(j["data"][0]["data"], {"desk": "14"})
        self.fails(1, "sub", "show", a.id, "nosuchsub", env=eb)
        # delete from the subscriber: the publisher drops it too
        self.ok("sub", "delete", b.id, subid, env=ea)
        self.assertEqual([r["SUBSCRIPTIONID"] for r in self.ok("sub", "list", env=ea).table()], [sub2])
        self.assertEqual([r["SUBSCRIPTIONID"] for r in self.ok("sub", "list", env=eb).table()], [sub2])
        # no trust with that peer: the server refuses (408)
        r = self.fails(1, "sub", "add", "nosuchpeer", env=ea)
        self.assertIn("408", r.err)


if __name__ == "__main__":
    awtest.main()
