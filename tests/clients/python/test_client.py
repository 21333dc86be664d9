"""Checks of client.py's command line that need no mesh: a missing or unusable certificate or key
ends the run with one line on stderr naming the option, never a traceback.

    PYTHONPATH=tests/clients/gen/python python -m unittest tests/clients/python/test_client.py

Run it with the clients' venv (dev/clients.sh makes it and the stubs client.py imports).
"""

import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
GENERATED = os.path.join(os.path.dirname(HERE), "gen", "python")


def run_client(*args):
    """Runs client.py with `args` and the generated stubs; (exit code, stdout, stderr)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (GENERATED, HERE, env.get("PYTHONPATH")) if p)
    done = subprocess.run(
        [sys.executable, os.path.join(HERE, "client.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    return done.returncode, done.stdout, done.stderr


class CredentialFiles(unittest.TestCase):
    def setUp(self):
        if not os.path.isdir(os.path.join(GENERATED, "talentmesh")):
            self.fail(f"no generated stubs in {GENERATED}: run dev/clients.sh first")
        self.folder = tempfile.TemporaryDirectory()
        self.addCleanup(self.folder.cleanup)

    def file(self, name, text):
        path = os.path.join(self.folder.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def assert_one_line(self, code, stdout, stderr, *words):
        self.assertNotEqual(code, 0, stderr)
        self.assertNotIn("Traceback", stderr)
        self.assertEqual(len(stderr.strip().splitlines()), 1, stderr)
        for word in words:
            self.assertIn(word, stderr)
        self.assertEqual(stdout, "")

    def test_a_missing_key_is_one_line_naming_it(self):
        ca = self.file("roots.pem", "x")
        cert = self.file("leaf.pem", "x")
        missing = os.path.join(self.folder.name, "no-such.key")
        code, stdout, stderr = run_client("--ca", ca, "--cert", cert, "--key", missing)
        self.assert_one_line(code, stdout, stderr, f"--key {missing}", "no such file")

    def test_a_certificate_that_is_not_pem_is_one_line(self):
        ca = self.file("roots.pem", "not a certificate\n")
        cert = self.file("leaf.pem", "not a certificate\n")
        key = self.file("leaf.key", "not a key\n")
        code, stdout, stderr = run_client("--ca", ca, "--cert", cert, "--key", key)
        self.assert_one_line(code, stdout, stderr, "cannot use --ca")


if __name__ == "__main__":
    unittest.main()
