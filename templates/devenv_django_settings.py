"""pytest plugin written by devenv into .idea/devenv/: a Django settings module for each test folder.

PyCharm makes every gutter run (right-click -> Run) from one py.test template, so a template `--ds`
would give horizon/ the settings of openstack_auth/. tox runs each folder with its own `--ds`; this
plugin does the same from the map devenv read from tox.ini (DEVENV_DJANGO_SETTINGS, JSON: folder
relative to the project -> settings module; "" is the main suite's). It runs as a hook wrapper around
pytest_load_initial_conftests, so before pytest-django reads DJANGO_SETTINGS_MODULE. A --ds given on
the command line, or DJANGO_SETTINGS_MODULE already set, wins.
"""

import json
import os

import pytest


def _pick(args, root, table):
    best, best_len = table.get(""), -1
    for arg in args:
        if arg.startswith("-"):
            continue
        path = os.path.abspath(os.path.join(root, arg.split("::", 1)[0]))
        for folder, settings in table.items():
            base = os.path.abspath(os.path.join(root, folder)) if folder else root
            if (path == base or path.startswith(base + os.sep)) and len(base) > best_len:
                best, best_len = settings, len(base)
    return best


@pytest.hookimpl(hookwrapper=True)
def pytest_load_initial_conftests(early_config, parser, args):
    table = json.loads(os.environ.get("DEVENV_DJANGO_SETTINGS") or "{}")
    given = any(a == "--ds" or a.startswith("--ds=") for a in args)
    if table and not given and not os.environ.get("DJANGO_SETTINGS_MODULE"):
        root = os.environ.get("DEVENV_PROJECT_DIR") or os.getcwd()
        settings = _pick(args, root, table)
        if settings:
            os.environ["DJANGO_SETTINGS_MODULE"] = settings
    yield
