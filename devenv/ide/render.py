"""Render the project files devenv owns in .idea/ from the templates, as canonical text.

Templates are jinja2 files in the top-level templates/ folder, found beside the running code
(paths.templates). Each render is parsed and re-serialised (xmlio) so the text is exactly what
PyCharm itself would write, and so it can serve as the merge base next time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devenv import paths
from devenv.ide import runconfigs, xmlio

if TYPE_CHECKING:
    import jinja2

    from devenv.project import Project

# Folders excluded from indexing when they exist or are typical for an OpenStack checkout.
# Build output, caches and generated docs: out of indexing and search (what `tox -e docs,releasenotes`,
# coverage, stestr and horizon's npm tooling leave in the tree).
EXCLUDED = (".venv", ".tox", ".stestr", ".eggs", "build", "dist", "cover", "test_reports", "node_modules",
            "doc/build", "releasenotes/build", "api-ref/build")


@dataclass(frozen=True)
class Plan:
    module: str  # module name = .iml base name = project folder name
    sdk_name: str
    test_runner: str  # TestRunnerService value
    source_folders: tuple[str, ...]  # '' (the root) or '/sub'
    test_folders: tuple[str, ...]
    excluded: tuple[str, ...]
    tests: tuple[runconfigs.TestConfig, ...]
    scripts: tuple[runconfigs.ScriptConfig, ...]
    template_env: tuple[tuple[str, str], ...]  # test templates: what gutter runs get
    factories: tuple[str, ...]
    script_env: tuple[tuple[str, str], ...] = ()  # the Python template: the runtime env
    pytest_args: str = ""  # the py.test template's additional arguments (the main pytest suite's options)
    tox: tuple[runconfigs.ToxConfig, ...] = ()


def template_dir() -> Path:
    return paths.templates()


def template_stamp() -> str:
    """Changes whenever a template changes (part of the input fingerprint)."""
    folder = template_dir()
    parts = []
    for path in sorted(folder.rglob("*.j2")):
        st = path.stat()
        parts.append(f"{path.name}:{st.st_size}:{st.st_mtime_ns}")
    return ";".join(parts)


def code_stamp() -> str:
    """Changes whenever the code that decides the files changes: an upgraded devenv (same version number,
    e.g. a new checkout installed editable) re-renders, so what an earlier devenv wrote is repaired."""
    here = Path(__file__).resolve().parent
    parts = []
    for path in sorted([*here.glob("*.py"), here.parent / "project.py", here.parent / "toxini.py"]):
        try:
            st = path.stat()
        except OSError:
            continue
        parts.append(f"{path.name}:{st.st_size}:{st.st_mtime_ns}")
    return ";".join(parts)


def module_name(project: Project) -> str:
    """The folder name, unless .idea/modules.xml already lists one existing module: PyCharm made that
    one when the folder was first opened, and a second module on the same content root is an error."""
    idea = project.root / ".idea"
    try:
        text = (idea / "modules.xml").read_text(encoding="utf-8")
        root = xmlio.parse(text)
    except (OSError, UnicodeDecodeError, xmlio.XmlError):
        return project.root.name
    paths = [m.get("filepath") or "" for m in root.iter("module")]
    names = [os.path.basename(p)[:-4] for p in paths if p.endswith(".iml")]
    if len(names) == 1 and (idea / f"{names[0]}.iml").is_file():
        return names[0]
    return project.root.name


def plan(project: Project, sdk_name: str, tools_python: str | None = None) -> Plan:
    from devenv.ide import venvinfo

    root = project.root
    tests = runconfigs.tests(project)
    test_folders = _marked_test_folders(tests)
    egg = {project.name.replace("-", "_") + ".egg-info"}
    egg |= {p.name for p in _listdir(root) if p.name.endswith(".egg-info") and p.is_dir()}
    excluded = EXCLUDED + tuple(sorted(egg))
    bin_rel = os.path.relpath(venvinfo.scripts_dir(project.venv), root).replace(os.sep, "/")
    factory = runconfigs.factory_for(project.runner)
    return Plan(
        module=module_name(project),
        sdk_name=sdk_name,
        test_runner=factory,
        # the packages' parent: the project root, or src/ in a src layout
        source_folders=("/src",) if _src_layout(project) else ("",),
        test_folders=test_folders,
        excluded=excluded,
        tests=tuple(tests),
        scripts=tuple(runconfigs.scripts(project, bin_rel)),
        template_env=runconfigs.template_environment(project),
        factories=tuple(dict.fromkeys((runconfigs.UNITTESTS, runconfigs.PYTEST, factory))),
        script_env=runconfigs.runtime_environment(project),
        pytest_args=runconfigs.template_pytest_arguments(project),
        tox=tuple(runconfigs.tox(project, tools_python)),
    )


def _marked_test_folders(tests: list[runconfigs.TestConfig]) -> tuple[str, ...]:
    """None, on purpose: no folder is marked as a Test Sources Root.

    PyCharm puts every source root, test roots included, on PYTHONPATH (TargetedPythonPaths.kt:
    ModuleRootManager.sourceRoots), ahead of the standard library, so nova/tests/unit/cmd hides the stdlib
    `cmd` and keystone/tests/unit/token hides `token`; and a gutter run names its target relative to the
    marked test root (PyTestsShared.kt: getDirectoryForFileToBeImportedFrom ->
    getExplicitlyConfiguredTestRoot), loading modules under a second top-level name. Unmarked, the project
    root is the one root: code insight resolves `nova.tests...`, and PyCharm still finds tests by their file
    and class names. A folder marked by an earlier devenv is unmarked by the next run (the .iml is devenv's).
    """
    return ()


def _listdir(root: Path) -> list[Path]:
    try:
        return list(root.iterdir())
    except OSError:
        return []


def _env() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir())),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["gson"] = xmlio.gson
    return env


def _canonical(text: str, header: bool) -> str:
    return xmlio.serialize(xmlio.parse(text), header=header)


def project_files(p: Plan) -> dict[str, str]:
    """Relative path under .idea/ -> canonical text, for every project file devenv owns."""
    env = _env()
    ctx: dict[str, Any] = {"module": p.module, "sdk_name": p.sdk_name}
    out = {
        "misc.xml": _canonical(env.get_template("misc.xml.j2").render(**ctx), True),
        "modules.xml": _canonical(env.get_template("modules.xml.j2").render(**ctx), True),
        f"{p.module}.iml": _canonical(env.get_template("module.iml.j2").render(
            **ctx, test_runner=p.test_runner, source_folders=p.source_folders,
            test_folders=p.test_folders, excluded=p.excluded), True),
    }
    for rel in ("codeStyles/Project.xml", "codeStyles/codeStyleConfig.xml"):
        out[rel] = _canonical(env.get_template(rel + ".j2").render(**ctx), False)
    test_t, script_t = env.get_template("test_config.xml.j2"), env.get_template("script_config.xml.j2")
    for c in p.tests:
        out[f"runConfigurations/{c.file}"] = _canonical(test_t.render(c=c, **ctx), False)
    for s in p.scripts:
        out[f"runConfigurations/{s.file}"] = _canonical(script_t.render(c=s, **ctx), False)
    tox_t = env.get_template("tox_config.xml.j2")
    for t in p.tox:
        out[f"runConfigurations/{t.file}"] = _canonical(tox_t.render(c=t, **ctx), False)
    return out


def workspace(p: Plan) -> str:
    text = _env().get_template("workspace.xml.j2").render(module=p.module, env=p.template_env,
                                                          factories=p.factories, script_env=p.script_env,
                                                          pytest_args=p.pytest_args)
    return _canonical(text, True)


def _src_layout(project: Project) -> bool:
    return bool(project.packages) and all((project.root / "src" / p).is_dir() for p in project.packages)


def text(template: str, header: bool, **ctx: Any) -> str:
    """One template rendered to canonical text (for callers outside this module: ide/workspace.py)."""
    return _canonical(_env().get_template(template).render(**ctx), header)
