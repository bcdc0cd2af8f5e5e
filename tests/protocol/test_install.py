"""`cmake --install` into a temporary prefix, then build programs against the installed tree: with
pkg-config (shared and static) and with find_package(actingweb), and run them."""
import glob
import os
import shlex
import shutil
import subprocess
import tempfile
import unittest

import awtest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.path.abspath(os.environ.get("AW_BUILD_DIR") or os.path.join(SRC, "build"))
EXAMPLE = os.path.join(SRC, "examples", "notify_peers.c")


def sanitized():
    try:
        with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
            return any(l.strip() in ("AW_SANITIZE:BOOL=ON", "AW_SANITIZE:BOOL=TRUE") for l in f)
    except OSError:
        return False


SAN_FLAGS = ["-fsanitize=address,undefined"] if sanitized() else []


def run(args, env=None, **kw):
    p = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300, **kw)
    if p.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s\n%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
    return p


class Install(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="awinstall-")
        cls.prefix = os.path.join(cls.tmp, "prefix")
        run(["cmake", "--install", BUILD, "--prefix", cls.prefix])
        libs = glob.glob(os.path.join(cls.prefix, "lib*", "**", "libactingweb.a"), recursive=True)
        assert libs, "libactingweb.a not installed"
        cls.libdir = os.path.dirname(libs[0])
        cls.env = dict(os.environ)
        cls.env["PKG_CONFIG_PATH"] = os.path.join(cls.libdir, "pkgconfig")
        cls.env.pop("PKG_CONFIG_LIBDIR", None)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def pkgconfig(self, *args, module="actingweb"):
        return shlex.split(run(["pkg-config"] + list(args) + [module], env=self.env).stdout)

    def test_layout(self):
        p = self.prefix
        for f in ("include/actingweb/actingweb.h", "include/actingweb/app.h", "include/actingweb/op.h",
                  "include/actingweb/peer.h", "include/actingweb/trust.h", "sbin/actingwebd", "bin/aw"):
            self.assertTrue(os.path.exists(os.path.join(p, f)), f)
        for f in ("libactingweb.a", "libactingweb.so", "pkgconfig/actingweb.pc",
                  "cmake/actingweb/actingwebConfig.cmake", "cmake/actingweb/actingwebConfigVersion.cmake",
                  "cmake/actingweb/actingwebTargets.cmake"):
            self.assertTrue(os.path.exists(os.path.join(self.libdir, f)), f)
        self.assertTrue(glob.glob(os.path.join(self.libdir, "libactingweb.so.*")))
        # Man pages, when the sources have them.
        if os.path.exists(os.path.join(SRC, "docs", "aw.1")):
            self.assertTrue(os.path.exists(os.path.join(p, "share/man/man1/aw.1")))
        if os.path.exists(os.path.join(SRC, "docs", "actingwebd.8")):
            self.assertTrue(os.path.exists(os.path.join(p, "share/man/man8/actingwebd.8")))
        # The installed daemon runs.
        out = run([os.path.join(p, "sbin/actingwebd"), "--version"]).stdout + ""
        self.assertTrue(out.strip(), out)

    def test_pkgconfig_fields(self):
        with open(os.path.join(SRC, "CMakeLists.txt")) as f:
            version = f.read().split("project(actingweb VERSION ", 1)[1].split()[0]
        self.assertEqual(run(["pkg-config", "--modversion", "actingweb"], env=self.env).stdout.strip(), version)
        cflags = self.pkgconfig("--cflags")
        self.assertIn("-I" + os.path.realpath(os.path.join(self.prefix, "include")),
                      ["-I" + os.path.realpath(f[2:]) for f in cflags if f.startswith("-I")])
        libs = self.pkgconfig("--libs")
        self.assertIn("-lactingweb", libs)
        static = self.pkgconfig("--libs", "--static")
        for lib in ("-lactingweb", "-luv", "-ljansson", "-lmicrohttpd", "-lcurl", "-lsqlite3", "-lz", "-lm"):
            self.assertIn(lib, static)
        with open(os.path.join(self.libdir, "pkgconfig", "actingweb.pc")) as f:
            pc = f.read()
        self.assertIn("Requires.private: yajl libmicrohttpd libcurl sqlite3 zlib", pc)
        self.assertIn("Libs.private:", pc)

    def run_example(self, exe, env=None):
        p = run([exe, "--help"], env=env)
        self.assertIn("usage: notify_peers", p.stdout)
        # A trivial real run: a fresh database, an actor with no trusts → nothing to notify.
        db = os.path.join(self.tmp, os.path.basename(exe) + ".db")
        p = run([exe, "--storage", "sqlite:" + db, "--base-url", "http://127.0.0.1:1", "--actor", "nobody"], env=env)
        self.assertIn("notified 0 peers: 0 answered, 0 failed", p.stdout)
        for m in awtest.SANITIZER_MARKERS:
            self.assertNotIn(m, p.stderr)

    def test_pkgconfig_shared(self):
        exe = os.path.join(self.tmp, "np_shared")
        run(["cc", "-o", exe, EXAMPLE] + SAN_FLAGS + self.pkgconfig("--cflags", "--libs"), env=self.env)
        env = dict(self.env, LD_LIBRARY_PATH=self.libdir)
        ldd = run(["ldd", exe], env=env).stdout
        self.assertIn("libactingweb.so", ldd)
        self.assertIn(self.libdir, ldd)
        self.run_example(exe, env)

    def test_pkgconfig_static(self):
        exe = os.path.join(self.tmp, "np_static")
        # actingweb-static.pc: libactingweb.a plus the shared system libraries (a fully static link with
        # `pkg-config --static actingweb` would need every dependency's own .a, which distros rarely ship).
        run(["cc", "-o", exe, EXAMPLE] + SAN_FLAGS + self.pkgconfig("--cflags", "--libs", module="actingweb-static"),
            env=self.env)
        self.assertNotIn("libactingweb.so", run(["ldd", exe]).stdout)
        self.run_example(exe)

    def test_find_package(self):
        proj = os.path.join(self.tmp, "proj")
        os.makedirs(proj, exist_ok=True)
        with open(os.path.join(proj, "CMakeLists.txt"), "w") as f:
            f.write("""cmake_minimum_required(VERSION 3.18)
project(hello C)
find_package(actingweb 0.1 REQUIRED)
add_executable(np_shared %(ex)s)
target_link_libraries(np_shared PRIVATE actingweb::actingweb)
add_executable(np_static %(ex)s)
target_link_libraries(np_static PRIVATE actingweb::actingweb_static)
""" % {"ex": EXAMPLE})
        bdir = os.path.join(proj, "build")
        san = " ".join(SAN_FLAGS)
        run(["cmake", "-S", proj, "-B", bdir, "-DCMAKE_PREFIX_PATH=" + self.prefix, "-DCMAKE_C_FLAGS=" + san,
             "-DCMAKE_EXE_LINKER_FLAGS=" + san], env=self.env)
        run(["cmake", "--build", bdir], env=self.env)
        self.run_example(os.path.join(bdir, "np_shared"))  # the imported target carries an RPATH
        self.run_example(os.path.join(bdir, "np_static"))


if __name__ == "__main__":
    awtest.main()
