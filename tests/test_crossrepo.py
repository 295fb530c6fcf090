"""`devenv init --with PATH`: other checkouts installed editable into the project's venv, their pins
dropped from the constraints (devstack's LIBS_FROM_GIT and edit-constraints), remembered for refresh,
part of the fingerprint. Real virtualenv and uv, small setuptools projects made in tmp_path, offline
from the local wheelhouse (tests/localindex.py)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
from test_init import logs, vpy

from devenv import constraints as constraints_mod
from devenv import crossrepo, fingerprint, installed, paths
from devenv.fingerprint import Fingerprint, Other

PYPROJECT = """\
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "{name}"
version = "{version}"
requires-python = ">=3.10"
dynamic = ["dependencies"]

[tool.setuptools]
packages = ["{package}"]

[tool.setuptools.dynamic]
dependencies = {{file = ["requirements.txt"]}}
"""


def make(folder: Path, name: str, version: str, *requirements: str) -> Path:
    """A setuptools project whose dependencies are its requirements.txt (as pbr's are)."""
    package = name.replace("-", "_").replace(".", "_")
    (folder / package).mkdir(parents=True)
    (folder / package / "__init__.py").write_text(f"VERSION = {version!r}\n")
    (folder / "pyproject.toml").write_text(PYPROJECT.format(name=name, version=version, package=package))
    (folder / "requirements.txt").write_text("".join(f"{r}\n" for r in requirements))
    return folder


@dataclasses.dataclass
class Tree:
    main: Path
    alpha: Path  # lib-alpha 0.2, needs iso8601
    beta: Path  # lib-beta 9.9.9; the constraints pin Lib_Beta===1.0.0
    constraints: str


@pytest.fixture
def tree(tmp_path: Path, constraints: str) -> Tree:
    cfile = tmp_path / "upper-constraints.txt"
    # the pin is spelled otherwise than the project's name: matched PEP 503-normalised, as devstack does
    cfile.write_text(Path(constraints).read_text() + "Lib_Beta===1.0.0\n")
    return Tree(make(tmp_path / "mainsvc", "mainsvc", "1.0", "six"),
                make(tmp_path / "lib-alpha", "lib-alpha", "0.2", "iso8601"),
                make(tmp_path / "lib-beta", "lib-beta", "9.9.9"), str(cfile))


def init(run_cli, t: Tree, *extra: str):
    return run_cli("init", str(t.main), "--no-ide", "--constraints", t.constraints, *extra)


def origin(root: Path, module: str) -> str:
    r = vpy(root, f"import {module}; print({module}.__file__)")
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def version(root: Path, dist: str) -> str:
    return vpy(root, f"import importlib.metadata as m; print(m.version({dist!r}))").stdout.strip()


def state(root: Path) -> tuple[int, str]:
    return (root / ".venv").stat().st_ino, (root / ".venv" / fingerprint.FILE).read_text()


def test_with_installs_the_checkouts_editable_and_drops_their_pins(tree: Tree, run_cli) -> None:
    r = init(run_cli, tree, "--with", str(tree.alpha), "--with", str(tree.beta))
    assert r.exit_code == 0, r.output
    assert "with " in r.output and "lib-alpha" in r.output
    assert origin(tree.main, "lib_alpha") == str(tree.alpha / "lib_alpha" / "__init__.py")
    assert origin(tree.main, "lib_beta") == str(tree.beta / "lib_beta" / "__init__.py")
    assert version(tree.main, "lib-beta") == "9.9.9"  # the checkout's version, not the pin's 1.0.0
    assert vpy(tree.main, "import iso8601, six, mainsvc").returncode == 0  # their own requirements too
    used = (tree.main / ".venv" / "devenv-constraints.txt").read_text()
    assert "Lib_Beta" not in used and "eventlet===" in used
    assert crossrepo.remembered(tree.main) == [tree.alpha, tree.beta]

    shown = run_cli("show", str(tree.main))
    assert f"with         lib-alpha  ({tree.alpha}, editable)" in shown.output
    assert f"with         lib-beta  ({tree.beta}, editable)" in shown.output
    data = json.loads(run_cli("show", str(tree.main), "--json").output)
    assert [w["name"] for w in data["with"]] == ["lib-alpha", "lib-beta"]

    before = logs(tree.main)
    again = run_cli("refresh", str(tree.main), "--json")  # without --with: the remembered set
    assert again.exit_code == 0, again.output
    summary = json.loads(again.output)
    assert summary["venv"]["action"] == "noop" and set(summary["venv"]["others"]) == {"lib-alpha", "lib-beta"}
    assert logs(tree.main) == before  # no installer call


def test_the_pin_is_what_stands_in_the_way(tree: Tree) -> None:
    """Without dropping it, the pin of a --with project makes the install impossible: the drop matters."""
    text = Path(tree.constraints).read_text()
    assert "Lib_Beta===1.0.0" in text
    kept = constraints_mod.without(text, ["mainsvc", "lib.beta"])
    assert "Lib_Beta" not in kept and "eventlet===" in kept
    assert constraints_mod.without("oslo.messaging===14.0.0;python_version>='3.10'\nOSLO_Messaging===1\nsix===1\n",
                                   ["oslo-messaging"]) == "six===1\n"


def test_a_requirement_added_in_a_with_repo_is_one_exact_sync(tree: Tree, run_cli) -> None:
    assert init(run_cli, tree, "--with", str(tree.alpha), "--with", str(tree.beta)).exit_code == 0
    first = (tree.main / ".venv").stat().st_ino
    (tree.alpha / "requirements.txt").write_text("iso8601\npyyaml\n")
    # as the git hooks run it: no --with given, the remembered set
    r = run_cli("refresh", str(tree.main), "--hook-child", "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    assert summary["venv"]["action"] == "sync", summary["venv"]  # the exact sync on a copy, not a rebuild
    assert "pyyaml added" in summary["venv"]["reason"]
    assert [p["result"] for p in summary["phases"] if p["phase"] == "install"] == ["uv, one exact sync"]
    assert (tree.main / ".venv").stat().st_ino != first
    assert vpy(tree.main, "import yaml").returncode == 0
    assert origin(tree.main, "lib_alpha") == str(tree.alpha / "lib_alpha" / "__init__.py")
    assert origin(tree.main, "lib_beta") == str(tree.beta / "lib_beta" / "__init__.py")

    (tree.alpha / "requirements.txt").write_text("iso8601\n")  # and taken out again: exactly
    r = run_cli("refresh", str(tree.main), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["venv"]["action"] in ("sync", "restore")
    assert vpy(tree.main, "import yaml").returncode != 0
    assert vpy(tree.main, "import lib_alpha, lib_beta, iso8601").returncode == 0


def test_adding_and_removing_a_with(tree: Tree, run_cli) -> None:
    assert init(run_cli, tree).exit_code == 0
    assert vpy(tree.main, "import lib_alpha").returncode != 0
    r = init(run_cli, tree, "--with", str(tree.alpha), "-v")
    assert r.exit_code == 0, r.output
    assert "one exact sync" in r.output and "--with lib-alpha added" in r.output
    assert origin(tree.main, "lib_alpha") == str(tree.alpha / "lib_alpha" / "__init__.py")
    r = init(run_cli, tree, "--with", str(tree.beta))  # adds to the remembered set
    assert r.exit_code == 0, r.output
    assert crossrepo.remembered(tree.main) == [tree.alpha, tree.beta]
    assert vpy(tree.main, "import lib_alpha, lib_beta").returncode == 0

    r = init(run_cli, tree, "--without", "lib_alpha", "-v")  # by name (normalised), or by path
    assert r.exit_code == 0, r.output
    assert "--with lib-alpha removed" in r.output
    assert vpy(tree.main, "import lib_alpha").returncode != 0  # the exact sync took it out ...
    assert vpy(tree.main, "import iso8601").returncode != 0  # ... and what only it needed
    assert vpy(tree.main, "import lib_beta, mainsvc").returncode == 0
    assert crossrepo.remembered(tree.main) == [tree.beta]

    r = init(run_cli, tree, "--with-none")
    assert r.exit_code == 0, r.output
    assert vpy(tree.main, "import lib_beta").returncode != 0 and vpy(tree.main, "import mainsvc").returncode == 0
    assert crossrepo.remembered(tree.main) == []
    assert not (paths.project_state(tree.main) / crossrepo.STATE).exists()


def test_pip_installs_them_editable_too(tree: Tree, run_cli) -> None:
    r = init(run_cli, tree, "--installer", "pip", "--with", str(tree.alpha), "--with", str(tree.beta))
    assert r.exit_code == 0, r.output
    assert version(tree.main, "lib-beta") == "9.9.9"
    assert origin(tree.main, "lib_beta") == str(tree.beta / "lib_beta" / "__init__.py")


def test_bad_inputs_say_one_thing_and_leave_the_venv(tree: Tree, run_cli, tmp_path: Path) -> None:
    assert init(run_cli, tree, "--with", str(tree.beta)).exit_code == 0
    before, built = logs(tree.main), state(tree.main)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "README").write_text("hi\n")
    twin = make(tmp_path / "elsewhere" / "lib-beta", "lib_beta", "2.0")
    fork = make(tmp_path / "fork", "MainSvc", "2.0")
    cases = [
        (["--with", str(tmp_path / "nowhere")], f"--with {tmp_path / 'nowhere'}: no such folder"),
        (["--with", str(tmp_path / "notes")], "not a Python project that can be installed"),
        (["--with", str(tree.main)], "that is the project itself"),
        (["--with", str(twin)], f"--with {tree.beta} and --with {twin} are both lib_beta"),
        (["--with", str(fork)], "it is named MainSvc, as the project itself is"),
        (["--without", "lib-gamma"], "--without lib-gamma: not one of the project's --with checkouts"),
        ([], f"remembered --with {tree.beta}: no such folder"),  # a checkout deleted since (last: it deletes)
    ]
    for args, says in cases:
        if not args:
            shutil.rmtree(tree.beta)
        r = init(run_cli, tree, *args)
        assert r.exit_code == 2, (args, r.output)
        assert says in r.output and "Traceback" not in r.output, (args, r.output)
        assert r.output.count("error:") == 1, r.output  # one message
        assert state(tree.main) == built and logs(tree.main) == before  # the venv untouched, no installer call
        assert crossrepo.remembered(tree.main) == [tree.beta]


def test_a_with_requirement_the_constraints_refuse_is_explained(tree: Tree, run_cli) -> None:
    assert init(run_cli, tree).exit_code == 0
    built = state(tree.main)
    (tree.alpha / "requirements.txt").write_text("six<1.10\n")  # the constraints pin six 1.17.0
    r = init(run_cli, tree, "--with", str(tree.alpha))
    assert r.exit_code == 6, r.output
    assert "cannot be installed together" in r.output and f"[--with lib-alpha ({tree.alpha})]" in r.output
    assert f"devenv init --without {tree.alpha}" in r.output and "Traceback" not in r.output
    assert state(tree.main) == built
    assert crossrepo.remembered(tree.main) == []  # not remembered: the venv never had it


def test_the_library_api_for_the_devstack_workspace(tree: Tree) -> None:
    from devenv import venv
    from devenv.report import Reporter

    opts = venv.Options(constraints=tree.constraints)
    out = crossrepo.ensure(tree.main, [tree.alpha], opts, Reporter(quiet=True))
    assert out.action == "create" and out.others == {"lib-alpha": str(tree.alpha)}
    assert crossrepo.remembered(tree.main) == [tree.alpha]
    assert origin(tree.main, "lib_alpha") == str(tree.alpha / "lib_alpha" / "__init__.py")
    assert crossrepo.ensure(tree.main, [tree.alpha], opts, Reporter(quiet=True)).action == "noop"
    with pytest.raises(crossrepo.UsageError, match="that is the project itself"):
        crossrepo.ensure(tree.main, [tree.main], opts, Reporter(quiet=True))


# ---------------------------------------------------------------- the decisions, without a venv

BASE = Fingerprint(python="3.11.7", requirements=("six", "iso8601"), constraints=("six===1.17.0",), extras=(),
                   install_project="editable", project_meta="m1", devenv="0.1.0",
                   others=(Other("lib-alpha", "/src/lib-alpha", "a1", "r1"),))


@pytest.mark.parametrize("fresh, verb, reason, requirements_only", [
    (dataclasses.replace(BASE, others=()), "rebuild", "--with lib-alpha removed", False),
    (dataclasses.replace(BASE, others=(*BASE.others, Other("lib-beta", "/src/lib-beta", "b1", "r2"))), "add",
     "--with lib-beta added (/src/lib-beta)", False),
    (dataclasses.replace(BASE, others=(Other("lib-alpha", "/src/lib-alpha", "a2", "r1"),)), "add",
     "--with lib-alpha: project files changed", False),
    (dataclasses.replace(BASE, others=(Other("lib-alpha", "/elsewhere", "a1", "r1"),)), "rebuild",
     "--with lib-alpha moved", False),
    # a requirement line added in lib-alpha: may be judged on what is installed, as the project's own are
    (dataclasses.replace(BASE, requirements=("six", "iso8601", "pyyaml"),
                         others=(Other("lib-alpha", "/src/lib-alpha", "a1", "r9"),)), "add", "pyyaml added", True),
])
def test_with_decisions(fresh: Fingerprint, verb: str, reason: str, requirements_only: bool) -> None:
    d = fingerprint.decide(BASE, fresh, True)
    assert (d.action, d.requirements_only, d.same_venv, d.project_same) == (verb, requirements_only, True, True), d
    assert reason in d.reason, d.reason


def test_old_fingerprints_without_others_still_match(tmp_path: Path) -> None:
    """A venv built before --with existed is not rebuilt by the upgrade: no `others` reads as none."""
    fp = dataclasses.replace(BASE, others=())
    assert "others" not in json.loads(fp.to_json())  # so an older devenv reads it too (a git hook's, say)
    (tmp_path / fingerprint.FILE).write_text(fp.to_json())
    assert fingerprint.read(tmp_path) == fp
    fingerprint.write(tmp_path, BASE)
    assert fingerprint.read(tmp_path) == BASE


def _dist(site: Path, name: str, ver: str, url: str | None, requires: tuple[str, ...] = ()) -> None:
    info = site / f"{name.replace('-', '_')}-{ver}.dist-info"
    info.mkdir(parents=True)
    head = "".join(f"Requires-Dist: {r}\n" for r in requires)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {ver}\n{head}\n")
    if url is not None:
        (info / "direct_url.json").write_text(json.dumps({"url": url, "dir_info": {"editable": True}}))


def test_only_an_editable_install_of_that_folder_satisfies_a_with(tmp_path: Path) -> None:
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    checkout = tmp_path / "lib-alpha"
    checkout.mkdir()
    _dist(site, "lib-alpha", "0.2", checkout.as_uri(), ("stale-dep",))
    _dist(site, "six", "1.17.0", None)
    dists = installed.read(tmp_path / "venv")
    assert dists is not None
    ok = installed.judge(dists, ["six"], ["six===1.17.0"], "3.11.7", others={"lib-alpha": checkout})
    assert ok.satisfied, ok  # its stale Requires-Dist (stale-dep) is not followed: its lines stand for it
    elsewhere = installed.judge(dists, ["six"], [], "3.11.7", others={"lib-alpha": tmp_path / "other"})
    assert not elsewhere.satisfied and "not installed editable from" in elsewhere.unmet[0]
    shutil.rmtree(next(site.glob("lib_alpha-*")))
    _dist(site, "lib-alpha", "0.2", None)  # the same version from the index: not the checkout
    dists = installed.read(tmp_path / "venv")
    assert dists is not None
    assert not installed.judge(dists, ["six"], [], "3.11.7", others={"lib-alpha": checkout}).satisfied
    # without the --with, an installed lib-alpha nothing asks for is left over
    assert installed.judge(dists, ["six"], [], "3.11.7").extraneous == ("lib-alpha",)


def test_with_checkouts_get_one_pycharm_window_over_all_of_them(tree: Tree, run_cli) -> None:
    """init --with writes the window of ide/workspace.py: a module per checkout, the main venv for all."""
    import os

    (Path(os.environ["DEVENV_JETBRAINS_HOME"]) / "PyCharm2025.2").mkdir(parents=True)
    r = run_cli("init", str(tree.main), "--constraints", tree.constraints, "--with", str(tree.alpha))
    assert r.exit_code == 0, r.output
    modules = (tree.main / ".idea" / "modules.xml").read_text()
    assert modules.count("<module ") == 2 and "lib-alpha" in modules
    assert (tree.main / ".idea" / "lib-alpha.iml").is_file()
    again = run_cli("init", str(tree.main), "--constraints", tree.constraints)  # remembered: the same window
    assert again.exit_code == 0 and (tree.main / ".idea" / "modules.xml").read_text() == modules
