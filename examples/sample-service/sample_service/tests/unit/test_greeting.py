import testtools

from sample_service import greeting


class TestGreeting(testtools.TestCase):
    def test_greets(self):
        self.assertEqual("Hello, nova!", greeting.greet("nova"))

    def test_strips(self):
        self.assertEqual("Hello, nova!", greeting.greet("  nova "))

    def test_rejects_empty(self):
        self.assertRaises(ValueError, greeting.greet, " ")
