"""tox.ini reading, checked against tox's own `tox config` on the same files so the two agree."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from devenv import project

DATA = Path(__file__).parent / "data" / "tox"
ENV = {"TOX_CONSTRAINTS_FILE": "/srv/uc.txt", "DEVENV_T_INNER": "inner-value"}
# tox adds these to every env; devenv's model carries only what the project declares.
TOX_OWN_SETENV = {"PIP_DISABLE_PIP_VERSION_CHECK", "PIP_USER", "PYTHONHASHSEED", "PYTHONIOENCODING",
                  "TOX_ENV_DIR", "TOX_ENV_NAME", "TOX_WORK_DIR", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE_"}


def make_project(tmp_path: Path, ini: str) -> Path:
    root = tmp_path / "proj ect"  # a space, on purpose
    (root / "pkg" / "tests" / "unit").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    shutil.copy(DATA / ini, root / "tox.ini")
    (root / "setup.cfg").write_text("[metadata]\nname = pkg\npython_requires = >=3.10\n")
    (root / "test-requirements.txt").write_text("stestr>=3\n")
    (root / "requirements.txt").write_text("pbr\n")
    return root


def tox_config(root: Path, envs: list[str]) -> dict[str, dict[str, str]]:
    env = {**os.environ, **ENV}
    env.pop("DEVENV_T_OUTER", None)
    r = subprocess.run([sys.executable, "-m", "tox", "config", "-e", ",".join(envs), "--root", str(root),
                        "-k", "set_env", "deps", "commands", "extras", "use_develop", "constraints", "pass_env",
                        "skip_install"], capture_output=True, text=True, env=env, timeout=120, cwd=root)
    assert r.returncode == 0, r.stderr
    out: dict[str, dict[str, str]] = {}
    section = key = None
    for line in r.stdout.splitlines():
        if m := re.fullmatch(r"\[testenv:(.+)\]", line):
            section = m.group(1)
            out[section] = {}
        elif m := re.fullmatch(r"(\w+) =\s?(.*)", line):
            key = m.group(1)
            out[section][key] = m.group(2)  # type: ignore[index]
        elif line.startswith("  ") and key:
            out[section][key] += ("\n" if out[section][key] else "") + line.strip()  # type: ignore[index]
    return out


def setenv_of(text: str) -> dict[str, str]:
    pairs = (ln.split("=", 1) for ln in text.splitlines() if "=" in ln)
    return {k: v for k, v in pairs if k not in TOX_OWN_SETENV}


pytestmark = pytest.mark.skipif(shutil.which("tox") is None and not Path(sys.executable).with_name("tox").exists(),
                                reason="tox is not installed (scripts/test installs it)")


@pytest.mark.parametrize("ini,envs", [("features.ini", ["py3", "py311", "functional", "py3-dj42", "pep8"]),
                                      ("deps-constraint.ini", ["py3"])])
def test_model_agrees_with_tox_config(tmp_path: Path, ini: str, envs: list[str]) -> None:
    root = make_project(tmp_path, ini)
    theirs = tox_config(root, envs)
    model = project.load(root, environ=ENV)
    for name in envs:
        ours = model.envs[name]
        tox = theirs[name]
        assert dict(ours.setenv) == {k: v for k, v in setenv_of(tox["set_env"]).items()
                                     if k in ours.setenv or k not in os.environ}, name
        assert set(ours.passenv) <= set(tox["pass_env"].splitlines()), name
        assert list(ours.commands) == tox["commands"].splitlines(), name
        assert sorted(ours.extras) == sorted(x for x in tox.get("extras", "").splitlines() if x), name
        if "use_develop" in tox:  # tox leaves it out for skip_install envs
            assert ours.usedevelop == (tox["use_develop"] == "True"), name
        assert ours.skip_install == (tox["skip_install"] == "True"), name
        tox_deps = [d.strip().replace("\\ ", " ") for d in tox["deps"].splitlines() if d.strip()]
        our_deps = _deps_as_tox_prints(ours, root)
        if tox.get("constraints", "").strip():  # tox >= 4.28's own key
            assert list(ours.constraints) == tox["constraints"].split(), name
        else:  # `-c` lines in deps: devenv keeps them as the env's constraints
            our_deps = [f"-c {c}" for c in ours.constraints] + our_deps
        assert sorted(our_deps) == sorted(tox_deps), name


def _deps_as_tox_prints(env: project.ToxEnv, root: Path) -> list[str]:
    out = []
    for dep in env.deps:
        if dep.kind == "file":
            out.append(f"-r {dep.value}")
        elif dep.kind == "project":
            out.append(f".[{','.join(dep.extras)}]" if dep.extras else ".")  # tox prints it as written
        else:
            out.append(dep.value)
    return out


def test_features_resolved(tmp_path: Path) -> None:
    root = make_project(tmp_path, "features.ini")
    model = project.load(root, environ=ENV)
    py3 = model.envs["py3"]
    assert model.unit_env.name == "py3"
    assert py3.setenv["OS_TEST_TIMEOUT"] == "160"  # {env:X:default} default
    assert py3.setenv["NESTED"] == "inner-value"  # nested {env:} resolved innermost first
    assert py3.setenv["DATA_DIR"] == f"{root}/data"  # {toxinidir}
    assert py3.setenv["UNIT_ONLY"] == "True"  # {[testenv]setenv} plus the env's own
    assert "ONLY_311" not in py3.setenv and model.envs["py311"].setenv["ONLY_311"] == "yes"  # factor line
    assert py3.passenv == ("OS_DEBUG", "GENERATE_HASHES")
    assert py3.constraints == ("/srv/uc.txt",)
    assert py3.extras == ("zvm", "vmware")
    assert model.runner.kind == "stestr"
    assert model.envs["functional"].runner.test_path == "pkg/tests/functional"
    dj = model.envs["py3-dj42"]
    assert dj.runner.kind == "pytest"
    assert dj.runner.args == ("-v", "--ds=pkg.tests.settings", "-m", "not selenium")  # CI-only --junitxml dropped
    assert dj.runner.test_path == "pkg"
    assert any(d.value == "django>=4.2,<4.3" for d in dj.deps)
    assert not any("5.2" in d.value for d in dj.deps)
    assert model.unresolved == ()


def test_unset_env_without_default_is_reported(tmp_path: Path) -> None:
    root = make_project(tmp_path, "deps-constraint.ini")
    text = (root / "tox.ini").read_text().replace("PYTHONDONTWRITEBYTECODE=1", "X={env:DEVENV_T_NOPE}")
    (root / "tox.ini").write_text(text)
    model = project.load(root, environ={})
    assert any("DEVENV_T_NOPE" in u for u in model.unresolved)
    assert model.unit_env.constraints == ("https://releases.openstack.org/constraints/upper/master",)
    assert model.runner.kind == "pytest" and model.runner.args == ("--ds=site.settings",)
    assert model.runner.test_path == "tests"


CHECKOUTS = [p for p in os.environ.get("DEVENV_TEST_CHECKOUTS", "").split(os.pathsep) if p]


@pytest.mark.skipif(not CHECKOUTS, reason="set DEVENV_TEST_CHECKOUTS=/path/nova:/path/horizon to compare real trees")
@pytest.mark.parametrize("checkout", CHECKOUTS)
def test_real_checkout_agrees_with_tox(tmp_path: Path, checkout: str) -> None:
    root = tmp_path / "checkout"
    shutil.copytree(checkout, root, ignore=shutil.ignore_patterns(".git", ".tox", ".venv"))
    model = project.load(root, environ=ENV)
    envs = [n for n in model.envs if n != "testenv"][:12]
    theirs = tox_config(root, envs)
    for name in envs:
        ours, tox = model.envs[name], theirs[name]
        # devenv's env dir is the project's .venv where tox's is .tox/NAME: {envpython} etc. differ by design
        tox_cmds = tox["commands"].replace(f"{root}/.tox/{name}", f"{root}/.venv").splitlines()
        assert list(ours.commands) == tox_cmds, name
        assert dict(ours.setenv) == {k: v for k, v in setenv_of(tox["set_env"]).items() if k in ours.setenv}, name
        assert set(setenv_of(tox["set_env"])) - set(ours.setenv) <= TOX_OWN_SETENV | set(os.environ), name


def _show(root: Path) -> subprocess.CompletedProcess[str]:
    """`devenv show` in a child with a bound: a substitution that loops fails the test instead of hanging it."""
    return subprocess.run([sys.executable, "-m", "devenv", "show", str(root)], capture_output=True, text=True,
                          timeout=30)


def test_unknown_substitutions_never_loop(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / "tox.ini").write_text("[testenv]\ndeps = x\n"
                                  "commands = stestr run {envsitepackagesdir} {typo} {tty:on:off} {temp_dir}\n")
    done = _show(root)
    assert done.returncode == 0, done.stderr
    assert "{envsitepackagesdir} is known only inside tox" in done.stdout
    assert "cannot resolve {typo}" in done.stdout
    # and tox itself agrees on what it can resolve here: {tty:on:off} off a terminal, {temp_dir} in .tox
    r = project.load(root)
    assert "off" in r.unit_env.commands[0] and str(root / ".tox" / ".tmp") in r.unit_env.commands[0]
    told = tox_config(root, ["py3"])["py3"]["commands"]
    assert " off " in f" {told} " and str(root / ".tox" / ".tmp") in told


@pytest.mark.parametrize("ini, chain", [
    ("[testenv]\ndeps = {[testenv]deps}\ncommands = stestr run\n", "[testenv]deps"),
    ("[a]\nx = {[b]x}\n[b]\nx = {[a]x}\n[testenv]\ndeps = {[a]x}\ncommands = stestr run\n",
     "[a]x -> [b]x -> [a]x"),
])
def test_a_cyclic_reference_is_reported_with_its_keys(tmp_path: Path, ini: str, chain: str) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / "tox.ini").write_text(ini)
    done = _show(root)
    assert done.returncode == 3, done.stdout + done.stderr
    assert chain in done.stderr and "Traceback" not in done.stderr
