"""Stand-in for PyCharm's python/helpers/pycharm/_jb_unittest_runner.py (intellij-community), written
from its behaviour, not copied: the same argument handling and the same unittest call, with a JSON
result file instead of TeamCity service messages.

Two generations of that file are followed; DEVENV_EMUL_GENERATION picks one:
- "quiet" (the default; intellij-community 22d50ac29d): argv starts `python -m unittest --quiet`,
  `-t PROJECT_DIR`, PROJECT_DIR inserted at sys.path[0]. `--quiet` ahead of `discover` means unittest
  never sees the discover subcommand (unittest.main only looks at argv[1]): a folder target fails there
  with "unrecognized arguments: -s", which is why devenv's suite configurations do not use one.
- "classic" (dc51c73f83): argv starts `python -m unittest`, `-t os.getcwd()`, cwd appended to sys.path.

Followed, from that file and _jb_runner_tools.py:
- jb_start_tests(): everything after `--` is additional arguments; `--path` and `--target` (append);
  sys.path[0] is dropped when it is PYCHARM_HELPERS_DIR; PROJECT_DIR = $PWD (else getcwd()).
- a file path is passed to unittest as it is (Python 3); a folder becomes `discover -s PATH -t PROJECT_DIR`;
  targets are appended after the additional arguments.
- argv starts `python -m unittest --quiet`; PROJECT_DIR is inserted at sys.path[0];
  unittest.main(argv, module=None, buffer=not JB_DISABLE_BUFFERING).
DEVENV_EMUL_COLLECT=1 loads the same tests and counts them without running them.
"""

import argparse
import json
import os
import sys
import unittest

PROJECT_DIR = os.getenv("PWD", os.getcwd())


def start():
    extra = []
    if "--" in sys.argv:
        i = sys.argv.index("--")
        extra = sys.argv[i + 1:]
        del sys.argv[i:]
    parser = argparse.ArgumentParser()
    parser.add_argument("--path")
    parser.add_argument("--target", action="append")
    parser.add_argument("--offset")  # the tox helper's node offset for its TeamCity tree: unused here
    ns = parser.parse_args(sys.argv[1:])
    del sys.argv[1:]
    helpers = os.environ.get("PYCHARM_HELPERS_DIR")
    if helpers and os.path.abspath(sys.path[0]) == os.path.abspath(helpers):
        sys.path.pop(0)
    return ns.path, ns.target, extra


def flatten(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from flatten(t)
        else:
            yield t


class Recorder(unittest.TextTestResult):
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0, "load_errors": []}

    def addSuccess(self, test):
        super().addSuccess(test)
        self.counts["passed"] += 1

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self.counts["failed"] += 1

    def addError(self, test, err):
        super().addError(test, err)
        self.counts["errors"] += 1
        if type(test).__name__ in ("_FailedTest", "ModuleImportFailure") or "_FailedTest" in str(type(test)):
            self.counts["load_errors"].append(test.id())

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.counts["skipped"] += 1

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self.counts["passed"] += 1

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.counts["failed"] += 1


def report(counts):
    out = os.environ.get("DEVENV_EMUL_RESULT")
    if out:
        with open(out, "w") as fh:
            json.dump(counts, fh)


class CollectOnly(unittest.TextTestRunner):
    def run(self, test):
        tests = list(flatten(test))
        failed = [t.id() for t in tests if "_FailedTest" in str(type(t))]
        report({"found": len(tests) - len(failed), "load_errors": failed, "collect_only": True})
        for t in tests:
            if "_FailedTest" in str(type(t)):
                print("load error:", t.id(), getattr(t, "_exception", ""), file=sys.stderr)
        result = unittest.TestResult()
        if failed:
            result.errors.append((tests[0], "load errors"))
        return result


class Runner(unittest.TextTestRunner):
    resultclass = Recorder

    def run(self, test):
        result = super().run(test)
        counts = dict(Recorder.counts)
        counts["found"] = result.testsRun
        report(counts)
        return result


if __name__ == "__main__":
    path, targets, additional = start()
    classic = os.environ.get("DEVENV_EMUL_GENERATION") == "classic"
    args = ["python -m unittest"] if classic else ["python -m unittest", "--quiet"]
    top = os.getcwd() if classic else PROJECT_DIR
    if path:
        assert os.path.exists(path), "%s: No such file or directory" % path
        if os.path.isfile(path):
            additional = [path] + additional
        else:
            additional = ["discover", "-s", path, "-t", top] + additional
    elif targets:
        additional += targets
    args += additional
    print("Launching unittests with arguments %s in %s\n" % (" ".join(args), PROJECT_DIR))
    if classic:
        sys.path.append(os.getcwd())
    else:
        sys.path.insert(0, PROJECT_DIR)
    runner = CollectOnly if os.environ.get("DEVENV_EMUL_COLLECT") else Runner
    unittest.main(argv=args, module=None, testRunner=runner, buffer="JB_DISABLE_BUFFERING" not in os.environ)
