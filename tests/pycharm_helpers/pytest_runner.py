"""Stand-in for PyCharm's python/helpers/pycharm/_jb_pytest_runner.py (intellij-community), written
from its behaviour, not copied, with a JSON result file instead of TeamCity service messages.

Followed: the arguments after `--` come first (sys.argv += additional_args); a `--path` is appended as
it is, else each `--target` `file.py::Class.method` becomes `file.py::Class::method`
(jb_patch_separator: fs glue "/", python glue "::") and a target with no ':' gets '.py' appended;
then `--no-header --no-summary -q` (pytest >= 6) and `-s` when JB_DISABLE_BUFFERING is set.
DEVENV_EMUL_COLLECT=1 adds --collect-only.
"""

import json
import os
import re
import sys

import pytest

from unittest_runner import start


def patch_target(target):
    m = re.match(r"^(:?(.+)[.]py::)?(.+)$", target)
    fs, py = m.group(2), m.group(3).replace(".", "::")
    return fs.replace("/", "/") + ".py::" + py if fs else py


class Counter:
    def __init__(self):
        self.counts = {"found": 0, "passed": 0, "failed": 0, "errors": 0, "skipped": 0, "load_errors": []}

    def pytest_collectreport(self, report):
        if report.failed:
            self.counts["load_errors"].append(report.nodeid)

    def pytest_collection_finish(self, session):
        self.counts["found"] = len(session.items)  # after -m/-k deselection, as the run sees them

    def pytest_runtest_logreport(self, report):
        if report.when == "call" or (report.when == "setup" and not report.passed):
            if report.skipped:
                self.counts["skipped"] += 1
            elif report.failed:
                self.counts["failed" if report.when == "call" else "errors"] += 1
            elif report.when == "call":
                self.counts["passed"] += 1

    def pytest_sessionfinish(self):
        out = os.environ.get("DEVENV_EMUL_RESULT")
        if out:
            with open(out, "w") as fh:
                json.dump(self.counts, fh)


if __name__ == "__main__":
    path, targets, additional = start()
    sys.argv += additional
    joined = [patch_target(t) for t in targets or []]
    joined = [t + ".py" if ":" not in t else t for t in joined]
    sys.argv += [path] if path else joined
    args = sys.argv[1:]
    if int(pytest.__version__.split(".")[0]) >= 6:
        args += ["--no-header", "--no-summary", "-q"]
    if "JB_DISABLE_BUFFERING" in os.environ and "-s" not in args:
        args += ["-s"]
    if os.environ.get("DEVENV_EMUL_COLLECT"):
        args += ["--collect-only"]
    print("Launching pytest with arguments %s in %s\n" % (" ".join(args), os.getenv("PWD", os.getcwd())))
    sys.exit(pytest.main(args, plugins=[Counter()]))
