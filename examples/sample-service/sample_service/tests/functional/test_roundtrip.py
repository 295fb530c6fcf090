import subprocess
import sys

import testtools


class TestRoundTrip(testtools.TestCase):
    def test_module_runs(self):
        out = subprocess.run([sys.executable, "-m", "sample_service.cmd.api", "glance"],
                             capture_output=True, text=True, check=True)
        self.assertEqual("Hello, glance!", out.stdout.strip())
