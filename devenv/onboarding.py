"""A first-time contributor's steps after `devenv init`: what they can do now, and whether each step of
OpenStack's contributor setup is in place (git identity, devenv's hooks, the Gerrit remote and the
commit-msg hook that `git review -s` installs). Read-only: nothing here changes the repository.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from devenv import gerrit, gitidentity, precommit, proc
from devenv.errors import ConfigError, DevenvError
from devenv.findings import Finding
from devenv.gerrit import GitReview
from devenv.project import Project
from devenv.tools import Tools


def gitreview(root: Path) -> GitReview | None:
    """.gitreview as git-review reads it (devenv/gerrit.py); None without the file. A malformed one reads as
    None too (doctor reports it)."""
    try:
        return gerrit.read(root)
    except ConfigError:
        return None


def next_steps(project: Project) -> list[str]:
    """What the contributor can do now, named as the IDE and the contributor guide name it."""
    steps = []
    if project.runner.kind:
        steps.append("run the tests: the 'Unit tests' configuration in PyCharm (or: tox -e py3)")
    if "pep8" in project.envs:
        from devenv.ide import runconfigs

        if (project.root / ".idea" / "runConfigurations" / runconfigs.file_name("tox -e pep8")).is_file():
            steps.append("lint as the gate does: the 'tox -e pep8' configuration in PyCharm (or: tox -e pep8)")
        else:
            steps.append("lint as the gate does: tox -e pep8")
    if (project.root / ".gitreview").is_file():
        steps.append(_review_step(project.root))
    return steps


def _review_step(root: Path) -> str:
    """`git review`, named as the contributor can run it: git finds `git-review` on PATH; otherwise the
    copy in devenv's tools venv, by its path. `-s` first only while the remote or the hook is missing."""
    command = "git review"
    if shutil.which("git-review") is None:
        from devenv import interpreter, tools

        interp = interpreter.from_venv(root / ".venv")
        found = tools.find(interp.version) if interp is not None else None
        if found is not None:
            command = f"git review (not on PATH: {found.bin('git-review')})"
    review = gitreview(root)
    try:
        ready = review is not None and gerrit.remote_url(root, review.remote) is not None \
            and gerrit.hook_in_place(hooks_dir(root))
    except DevenvError:
        ready = False
    if ready:
        return f"send a change: {command}"
    return f"send a change: {command}, once `git review -s` has set up the 'gerrit' remote (see above)"


def hooks_dir(root: Path) -> Path:
    from devenv.ide import hooks

    return hooks.hooks_dir(root)


def findings(root: Path, tools: Tools | None = None) -> list[Finding]:
    """tools: devenv's tools venv for pre-commit's checks (None: the one its installed hook runs)."""
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
    out += precommit.findings(root, tools)
    if not (root / ".gitreview").is_file():
        return out
    try:
        review = gerrit.read(root)
    except ConfigError as exc:
        out.append(Finding("gerrit.gitreview", "warn", exc.message,
                           "git review does not know where to send changes", exc.hint or "fix .gitreview"))
        return out
    assert review is not None
    # the same facts gerrit.setup() decides "already" on: the remote's URL and a hook that adds a Change-Id
    url = gerrit.remote_url(root, review.remote)
    if url:
        out.append(Finding("gerrit.remote", "ok", f"remote '{review.remote}': {url}"))
    else:
        out.append(Finding("gerrit.remote", "warn",
                           f"no '{review.remote}' remote for {review.host}/{review.project}",
                           "git review cannot send changes yet",
                           "git review -s (or devenv init; a Gerrit username: git config --global "
                           "gitreview.username NAME)"))
    if gerrit.hook_in_place(hooks.hooks_dir(root)):
        out.append(Finding("gerrit.commit-msg", "ok", "the commit-msg hook adds a Change-Id"))
    else:
        out.append(Finding("gerrit.commit-msg", "warn", "no commit-msg hook that adds a Change-Id",
                           "Gerrit refuses commits without a Change-Id line", "git review -s (or devenv init)"))
    return out
