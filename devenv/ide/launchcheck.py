"""`devenv doctor`: does each test configuration get as far as its tests, the way PyCharm starts it?

Fast and without running a test: for every test configuration in .idea/runConfigurations, start its
interpreter with the PYTHONPATH, environment and working directory PyCharm would give it (content and
source roots as ADD_CONTENT_ROOTS/ADD_SOURCE_ROOTS say, PARENT_ENVS + <envs>; run/TargetedPythonPaths.kt
in intellij-community) and import the runner and the package the configuration targets. A marked folder
that hides `cmd` or `token`, or a missing test dependency, shows up here as the module that fails.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from devenv import proc
from devenv.findings import Finding
from devenv.ide import xmlio

if TYPE_CHECKING:
    from lxml import etree

RUNNER_MODULE = {"Unittests": "unittest", "py.test": "pytest", "pytest": "pytest"}
# Imports the runner, then each target module; prints the first that fails, as JSON.
PROBE = """
import importlib, json, os, sys, traceback
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
        if name == os.environ.get("DJANGO_SETTINGS_MODULE"):
            import django  # pytest-django sets Django up before it imports a test module
            django.setup()
    except BaseException as exc:
        tb = traceback.extract_tb(exc.__traceback__)
        where = tb[-1].filename if tb else ""
        print(json.dumps({"module": name, "error": "%s: %s" % (type(exc).__name__, exc), "where": where}))
        sys.exit(1)
print(json.dumps({}))
"""


def _expand(value: str, root: Path) -> str:
    return value.replace("$PROJECT_DIR$", str(root)).replace("$MODULE_DIR$", str(root))


def _roots(root: Path) -> tuple[list[str], list[str]]:
    imls = sorted((root / ".idea").glob("*.iml"))
    if not imls:
        return [str(root)], []
    tree = xmlio.parse(imls[0].read_text(encoding="utf-8"))
    content = [_expand((c.get("url") or "").removeprefix("file://"), root) for c in tree.iter("content")]
    sources = [_expand((s.get("url") or "").removeprefix("file://"), root) for s in tree.iter("sourceFolder")]
    return content, sources


def _target_modules(root: Path, opts: dict[str, str]) -> list[str]:
    """The importable package a configuration points at (its folder or file under the root), and one test
    module of it."""
    mods: list[str] = []
    target = _expand(json.loads(opts.get("_new_target", '""') or '""'), root)
    if target and Path(target).is_relative_to(root):
        rel = Path(target).relative_to(root)
        parts = list(rel.with_suffix("").parts if rel.suffix == ".py" else rel.parts)
        # the longest importable prefix: horizon's openstack_dashboard/test/test_plugins is a package path
        while parts and not all((root.joinpath(*parts[:i]) / "__init__.py").is_file()
                                for i in range(1, len(parts) + (0 if rel.suffix == ".py" else 1))):
            parts.pop()
        if parts:
            mods.append(".".join(parts))
    # and one test module of each target package: what it imports (testtools -> pdb -> cmd, fixtures, the
    # product) is what a shadowing folder or a missing test dependency breaks
    samples = [t for t in (_first_test_module(root, m) for m in mods) if t]
    return list(dict.fromkeys(mods + samples))


def _django_settings(opts: dict[str, str]) -> str | None:
    from devenv.ide import runconfigs

    return runconfigs.settings_option(shlex.split(json.loads(opts.get("_new_additionalArguments", '""') or '""')))


def _first_test_module(root: Path, module: str) -> str | None:
    folder = root.joinpath(*module.split("."))
    if not (folder / "__init__.py").is_file():
        return None
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if (Path(dirpath) / d / "__init__.py").is_file())
        for f in sorted(filenames):
            if f.startswith("test") and f.endswith(".py"):
                rel = (Path(dirpath) / f).relative_to(root).with_suffix("")
                return ".".join(rel.parts)
    return None


def check(root: Path, python: Path, timeout: float = 60) -> list[Finding]:
    folder = root / ".idea" / "runConfigurations"
    if not folder.is_dir() or not python.exists():
        return []
    content, sources = _roots(root)
    out: list[Finding] = []
    for path in sorted(folder.glob("*.xml")):
        try:
            conf = xmlio.parse(path.read_text(encoding="utf-8")).find("configuration")
        except (OSError, UnicodeDecodeError, xmlio.XmlError):
            continue
        if conf is not None and conf.get("type") == "Tox":
            out.append(_tox(conf, path, root, timeout))
            continue
        if conf is None or conf.get("type") != "tests":
            continue
        name = conf.get("name") or path.stem
        opts = {o.get("name") or "": o.get("value") or "" for o in conf.findall("option")}
        envs = {e.get("name") or "": e.get("value") or "" for e in conf.findall("envs/env")}
        env = {**os.environ, **envs} if opts.get("PARENT_ENVS") == "true" else dict(envs)
        env.pop("VIRTUAL_ENV", None)
        pythonpath: list[str] = []
        for p in (content if opts.get("ADD_CONTENT_ROOTS") == "true" else []) + (
                sources if opts.get("ADD_SOURCE_ROOTS") == "true" else []):
            if p not in pythonpath:
                pythonpath.append(p)
        env["PYTHONPATH"] = os.pathsep.join(pythonpath)
        cwd = _expand(opts.get("WORKING_DIRECTORY", ""), root) or str(root)
        env["PWD"] = cwd
        modules = [RUNNER_MODULE.get(conf.get("factoryName") or "", "unittest"), *_target_modules(root, opts)]
        settings = _django_settings(opts)
        if settings:
            env["DJANGO_SETTINGS_MODULE"] = settings
            # the settings module first, so the test modules import with Django set up
            modules = [modules[0], settings, *[m for m in modules[1:] if m != settings]]
        res = proc.run([python, "-c", PROBE, *modules], cwd=cwd, env=env, timeout=timeout)
        try:
            failed = json.loads(res.stdout.strip().splitlines()[-1]) if res.stdout.strip() else {}
        except ValueError:
            failed = {}
        if res.returncode == 0 and not failed:
            out.append(Finding("ide.launch", "ok", f"{name}: imports {', '.join(modules)}"))
            continue
        if not failed:
            # the probe could not even start (json, traceback and unittest need the stdlib it is shadowing)
            lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()]
            failed = {"module": modules[0], "error": lines[-1].strip() if lines else f"exit {res.returncode}",
                      "where": res.stderr}
        where = failed.get("where", "")
        shadow = next((p for p in pythonpath if p != str(root) and (p + os.sep) in where), None)
        meaning = "the configuration cannot load its tests in PyCharm"
        if shadow:
            meaning += f" (PYTHONPATH entry {shadow} hides a module of the same name)"
        error = failed.get("error", res.stderr[-200:])
        out.append(Finding("ide.launch", "fail", f"{name}: import {failed.get('module', '?')} fails: {error}",
                           meaning, "devenv refresh (or devenv ide --force)"))
    return out


def _tox(conf: etree._Element, path: Path, root: Path, timeout: float) -> Finding:
    """A Tox configuration runs PyCharm's tox helper with its SDK_HOME interpreter, which must import tox 4
    (the helper picks its tox 4 runner by tox's major version)."""
    name = conf.get("name") or path.stem
    opts = {o.get("name") or "": o.get("value") or "" for o in conf.findall("option")}
    python = _expand(opts.get("SDK_HOME", ""), root)
    fix = "devenv init (builds devenv's tools venv again)"
    if not python or not os.path.exists(python):
        return Finding("ide.tox", "fail", f"{name}: its interpreter {python or '(none)'} does not exist",
                       "PyCharm cannot run the configuration", fix)
    res = proc.run([python, "-c", "import tox.version; print(tox.version.__version__)"], timeout=timeout, cwd=root)
    version = res.stdout.strip()
    if res.returncode != 0 or not version:
        return Finding("ide.tox", "fail", f"{name}: {python} cannot import tox", "PyCharm cannot run tox", fix)
    return Finding("ide.tox", "ok", f"{name}: tox {version} ({python})")
