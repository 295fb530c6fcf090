"""A first-time contributor's steps after `devenv init`: what they can do now, and whether each step of
OpenStack's contributor setup is in place (git identity, devenv's hooks, the Gerrit remote and the
commit-msg hook that `git review -s` installs). Read-only: nothing here changes the repository.
"""

from __future__ import annotations

import configparser
import shutil
from dataclasses import dataclass
from pathlib import Path

from devenv import gitidentity, proc
from devenv.findings import Finding
from devenv.project import Project


@dataclass(frozen=True)
class GitReview:
    host: str
    port: str
    project: str


def gitreview(root: Path) -> GitReview | None:
    """.gitreview's [gerrit] section; None without the file. A malformed one reads as None too (doctor
    reports it)."""
    path = root / ".gitreview"
    if not path.is_file():
        return None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(path.read_text(encoding="utf-8"))
        section = parser["gerrit"]
        return GitReview(section["host"], section.get("port", "29418"), section["project"])
    except (configparser.Error, KeyError, UnicodeDecodeError, OSError):
        return None


def next_steps(project: Project) -> list[str]:
    """What the contributor can do now, named as the IDE and the contributor guide name it."""
    steps = []
    if project.runner.kind:
        steps.append("run the tests: the 'Unit tests' configuration in PyCharm (or: tox -e py3)")
    if "pep8" in project.envs:
        steps.append("lint as the gate does: tox -e pep8")
    if (project.root / ".gitreview").is_file():
        steps.append("send a change: git review (once per clone first: git review -s)")
    return steps


def findings(root: Path) -> list[Finding]:
    out = [gitidentity.finding(root)]
    git = shutil.which("git")
    if git is None or proc.run([git, "-C", str(root), "rev-parse", "--git-dir"], timeout=10).returncode != 0:
        return out
    from devenv.ide import hooks

    state = hooks.installed(root)
    if all(state.values()):
        out.append(Finding("git.hooks", "ok", "devenv's git hooks refresh the setup after checkout, merge, rebase"))
    else:
        out.append(Finding("git.hooks", "warn", "devenv's git hooks are not installed",
                           "after a pull or rebase the venv and the IDE files go stale until you refresh",
                           f"devenv hooks install {root}"))
    if not (root / ".gitreview").is_file():
        return out
    review = gitreview(root)
    if review is None:
        out.append(Finding("gerrit.gitreview", "warn", ".gitreview cannot be read (no [gerrit] host/project)",
                           "git review does not know where to send changes", "fix .gitreview"))
        return out
    remote = proc.run([git, "-C", str(root), "remote", "get-url", "gerrit"], timeout=10)
    if remote.returncode == 0:
        out.append(Finding("gerrit.remote", "ok", f"remote 'gerrit': {remote.stdout.strip()}"))
    else:
        out.append(Finding("gerrit.remote", "warn", f"no 'gerrit' remote for {review.host}/{review.project}",
                           "git review cannot send changes yet", "git review -s (pip install git-review)"))
    hook = hooks.hooks_dir(root) / "commit-msg"
    try:
        has_change_id = "Change-Id" in hook.read_text(encoding="utf-8", errors="replace")
    except OSError:
        has_change_id = False
    if has_change_id:
        out.append(Finding("gerrit.commit-msg", "ok", "the commit-msg hook adds a Change-Id"))
    else:
        out.append(Finding("gerrit.commit-msg", "warn", "no commit-msg hook that adds a Change-Id",
                           "Gerrit refuses commits without a Change-Id line", "git review -s"))
    return out
