"""Launch a run configuration from the .idea files alone, the way PyCharm does (nothing mocked but the IDE).

Followed in intellij-community (python/ tree):
- interpreter: IS_MODULE_SDK=true takes the module's SDK, the .iml's jdk orderEntry, else the project SDK
  of misc.xml, looked up by name in jdk.table.xml (`homePath`).
- working directory: WORKING_DIRECTORY; when empty, a test configuration uses its target's folder
  (PyTestsShared.kt: PyAbstractTestConfiguration.getWorkingDirectorySafe -> getElementDirectory).
  PWD is set to it (the helpers read the project folder from PWD: _jb_runner_tools.PROJECT_DIR).
- environment: PARENT_ENVS=true starts from the IDE's own environment, then <envs>; PYTHONUNBUFFERED=1.
- PYTHONPATH (run/TargetedPythonPaths.kt: collectPythonPath, initPythonPath): content roots when
  ADD_CONTENT_ROOTS, then every source root (ModuleRootManager.sourceRoots: test roots included) when
  ADD_SOURCE_ROOTS, in a LinkedHashSet; then the inherited PYTHONPATH (PARENT_ENVS and no PYTHONPATH in
  <envs>); then the helpers folder, whose path is also PYCHARM_HELPERS_DIR.
- test target arguments (PyTestsShared.kt: ConfigurationTarget.generateArgumentsLine): PATH -> `--path X`;
  PYTHON -> `--target NAME` (unittest: the dotted name; pytest, which separates the target path:
  `file/relative/to/workdir.py::Class.method`); CUSTOM -> none. Additional arguments follow `--`.
- gutter runs (PyTestsShared.kt: PyTestsConfigurationProducer): a copy of the template of the project's
  runner (TestRunnerService); a folder or a file is a PATH target, a class or function a PYTHON target named
  relative to the explicitly marked test root that holds the file (getExplicitlyConfiguredTestRoot), else the
  module's base folder; the working directory is the template's, or that folder when the template has none.
- several modules in one window (devenv/ide/workspace.py): modules.xml lists each .iml by `filepath`; a
  configuration's `<module name>` picks one (RunConfigurationModule: ModuleManager.findModuleByName). An .iml
  inside `.idea/` has the folder above it as `$MODULE_DIR$` (PathMacroUtil.getModuleDir). PYTHONPATH takes the
  module's content roots, then those of the modules it depends on (`<orderEntry type="module">`,
  ModuleUtilCore.getDependencies, transitively), then its source roots, then theirs (TargetedPythonPaths.kt:
  collectPythonPath): an attached project (ModuleAttachProcessor.addPrimaryModuleDependency) is such a dependency.
The runner helpers are our own stand-ins for _jb_unittest_runner.py / _jb_pytest_runner.py (pycharm_helpers/),
with PyCharm's argument handling.
"""

from __future__ import annotations

import copy
import json
import os
import shlex
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

HELPERS = Path(__file__).resolve().parent / "pycharm_helpers"
RUNNERS = {"Unittests": "unittest_runner.py", "py.test": "pytest_runner.py", "pytest": "pytest_runner.py"}
TOX_RUNNER = "tox_runner.py"  # stands in for _jb_tox_runner.py (PythonHelper.TOX)


def expand(value: str, root: Path) -> str:
    home = os.environ.get("HOME", "")
    return value.replace("$PROJECT_DIR$", str(root)).replace("$MODULE_DIR$", str(root)).replace("$USER_HOME$", home)


def string_array(el: etree._Element | None) -> list[str]:
    """A String[] field under @Tag, as XmlSerializer reads it (AbstractCollectionBinding.deserialize: the
    tag's one child element is the collection, whose <option value=...> children are the items). Items
    written straight under the tag, without that <array>, read as nothing."""
    if el is None:
        return []
    children = [c for c in el if isinstance(c.tag, str)]
    if not children:
        return []
    return [o.get("value") for o in children[0] if isinstance(o.tag, str)]


@dataclass
class Config:
    name: str | None
    type: str
    factory: str | None
    options: dict[str, str]
    envs: dict[str, str]
    element: etree._Element = field(repr=False)

    def json(self, key: str) -> str:
        return json.loads(self.options.get(key, '""'))


def _config(el: etree._Element) -> Config:
    return Config(el.get("name"), el.get("type"), el.get("factoryName"),
                  {o.get("name"): o.get("value") for o in el.findall("option")},
                  {e.get("name"): e.get("value") for e in el.findall("envs/env")}, el)


def configs(root: Path) -> dict[str, Config]:
    out = {}
    for path in sorted((root / ".idea" / "runConfigurations").glob("*.xml")):
        (el,) = etree.parse(str(path)).getroot().findall("configuration")
        c = _config(el)
        out[c.name or path.stem] = c
    return out


def modules(root: Path) -> dict[str, Path]:
    """Module name (the .iml's base name) -> its .iml, as .idea/modules.xml lists them (ModuleManager)."""
    out = {}
    for m in etree.parse(str(root / ".idea" / "modules.xml")).getroot().iter("module"):
        path = Path(os.path.normpath(expand(m.get("filepath"), root)))
        out[path.name.removesuffix(".iml")] = path
    return out


def module_dir(iml: Path) -> Path:
    """PathMacroUtil.getModuleDir: the .iml's folder, or the one above it when that folder is `.idea`."""
    return iml.parent.parent if iml.parent.name == ".idea" else iml.parent


def _iml(root: Path, module: str | None = None) -> etree._Element:
    if module is not None:
        return etree.parse(str(modules(root)[module])).getroot()
    (iml,) = (root / ".idea").glob("*.iml")
    return etree.parse(str(iml)).getroot()


def _module_roots(root: Path, module: str) -> tuple[list[str], list[str], list[str]]:
    mdir = module_dir(modules(root)[module])
    iml = _iml(root, module)

    def url(el: etree._Element) -> str:
        return os.path.normpath(el.get("url").removeprefix("file://").replace("$MODULE_DIR$", str(mdir)))

    return ([url(c) for c in iml.iter("content")], [url(s) for s in iml.iter("sourceFolder")],
            [url(s) for s in iml.iter("sourceFolder") if s.get("isTestSource") == "true"])


def dependencies(root: Path, module: str) -> list[str]:
    """ModuleUtilCore.getDependencies: the modules this one depends on, transitively."""
    seen: list[str] = []
    todo = [module]
    while todo:
        for e in _iml(root, todo.pop()).iter("orderEntry"):
            name = e.get("module-name")
            if e.get("type") == "module" and name not in seen and name != module:
                seen.append(name)
                todo.append(name)
    return seen


def roots(root: Path, module: str | None = None) -> tuple[list[str], list[str], list[str]]:
    """(content roots, source roots of every kind, explicitly marked test roots), expanded. With `module`:
    that module's, then its dependencies' (collectPythonPath's order)."""
    if module is not None:
        own = _module_roots(root, module)
        deps = [_module_roots(root, d) for d in dependencies(root, module)]
        return (own[0] + [p for d in deps for p in d[0]], own[1] + [p for d in deps for p in d[1]],
                own[2] + [p for d in deps for p in d[2]])
    iml = _iml(root)
    content = [expand(c.get("url").removeprefix("file://"), root) for c in iml.iter("content")]
    sources = [expand(s.get("url").removeprefix("file://"), root) for s in iml.iter("sourceFolder")]
    tests = [expand(s.get("url").removeprefix("file://"), root) for s in iml.iter("sourceFolder")
             if s.get("isTestSource") == "true"]
    return content, sources, tests


def project_runner(root: Path, module: str | None = None) -> str:
    """TestRunnerService lives in each .iml: with several modules, the one of `module`."""
    opt = _iml(root, module).find("component[@name='TestRunnerService']/option[@name='PROJECT_TEST_RUNNER']")
    return opt.get("value") if opt is not None else "Autodetect"


def module_of(root: Path, conf: Config) -> str | None:
    """The configuration's `<module name>` when the window has several modules (None: the one-module path)."""
    el = conf.element.find("module")
    if el is None or len(modules(root)) < 2:
        return None
    name = el.get("name")
    assert name in modules(root), f"{conf.name}: {name!r} is not in modules.xml (PyCharm: 'Module not specified')"
    return name


def interpreter(root: Path, table: Path, module: str | None = None) -> Path:
    iml = _iml(root, module)
    jdk = iml.find("component/orderEntry[@type='jdk']")
    if jdk is not None:
        name = jdk.get("jdkName")
    else:
        misc = etree.parse(str(root / ".idea" / "misc.xml")).getroot()
        name = misc.find("component[@name='ProjectRootManager']").get("project-jdk-name")
    for entry in etree.parse(str(table)).getroot().iter("jdk"):
        if entry.find("name").get("value") == name:
            return Path(entry.find("homePath").get("value"))
    raise AssertionError(f"SDK {name!r} is not in {table}")


@dataclass
class Launch:
    argv: list[str]
    cwd: str
    env: dict[str, str]


def sdk_by_path(table: Path, home: str) -> Path:
    """PythonSdkUtil.findSdkByPath: the registered SDK whose homePath is this path; none is an error
    ("Please select a valid Python interpreter"), even when the file exists."""
    for entry in etree.parse(str(table)).getroot().iter("jdk"):
        path = entry.find("homePath").get("value")
        if path == home or expand(path, Path("/")) == home:
            return Path(home)
    raise AssertionError(f"no SDK in {table} has the homePath {home}: PyCharm cannot run the configuration")


def build(root: Path, table: Path, conf: Config, parent_env: dict[str, str] | None = None) -> Launch:
    opts = conf.options
    parent = dict(os.environ if parent_env is None else parent_env)
    for k in ("VIRTUAL_ENV", "PYTHONHOME"):
        parent.pop(k, None)
    module = module_of(root, conf) if (root / ".idea" / "modules.xml").is_file() else None
    if opts.get("IS_MODULE_SDK") == "true":
        assert not opts.get("SDK_HOME"), "a module-SDK configuration names no SDK_HOME"
        python = str(interpreter(root, table, module))
    else:  # AbstractPythonRunConfiguration.getSdk: findSdkByPath(getSdkHome())
        python = str(sdk_by_path(table, expand(opts.get("SDK_HOME", ""), root)))
    # PyCharm expands `$PROJECT_DIR$/..` to the real parent (ExpandMacroToPathMap has an entry per parent level)
    ex = (lambda v, r: os.path.normpath(expand(v, r)) if v else v) if module is not None else expand
    cwd = ex(opts.get("WORKING_DIRECTORY", ""), root)
    target = ""
    if conf.type == "tests":
        target = ex(conf.json("_new_target"), root)
        if not cwd:  # getWorkingDirectorySafe: the target's folder
            t = Path(target)
            cwd = str(t if t.is_dir() else t.parent) if target and conf.json("_new_targetType") == "PATH" else str(root)
    cwd = cwd or str(root)
    env = {**parent, **conf.envs} if opts.get("PARENT_ENVS") == "true" else dict(conf.envs)
    env["PYTHONUNBUFFERED"] = "1"
    env["PWD"] = cwd
    # a configuration without a module (Tox: mySkipModuleSerialization) in a window of several modules gets
    # no module roots (collectPythonPath with module == null); with one module, that module's, as before
    several = (root / ".idea" / "modules.xml").is_file() and len(modules(root)) > 1
    content, sources, _ = ([], [], []) if several and module is None else roots(root, module)
    path: list[str] = []
    for p in (content if opts.get("ADD_CONTENT_ROOTS") == "true" else []) + (
            sources if opts.get("ADD_SOURCE_ROOTS") == "true" else []):
        if p not in path:
            path.append(p)
    if opts.get("PARENT_ENVS") == "true" and "PYTHONPATH" not in conf.envs and parent.get("PYTHONPATH"):
        path += [p for p in parent["PYTHONPATH"].split(os.pathsep) if p]
    if conf.type in ("tests", "Tox"):
        path.append(str(HELPERS))
        env["PYCHARM_HELPERS_DIR"] = str(HELPERS)
    base = conf.envs.get("PYTHONPATH")
    env["PYTHONPATH"] = os.pathsep.join(([base] if base else []) + path)
    interp_opts = shlex.split(opts.get("INTERPRETER_OPTIONS", ""))
    if conf.type == "Tox":
        # PyToxCommandLineState.addTestSpecsAsParameters: "-e a,b" as one argument, then each argument
        envs = string_array(conf.element.find("runOnlyEnvs"))
        argv = [python, *interp_opts, str(HELPERS / TOX_RUNNER)]
        if envs:
            argv.append("-e " + ",".join(envs))
        return Launch(argv + string_array(conf.element.find("arguments")), cwd, env)
    if conf.type != "tests":
        script = ex(opts["SCRIPT_NAME"], root)
        module = ["-m", script] if opts.get("MODULE_MODE") == "true" else [script]
        return Launch([python, *interp_opts, *module, *shlex.split(opts.get("PARAMETERS", ""))], cwd, env)
    argv = [python, *interp_opts, str(HELPERS / RUNNERS[conf.factory or ""])]
    kind = conf.json("_new_targetType")
    if kind == "PATH":
        argv += ["--path", target.strip()]
    elif kind == "PYTHON":
        argv += ["--target", target.strip()]
    extra = shlex.split(conf.json("_new_additionalArguments"))
    if conf.factory in ("py.test", "pytest"):
        keywords = conf.json("_new_keywords") if "_new_keywords" in opts else ""
        extra = (["-k", keywords] if keywords else []) + extra
    if extra:
        argv += ["--", *extra]
    return Launch(argv, cwd, env)


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    found: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    load_errors: list[str] = field(default_factory=list)
    envs: dict[str, str] = field(default_factory=dict)  # tox runs: env -> passed | failed | started

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.load_errors and self.failed == self.errors == 0


def run(launch: Launch, collect_only: bool = False, timeout: float = 600, generation: str = "quiet") -> Outcome:
    """generation: which _jb_unittest_runner.py to follow, "quiet" (current) or "classic" (older)."""
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.json"
        env = {**launch.env, "DEVENV_EMUL_RESULT": str(result), "DEVENV_EMUL_GENERATION": generation}
        if collect_only:
            env["DEVENV_EMUL_COLLECT"] = "1"
        done = subprocess.run(launch.argv, cwd=launch.cwd, env=env, capture_output=True, text=True, timeout=timeout)
        counts = json.loads(result.read_text()) if result.is_file() else {}
    counts.pop("collect_only", None)
    return Outcome(done.returncode, done.stdout, done.stderr, **counts)


# ---------------------------------------------------------------------------------------------- gutter


def template(root: Path, factory: str) -> Config:
    ws = etree.parse(str(root / ".idea" / "workspace.xml")).getroot()
    for el in ws.findall("component[@name='RunManager']/configuration[@default='true']"):
        if el.get("type") == "tests" and el.get("factoryName") == factory:
            return _config(copy.deepcopy(el))
    raise AssertionError(f"no {factory} template in workspace.xml")


def _set(conf: Config, key: str, value: str) -> None:
    conf.options[key] = json.dumps(value) if key.startswith("_new_") else value


def gutter(root: Path, file: Path, symbol: str | None = None, folder: bool = False) -> Config:
    """The configuration PyCharm makes for right-click -> Run on a folder, a module, or a class/method
    (`symbol` = 'Class' or 'Class.method') in `file`."""
    factory = project_runner(root)
    conf = template(root, factory)
    _, _, test_roots = roots(root)
    file = file.resolve()
    marked = [Path(t) for t in test_roots if file.is_relative_to(Path(t))]
    base = marked[0] if marked else root  # getDirectoryForFileToBeImportedFrom
    wd = expand(conf.options.get("WORKING_DIRECTORY", ""), root)
    if folder or symbol is None:
        _set(conf, "_new_targetType", "PATH")
        _set(conf, "_new_target", str(file))
        if not wd:
            wd = str(file if folder else base)
    else:
        qname = ".".join(file.relative_to(base).with_suffix("").parts) + "." + symbol
        if not wd:
            wd = str(base)
        _set(conf, "_new_targetType", "PYTHON")
        if factory == "Unittests":
            # getArgumentsForPythonTarget: unittest keeps the dotted name (relative to the working dir
            # when it resolves from there, else from the closest root: the same name here)
            _set(conf, "_new_target", qname)
        else:
            # pytest separates the target path: file relative to the working directory, then the symbol
            try:
                rel = file.relative_to(wd).as_posix()
            except ValueError:
                rel = file.as_posix()
            _set(conf, "_new_target", f"{rel}::{symbol}")
    conf.options["WORKING_DIRECTORY"] = wd
    conf.name = f"gutter {file.name}{'::' + symbol if symbol else ''}"
    return conf
