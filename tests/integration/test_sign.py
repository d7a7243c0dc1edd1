"""`rtmpgate sign` (signed publish/play URLs) and --check-config of the locked-down example,
whose secret files it reads as start-up would."""

import hashlib
import hmac
import os
import re
import subprocess
import time
import unittest

import harness

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECRET = "0123456789abcdef0123456789abcdef"
URL = re.compile(r"^(rtmps?t?://[^/]+)/([^/?]+)/([^?]+)\?expires=(\d+)&sig=([0-9a-f]{64})(?:&client=(\S+))?$")


def expected_sig(secret, app, stream, expires, client=""):
    """The token as config/rtmpgate.yaml and access/token.hpp define it, computed here without
    the gateway's code."""
    message = f"rtmpgate-v1\n{app}\n{stream}\n{expires}\n{client}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class SignTest(harness.GatewayTest):
    def run_binary(self, *args, cwd=None):
        return subprocess.run([os.path.abspath(harness.BINARY), *args], capture_output=True,
                              text=True, timeout=20, cwd=cwd)

    def secret_file(self, name, content):
        path = self.path(name)
        with open(path, "w") as f:
            f.write(content)
        return path

    def sign(self, *extra, secret=None):
        secret = secret or self.secret_file("s.key", SECRET + "\n")
        return self.run_binary("sign", "--secret-file", secret, *extra)

    def test_prints_one_signed_url(self):
        before = int(time.time())
        r = self.sign("--app", "live", "--stream", "cam1", "--expires", "1h")
        after = int(time.time())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 1, r.stdout)
        m = URL.match(lines[0])
        self.assertIsNotNone(m, lines[0])
        base, app, stream, expires, sig, client = m.groups()
        self.assertEqual((base, app, stream, client), ("rtmp://127.0.0.1:1935", "live", "cam1", None))
        self.assertTrue(before + 3600 <= int(expires) <= after + 3600, expires)
        self.assertEqual(sig, expected_sig(SECRET, "live", "cam1", expires))

    def test_absolute_expiry_client_and_base_url(self):
        r = self.sign("--app", "studio", "--stream", "a/b-1", "--expires", "@1700000000",
                      "--client", "::ffff:192.0.2.7", "--url", "rtmps://gw.example.com:443/")
        self.assertEqual(r.returncode, 0, r.stderr)
        m = URL.match(r.stdout.strip())
        self.assertIsNotNone(m, r.stdout)
        base, app, stream, expires, sig, client = m.groups()
        self.assertEqual((base, app, stream, expires, client),
                         ("rtmps://gw.example.com:443", "studio", "a/b-1", "1700000000", "192.0.2.7"))
        self.assertEqual(sig, expected_sig(SECRET, "studio", "a/b-1", "1700000000", "192.0.2.7"))

    def test_durations(self):
        for text, seconds in (("30s", 30), ("10m", 600), ("2h", 7200), ("7d", 604800), ("1500ms", 2)):
            before = int(time.time())
            r = self.sign("--app", "live", "--stream", "k", "--expires", text)
            self.assertEqual(r.returncode, 0, f"{text}: {r.stderr}")
            expires = int(URL.match(r.stdout.strip()).group(4))
            self.assertTrue(before + seconds <= expires <= int(time.time()) + seconds, (text, expires))

    def test_secrets_and_names_change_the_sig(self):
        args = ("--app", "live", "--stream", "cam1", "--expires", "@1700000000")
        one = self.sign(*args)
        other = self.sign(*args, secret=self.secret_file("o.key", "another secret of enough octets\r\n"))
        # Only the first line is the secret.
        same = self.sign(*args, secret=self.secret_file("m.key", SECRET + "\nsecond line\n"))
        stream = self.sign("--app", "live", "--stream", "cam2", "--expires", "@1700000000")
        sigs = [URL.match(r.stdout.strip()).group(5) for r in (one, other, same, stream)]
        self.assertNotEqual(sigs[0], sigs[1])
        self.assertEqual(sigs[0], sigs[2])
        self.assertNotEqual(sigs[0], sigs[3])
        self.assertEqual(sigs[1], expected_sig("another secret of enough octets", "live", "cam1", "1700000000"))

    def test_bad_arguments_exit_2(self):
        good = self.secret_file("g.key", SECRET)
        short = self.secret_file("short.key", "fifteen octets.\n")
        base = ["--secret-file", good, "--app", "live", "--stream", "cam1", "--expires", "1h"]

        def without(option):
            i = base.index(option)
            return base[:i] + base[i + 2:]

        cases = {
            "needs --secret-file": without("--secret-file"),
            "needs --secret-file, --app": without("--app"),
            "needs --secret-file, --app, --stream": without("--stream"),
            "and --expires": without("--expires"),
            "--expires": base[:-1] + ["1y"],
            "--expires: expected": base[:-1] + ["0s"],
            "(got \"-5m\")": base[:-1] + ["-5m"],
            "got \"@17x\"": base[:-1] + ["@17x"],
            "--client": base + ["--client", "example.com"],
            "--url": base + ["--url", "http://h:80"],
            "--app": ["--secret-file", good, "--app", "a/b", "--stream", "k", "--expires", "1h"],
            "--stream": ["--secret-file", good, "--app", "a", "--stream", "k?x=1", "--expires", "1h"],
            "unknown option --bogus": base + ["--bogus", "1"],
            "--url needs a value": base + ["--url"],
            "16 are needed": ["--secret-file", short] + base[2:],
            "no-such.key: cannot read": ["--secret-file", self.path("no-such.key")] + base[2:],
        }
        for expected, args in cases.items():
            r = self.run_binary("sign", *args)
            self.assertEqual(r.returncode, 2, f"{args}: {r.stdout}")
            self.assertEqual(r.stdout, "", args)
            self.assertIn(expected, r.stderr, args)
            self.assertTrue(r.stderr.startswith("rtmpgate: sign: "), r.stderr)

    def test_help_names_sign(self):
        h = self.run_binary("--help")
        self.assertEqual(h.returncode, 0)
        self.assertIn("rtmpgate sign --secret-file FILE", h.stdout)

    def test_check_config_reads_the_example_secret_files(self):
        example = os.path.join(ROOT, "config", "examples", "locked-down.yaml")
        os.makedirs(self.path("certs"))
        os.symlink(harness.dev_certs("default"), self.path("certs/dev"))
        os.makedirs(self.path("secrets"))
        missing = self.run_binary("--check-config", example, cwd=self.workdir)
        self.assertNotEqual(missing.returncode, 0)
        self.assertIn("access.secret_files[0]: secrets/publish-1.key: cannot read", missing.stderr)
        self.assertEqual(len(missing.stderr.strip().splitlines()), 1, missing.stderr)

        self.secret_file("secrets/publish-1.key", "short\n")
        short = self.run_binary("--check-config", example, cwd=self.workdir)
        self.assertNotEqual(short.returncode, 0)
        self.assertIn("access.secret_files[0]: secrets/publish-1.key: ", short.stderr)
        self.assertIn("at least 16", short.stderr)

        self.secret_file("secrets/publish-1.key", SECRET + "\n")
        ok = self.run_binary("--check-config", example, cwd=self.workdir)
        self.assertEqual(ok.returncode, 0, ok.stderr)


if __name__ == "__main__":
    unittest.main()
