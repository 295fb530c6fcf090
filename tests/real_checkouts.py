"""Real OpenStack checkouts through the PyCharm launch emulation (and, with a .vscode/, what VS Code's Python
extension runs: tests/vscode_ext.py), beside the project's own runner.

    python tests/real_checkouts.py /path/nova /path/horizon ...   (each already set up by `devenv init`)

For every generated test configuration: the tests it finds (collect only: full suites take many minutes on
2 cores) beside `stestr list` / `pytest --collect-only` on the same suite. For one test module, one class
and one method of the main suite, gutter runs made from the templates, run for real, beside the same
selection run directly (`stestr run --serial --no-discover ID` / `pytest FILE::Class::method`).
Also used by test_real_checkouts.py (opt-in: DEVENV_TEST_CHECKOUTS).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pycharm  # noqa: E402
import vscode_ext  # noqa: E402

# Suites of at most this many tests are also run whole, through the emulation and directly.
RUN_LIMIT = int(os.environ.get("DEVENV_REAL_RUN_LIMIT", "0"))
# Tox configurations to run, through the emulation and as `tox -e ENV` (comma-separated env names, e.g. pep8)
TOX_RUNS = [e for e in os.environ.get("DEVENV_REAL_TOX", "").split(",") if e]


def table_path() -> Path:
    jb = Path(os.environ.get("DEVENV_JETBRAINS_HOME", "/nonexistent"))
    tables = sorted(jb.glob("*/options/jdk.table.xml"))
    assert tables, f"no jdk.table.xml under {jb}: set DEVENV_JETBRAINS_HOME as devenv init had it"
    return tables[0]


def ide_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHON", "PYTHONPATH", "VIRTUAL_ENV")}


@dataclass
class Row:
    project: str
    what: str
    emulated: str
    direct: str
    same: bool


def _counts(o: pycharm.Outcome, collect: bool = False) -> str:
    if o.load_errors:
        return f"found {o.found}, {len(o.load_errors)} load errors"
    if collect:
        return f"found {o.found}"
    return f"found {o.found}, passed {o.passed}, failed {o.failed + o.errors}, skipped {o.skipped}"


def first_test(root: Path, suite_dir: Path) -> tuple[Path, str, str] | None:
    """(file, class, method) of the first test class with a test method, in sorted walk order."""
    for dirpath, dirnames, filenames in os.walk(suite_dir):
        dirnames[:] = sorted(d for d in dirnames if (Path(dirpath) / d / "__init__.py").is_file())
        for f in sorted(filenames):
            if not (f.startswith("test") and f.endswith(".py")):
                continue
            path = Path(dirpath) / f
            try:
                tree = ast.parse(path.read_text(encoding="utf-8"))
            except (SyntaxError, UnicodeDecodeError):
                continue
            for node in tree.body:
                # a decorated class or method may be a template (ddt, generated scenarios): its written
                # name is not a test id either runner knows
                if isinstance(node, ast.ClassDef) and "Test" in node.name and not node.decorator_list:
                    methods = [n.name for n in node.body if isinstance(n, ast.FunctionDef)
                               and n.name.startswith("test") and not n.decorator_list]
                    if methods:
                        return path, node.name, methods[0]
    return None


def tox_env(root: Path) -> dict[str, str]:
    """What tox sets for the unit env (its setenv), as the direct run gets it under tox."""
    from devenv import project

    return {k: v for k, v in project.load(root).unit_env.setenv.items() if k != "PYTHON"}


def direct(root: Path, kind: str, selection: str, collect: bool, extra: list[str]) -> tuple[str, int]:
    python = str(root / ".venv" / "bin" / "python")
    env = {**ide_env(), **tox_env(root), "PWD": str(root)}
    if kind == "stestr":
        if collect:
            out = subprocess.run([python, "-m", "stestr", *extra, "list"], cwd=root, env=env, capture_output=True,
                                 text=True, timeout=900)
            n = len([ln for ln in out.stdout.splitlines() if re.match(r"^[\w.]+\.\w+", ln)])
            if not n:
                tail = (out.stderr.strip().splitlines() or [f"exit {out.returncode}"])[-1]
                return f"found 0 (stestr list: {tail[:160]})", 0
            return f"found {n}", n
        argv = [python, "-m", "stestr", *extra, "run", "--serial"]
        argv += ["--no-discover", selection] if selection else []
        out = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True, timeout=1800)
        text = out.stdout + out.stderr
        got = {k: int(v) for k, v in re.findall(r" - (Passed|Failed|Skipped): (\d+)", text)}
        found = sum(got.values())
        return (f"found {found}, passed {got.get('Passed', 0)}, failed {got.get('Failed', 0)}, "
                f"skipped {got.get('Skipped', 0)}"), found
    args = [python, "-m", "pytest", "-p", "no:cacheprovider", *extra, selection]
    if collect:
        out = subprocess.run([*args, "--collect-only", "-q"], cwd=root, env=env, capture_output=True, text=True,
                             timeout=900)
        # pytest's own count: "1549/1567 tests collected (18 deselected)" or "996 tests collected"
        m = re.search(r"(\d+)(?:/\d+)? tests? collected", out.stdout)
        n = int(m.group(1)) if m else 0
        return (f"found {n}" if m else f"found 0 (pytest: {out.stdout.strip().splitlines()[-1:]})"), n
    out = subprocess.run([*args, "-q"], cwd=root, env=env, capture_output=True, text=True, timeout=900)
    last = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    got = {k: int(v) for v, k in re.findall(r"(\d+) (passed|failed|skipped|error)", last)}
    found = sum(got.values())
    return (f"found {found}, passed {got.get('passed', 0)}, failed {got.get('failed', 0) + got.get('error', 0)}, "
            f"skipped {got.get('skipped', 0)}"), found


def check(root: Path) -> list[Row]:
    rows = vscode_rows(root) if (root / ".vscode" / "settings.json").is_file() else []
    if (root / ".idea").is_dir():
        rows += pycharm_rows(root)
    return rows


def vscode_rows(root: Path) -> list[Row]:
    """The Testing view's discovery beside the project's runner collecting the same suite, then one test
    module run through it beside the same module run directly."""
    conf = vscode_ext.settings(root)
    found = vscode_ext.discover(root)
    if conf.get("python.testing.unittestEnabled"):
        from devenv import project

        # the suite stestr runs; the Testing view may start above it (vscode/model.py start_folder)
        test_path = project.load(root).unit_env.runner.test_path or "."
        d, n = direct(root, "stestr", "", True, ["--test-path", test_path])
        kind = "stestr"
        prefix = ".".join(Path(test_path.strip("/").removeprefix("./")).parts)
        if prefix:
            others = [t for t in found.tests if not t.startswith(prefix + ".")]
            elsewhere = [e for e in found.errors if f": {prefix}." not in e.splitlines()[0]]
            found.tests = [t for t in found.tests if t.startswith(prefix + ".")]
            found.errors = [e for e in found.errors if e not in elsewhere]
            if others or elsewhere:
                print(f"{root.name}: the Testing view also lists {len(others)} tests and {len(elsewhere)} discovery "
                      f"errors outside {test_path}", file=sys.stderr)
    else:
        args = conf["python.testing.pytestArgs"]
        where = vscode_ext.positional(args)
        options = vscode_ext.remove_positional(args)
        d, n = direct(root, "pytest", where[0] if where else ".", True, options)
        kind = "pytest"
    emulated = f"found {len(found.tests)}" + (f", {len(found.errors)} discovery errors" if found.errors else "")
    rows = [Row(root.name, "VS Code Testing view (discover)", emulated, d, len(found.tests) == n and not found.errors)]
    if not found.tests:
        return rows
    first = found.tests[0]
    if kind == "stestr":
        module = first.rsplit(".", 2)[0]
        ids = [t for t in found.tests if t.rsplit(".", 2)[0] == module]
        ran = vscode_ext.run_tests(root, ids)
        passed = sum(1 for v in ran.outcomes.values() if v == "success")
        failed = sum(1 for v in ran.outcomes.values() if v in ("failure", "error"))
        skipped = sum(1 for v in ran.outcomes.values() if v == "skipped")
        emu = f"found {len(ran.outcomes)}, passed {passed}, failed {failed}, skipped {skipped}"
        d, _ = direct(root, "stestr", module, False, [])
    else:
        module = first.split("::")[0]
        ids = [t for t in found.tests if t.split("::")[0] == module]
        ran = vscode_ext.run_tests(root, ids)
        last = ran.stdout.strip().splitlines()[-1] if ran.stdout.strip() else ""
        got = {k: int(v) for v, k in re.findall(r"(\d+) (passed|failed|skipped|error)", last)}
        emu = (f"found {sum(got.values())}, passed {got.get('passed', 0)}, "
               f"failed {got.get('failed', 0) + got.get('error', 0)}, skipped {got.get('skipped', 0)}")
        d, _ = direct(root, "pytest", str(root / module), False, options)
    rows.append(Row(root.name, f"VS Code Testing view (run {module})", emu, d,
                    emu.split(", skipped")[0] == d.split(", skipped")[0]))
    return rows


def pycharm_rows(root: Path) -> list[Row]:
    table = table_path()
    rows: list[Row] = []
    confs = pycharm.configs(root)
    main_dir: Path | None = None
    kind = "pytest" if pycharm.project_runner(root) in ("py.test", "pytest") else "stestr"
    for name, conf in confs.items():
        if conf.type != "tests" or name.endswith("(debug)"):
            continue
        emu = pycharm.run(pycharm.build(root, table, conf, parent_env=ide_env()), collect_only=True, timeout=900,
                          generation="classic")
        args = shlex.split(conf.json("_new_additionalArguments"))
        suite = Path(pycharm.expand(conf.json("_new_target"), root))
        if kind == "stestr":
            d, n = direct(root, "stestr", "", True, ["--test-path", str(suite.relative_to(root))])
        else:
            d, n = direct(root, "pytest", str(suite), True, args)
        if main_dir is None and name.startswith("Unit tests"):
            main_dir = suite
        rows.append(Row(root.name, f"config '{name}' (collect)", _counts(emu, True), d,
                        emu.found == n and not emu.load_errors))
        if 0 < n <= RUN_LIMIT:  # small enough to run whole, both ways
            full = pycharm.run(pycharm.build(root, table, conf, parent_env=ide_env()), timeout=1800,
                               generation="classic")
            if kind == "stestr":
                d, _ = direct(root, "stestr", "", False, ["--test-path", str(suite.relative_to(root))])
            else:
                d, _ = direct(root, "pytest", str(suite), False, args)
            rows.append(Row(root.name, f"config '{name}' (run)", _counts(full), d,
                            _counts(full).split(", skipped")[0] == d.split(", skipped")[0]))
    rows += tox_rows(root, table, confs)
    if main_dir is None:
        return rows
    picked = first_test(root, main_dir)
    if picked is None:
        return rows
    file, cls, meth = picked
    dotted = ".".join(file.relative_to(root).with_suffix("").parts)
    main_args = shlex.split(pycharm.template(root, "py.test").json("_new_additionalArguments")) \
        if kind == "pytest" else []
    for what, symbol in (("module", None), ("class", cls), ("method", f"{cls}.{meth}")):
        conf = pycharm.gutter(root, file, symbol)
        emu = pycharm.run(pycharm.build(root, table, conf, parent_env=ide_env()), timeout=900,
                          generation="classic")
        if kind == "stestr":
            sel = dotted if symbol is None else f"{dotted}.{symbol}"
        else:
            sel = str(file) if symbol is None else f"{file}::{symbol.replace('.', '::')}"
        d, _ = direct(root, kind, sel, False, main_args)
        label = f"gutter {what} {file.relative_to(root)}{'::' + symbol if symbol else ''}"
        same = _counts(emu).split(", skipped")[0] == d.split(", skipped")[0]
        rows.append(Row(root.name, label, _counts(emu), d, same and emu.ok))
    return rows


def tox_rows(root: Path, table: Path, confs: dict[str, pycharm.Config]) -> list[Row]:
    """Each Tox configuration named in DEVENV_REAL_TOX, launched as PyCharm does, beside the same env run by
    the same tox directly (`<tools>/bin/tox -e ENV`); the same when both pass or both fail."""
    rows = []
    for env in TOX_RUNS:
        conf = confs.get(f"tox -e {env}")
        if conf is None:
            rows.append(Row(root.name, f"config 'tox -e {env}'", "not written", "", False))
            continue
        emu = pycharm.run(pycharm.build(root, table, conf, parent_env=ide_env()), timeout=3600)
        tox = Path(pycharm.expand(conf.options["SDK_HOME"], root)).parent / "tox"
        done = subprocess.run([str(tox), "-e", env], cwd=root, env=ide_env(), capture_output=True, text=True,
                              timeout=3600)
        state = emu.envs.get(env, "missing")
        direct_state = "passed" if done.returncode == 0 else f"failed (exit {done.returncode})"
        if emu.returncode != 0:
            print(emu.stdout[-3000:], emu.stderr[-2000:], file=sys.stderr)
        rows.append(Row(root.name, f"config 'tox -e {env}' (run)", f"{env}: {state} (exit {emu.returncode})",
                        f"tox -e {env}: {direct_state}", (state == "passed") == (done.returncode == 0)))
    return rows


def main(argv: list[str]) -> int:
    all_rows: list[Row] = []
    for arg in argv:
        root = Path(arg).resolve()
        try:
            rows = check(root)
        except Exception as exc:  # a report tool: one project's trouble must not hide the others
            rows = [Row(root.name, "error", f"{type(exc).__name__}: {exc}", "", False)]
        for r in rows:
            print(json.dumps(r.__dict__), flush=True)
        all_rows += rows
    print("\n| project | selection | emulated PyCharm launch | project's own runner | same |")
    print("|---|---|---|---|---|")
    for r in all_rows:
        print(f"| {r.project} | {r.what} | {r.emulated} | {r.direct} | {'yes' if r.same else 'NO'} |")
    return 0 if all(r.same for r in all_rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
