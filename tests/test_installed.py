"""installed.judge: would the installer change nothing? Read from hand-written dist-info folders (the
same files uv and pip write), so each rule is checked without building a venv."""

from __future__ import annotations

from pathlib import Path

from devenv import installed


def dist(site: Path, name: str, version: str, *requires: str) -> None:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}",
             *(f"Requires-Dist: {r}" for r in requires)]
    (info / "METADATA").write_text("\n".join(lines) + "\n\nA long description\nRequires-Dist: not-a-header\n")


def venv(tmp_path: Path) -> Path:
    root = tmp_path / ".venv"
    site = root / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    dist(site, "pip", "24.0")
    dist(site, "os-traits", "3.9.0", "pbr>=2.0")
    dist(site, "pbr", "6.1.1")
    dist(site, "oslo.policy", "4.6.0", "requests>=2.0", "enum34; python_version < '3.4'")
    dist(site, "requests", "2.32.3", "idna>=2", "PySocks>=1.5.6; extra == 'socks'")
    dist(site, "idna", "3.10")
    dist(site, "nova", "33.1.0", "os-traits>=3.6.0", "gone-lib>=1",
         "oslo.vmware>=4; extra == 'vmware'")
    dist(site, "oslo.vmware", "4.10.0")
    return root


def judge(root: Path, reqs: list[str], cons: list[str] = (), **kw) -> installed.Verdict:
    dists = installed.read(root)
    assert dists is not None
    return installed.judge(dists, reqs, list(cons), "3.11.7", **kw)


def test_a_changed_specifier_the_installed_version_meets_is_satisfied(tmp_path: Path) -> None:
    root = venv(tmp_path)
    v = judge(root, ["os-traits>=3.7.0", "oslo.policy>=4.5.0 # Apache-2.0", "pbr"], ["os-traits===3.9.0"],
              project="nova", project_extras=["vmware"], project_deps=False)
    assert v.satisfied, v


def test_unmet_specifier_or_constraint_or_missing_package(tmp_path: Path) -> None:
    root = venv(tmp_path)
    base = ["os-traits>=3.6", "oslo.policy", "pbr"]
    assert judge(root, [*base[1:], "os-traits>=4.0"], project="nova", project_deps=False,
                 project_extras=["vmware"]).unmet == ("os-traits>=4.0",)
    v = judge(root, base, ["os-traits===3.8.0"], project="nova", project_deps=False, project_extras=["vmware"])
    assert v.unmet == ("os-traits===3.8.0 (constraint; installed 3.9.0)",)
    assert judge(root, [*base, "six"], project="nova", project_deps=False,
                 project_extras=["vmware"]).unmet == ("six",)
    # a constraint on a package that is not installed asks for nothing
    assert judge(root, base, ["six===1.0"], project="nova", project_deps=False, project_extras=["vmware"]).satisfied


def test_a_package_nothing_asks_for_any_more_is_extraneous(tmp_path: Path) -> None:
    root = venv(tmp_path)
    # pbr's old requirements.txt is in nova's metadata (gone-lib): with project_deps=False it is not followed
    v = judge(root, ["os-traits", "pbr"], project="nova", project_deps=False, project_extras=["vmware"])
    assert v.extraneous == ("idna", "oslo-policy", "requests")  # oslo.policy's line went, and its deps with it
    # without the extra, oslo.vmware is not wanted either
    v = judge(root, ["os-traits", "oslo.policy", "pbr"], project="nova", project_deps=False)
    assert v.extraneous == ("oslo-vmware",)
    # pyproject projects: the project's own metadata is current, so it is followed: gone-lib is missing
    v = judge(root, ["oslo.policy"], project="nova", project_extras=["vmware"])
    assert v.unmet == ("gone-lib>=1 (needed by nova)",) and not v.extraneous


def test_markers_of_the_venvs_python_and_lines_it_cannot_judge(tmp_path: Path) -> None:
    root = venv(tmp_path)
    base = ["os-traits", "oslo.policy", "pbr"]
    kw = {"project": "nova", "project_deps": False, "project_extras": ["vmware"]}
    assert judge(root, [*base, "six; python_version < '3.10'"], **kw).satisfied  # not for 3.11
    assert not judge(root, [*base, "six; python_version >= '3.10'"], **kw).satisfied
    for line in ("-e git+https://opendev.org/openstack/oslo.db#egg=oslo.db", "https://x/y.whl", "./local"):
        assert judge(root, [*base, line], **kw).unmet == (line,)  # the installer decides those


def test_an_unreadable_dist_info_means_ask_the_installer(tmp_path: Path) -> None:
    root = venv(tmp_path)
    (next(root.glob("lib/python3.11/site-packages/pbr-*.dist-info")) / "METADATA").unlink()
    assert installed.read(root) is None
    assert installed.read(tmp_path / "nothing") is None
