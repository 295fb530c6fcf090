import io
import sys
from unittest import mock

import testtools

from sample_service.cmd import api


class TestApi(testtools.TestCase):
    def test_main_prints_greeting(self):
        out = io.StringIO()
        with mock.patch.object(sys, "argv", ["sample-api", "keystone"]), mock.patch.object(sys, "stdout", out):
            self.assertEqual(0, api.main())
        self.assertEqual("Hello, keystone!\n", out.getvalue())

    def test_eventlet_imports(self):
        import eventlet  # noqa: F401  - the runtime dependency is installed

        self.assertTrue(True)
