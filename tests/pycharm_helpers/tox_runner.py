"""Stand-in for PyCharm's python/helpers/pycharm/_jb_tox_runner.py + _jb_tox_runner_4.py
(intellij-community), written from their behaviour, not copied, with a JSON result file instead of
TeamCity service messages.

Followed:
- _jb_tox_runner.py: tox's major version picks the runner; this stand-in follows the tox 4 one only
  (a tox 3 exits 3 here, so a tools venv with an old tox is noticed).
- _jb_tox_runner_4.py: a plugin object is registered with tox's own plugin manager by wrapping
  MANAGER.load_plugins; then `tox.run.main(sys.argv[1:])`. PyCharm passes the env selection as ONE
  argument, "-e pep8,docs" (PyToxCommandLineState.addTestSpecsAsParameters joins "-e" and the envs with a
  space), then the configuration's arguments, each its own argument.
- the plugin: an env counts as started at tox_on_install (".pkg" is not an env); tox_before_run_commands
  sets _jb_do_not_call_enter_matrix=1 in the env and replaces a `python -m unittest discover` command by
  the unittest helper and a `pytest`/`py.test` command by the pytest helper, each as
  `python <helper> --offset N -- ...`; tox_after_run_commands marks the env passed when tox's exit code and
  every command's are 0; tox_env_teardown reports an env never started as failed.
"""

import json
import os
import sys

import tox.version

HELPERS = os.path.dirname(os.path.abspath(__file__))


def main():
    if int(tox.version.__version__.split(".")[0]) < 4:
        print("tox_runner stand-in: only the tox 4 helper is followed", file=sys.stderr)
        return 3
    from tox.plugin import impl
    from tox.plugin.manager import MANAGER
    from tox.run import main as tox_main

    state = {}  # env -> {"offset": n, "state": "started|passed|failed"}
    offset = [1]

    class Plugin:
        def _start(self, tox_env):
            if tox_env.name in state or tox_env.name == ".pkg":
                return
            state[tox_env.name] = {"offset": offset[0], "state": "started"}
            offset[0] += 1000

        @impl
        def tox_on_install(self, tox_env, arguments, section, of_type):
            self._start(tox_env)

        @impl
        def tox_before_run_commands(self, tox_env):
            tox_env.environment_variables["_jb_do_not_call_enter_matrix"] = "1"
            self._start(tox_env)
            n = str(state[tox_env.name]["offset"])
            for command in tox_env.conf["commands"]:
                args = command.args
                if args == ["python", "-m", "unittest", "discover"]:
                    command.args = ["python", os.path.join(HELPERS, "unittest_runner.py"), "--offset", n, "--",
                                    "discover"]
                elif args and args[0] in ("pytest", "py.test"):
                    command.args = ["python", os.path.join(HELPERS, "pytest_runner.py"), "--offset", n, "--",
                                    *args[1:]]

        @impl
        def tox_after_run_commands(self, tox_env, exit_code, outcomes):
            ok = exit_code == 0 and all(o.exit_code == 0 for o in outcomes)
            state[tox_env.name]["state"] = "passed" if ok else "failed"

        @impl
        def tox_env_teardown(self, tox_env):
            self._start(tox_env)

    original = MANAGER.load_plugins

    def load_plugins(path):
        original(path)
        MANAGER.manager.register(Plugin())

    MANAGER.load_plugins = load_plugins
    try:
        code = tox_main(sys.argv[1:])
    finally:
        out = os.environ.get("DEVENV_EMUL_RESULT")
        if out:
            states = {k: v["state"] for k, v in state.items()}
            with open(out, "w") as fh:
                json.dump({"found": len(states), "passed": sum(s == "passed" for s in states.values()),
                           "failed": sum(s != "passed" for s in states.values()), "envs": states}, fh)
    return code


if __name__ == "__main__":
    sys.exit(main())
