"""Commands: devstack show — what devenv reads of a guest's devstack (local.conf, venv, repos)."""

from __future__ import annotations

import json

import click

from devenv.cli.guest_cmds import _project, _root


@click.group("devstack")
def devstack() -> None:
    """The devstack on a guest (read over ssh with python3; devenv never runs its shell)."""


@devstack.command("show")
@click.argument("name", required=False, metavar="GUEST")
@click.option("--local-conf", metavar="PATH",
              help="The guest's local.conf (default: /opt/stack/devstack, ~stack/devstack, then ~/devstack).")
@click.option("--repo", metavar="NAME", help="Show one repo; fails if devstack does not know it or has not cloned it.")
@_project
@click.option("--json", "json_mode", is_flag=True, help="Print it as JSON.")
def show(name, local_conf, repo, project, json_mode):
    """Show the guest's devstack: DEST, venv, services, LIBS_FROM_GIT, RECLONE, and each repo's
    folder, branch, editable install and git ownership state. Works before stack.sh has run."""
    from devenv.devstack import reader
    from devenv.host import guests

    target = guests.load(_root(project), name)
    dev = reader.read(target, local_conf)
    if repo is not None:
        one = dev.repo(repo)
        click.echo(json.dumps(dev.to_json()["repos"][one.name], indent=2) if json_mode else _repo_line(one))
        return
    if json_mode:
        click.echo(json.dumps(dev.to_json(), indent=2))
        return
    for line in _lines(dev):
        click.echo(line)


def _lines(dev) -> list[str]:
    conf = dev.local_conf
    services = ", ".join(dev.services) or "(none named)"
    if not conf.services_replaced:
        services += " + devstack's default list"
    if conf.disabled:
        services += f"; disabled: {', '.join(conf.disabled)}"
    out = [f"local.conf     {conf.path}", f"DEST           {dev.dest}", f"DATA_DIR       {dev.data_dir}",
           f"venv           {dev.venv} ({'GLOBAL_VENV' if dev.global_venv else 'per-project venvs'}; "
           f"{'stack.sh has run' if dev.stacked else 'not created yet: stack.sh has not run'})",
           f"STACK_USER     {dev.stack_user}", f"services       {services}",
           f"LIBS_FROM_GIT  {', '.join(dev.libs_from_git) or '(none)'}",
           f"RECLONE        {'True' if dev.reclone else 'False'}"
           + (f" ({dev.reclone_where}): stack.sh resets every repo under DEST" if dev.reclone else ""),
           "repos"]
    out += [f"  {_repo_line(r)}" for r in dev.repos.values()]
    out += [f"not read: line {u.line}: {u.text.splitlines()[0]}  ({u.why})" for u in conf.unreadable]
    return out


def _repo_line(repo) -> str:
    if repo.git is None:
        return f"{repo.name:<16} {repo.path}  not cloned yet" + (" (LIBS_FROM_GIT)" if repo.from_git else "")
    git = repo.git
    parts = [f"{git.branch or 'detached'}@{(git.head or 'no commit')[:10]}",
             f"editable: {repo.dist}" if repo.editable else "not editable",
             f"owner {git.owner or git.owner_uid}",
             {True: "git ok", False: "git refuses it (safe.directory)", None: "git missing"}[git.safe_directory_ok]]
    if repo.url:
        parts.append(f"from {repo.url}" + (f" {repo.branch}" if repo.branch else ""))
    if repo.synced:
        parts.append("sync target")
    return f"{repo.name:<16} {repo.path}  " + ", ".join(parts)


COMMANDS: list[click.Command] = [devstack]
