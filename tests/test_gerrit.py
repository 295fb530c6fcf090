"""gerrit.setup(): what `git review -s` sets up, run by the real git-review against stand-ins on 127.0.0.1
only: git's smart HTTP (`git http-backend` as CGI) over a local bare repository, and a commit-msg hook
served where Gerrit serves it (/tools/hooks/commit-msg)."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from devenv import gerrit, onboarding

PROJECT = "openstack/nova.git"
# A stand-in for Gerrit's hook: appends a Change-Id line (a fixed one, so a test can tell it from git-review's)
SERVED_HOOK = "#!/bin/sh\n# stand-in for Gerrit's commit-msg\nprintf '\\nChange-Id: I%s\\n' " \
              "0123456789abcdef0123456789abcdef01234567 >> \"$1\"\n"


class Standin(ThreadingHTTPServer):
    """Gerrit's two HTTP paths that `git review -s` uses, on 127.0.0.1 and an ephemeral port."""

    def __init__(self, base: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.base, self.hook, self.seen = base, SERVED_HOOK, []

    @property
    def port(self) -> int:
        return self.server_address[1]


class _Handler(BaseHTTPRequestHandler):
    server: Standin

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        path, _, query = self.path.partition("?")
        self.server.seen.append(path)
        if path == "/tools/hooks/commit-msg":
            self._reply(200 if self.server.hook else 404, (self.server.hook or "not here").encode())
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        env = {"PATH": os.environ["PATH"], "GIT_PROJECT_ROOT": str(self.server.base), "GIT_HTTP_EXPORT_ALL": "1",
               "REQUEST_METHOD": self.command, "PATH_INFO": urllib.parse.unquote(path), "QUERY_STRING": query,
               "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
               "REMOTE_USER": "tester", "REMOTE_ADDR": "127.0.0.1", "GIT_CONFIG_NOSYSTEM": "1",
               "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
               "GIT_PROTOCOL": self.headers.get("Git-Protocol", "")}
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, timeout=30).stdout
        sep = b"\r\n\r\n" if b"\r\n\r\n" in out else b"\n\n"
        head, _, data = out.partition(sep)
        headers = [line.split(":", 1) for line in head.decode().splitlines() if ":" in line]
        status = next((int(v.split()[0]) for k, v in headers if k.lower() == "status"), 200)
        self._reply(status, data, [(k, v.strip()) for k, v in headers if k.lower() != "status"])

    def _reply(self, status: int, data: bytes, headers: list[tuple[str, str]] | None = None) -> None:
        self.send_response(status)
        for key, value in headers or [("Content-Type", "text/plain")]:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture(autouse=True)
def git_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", "Tess Ter")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "tess@example.org")


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[Standin]:
    bare = tmp_path / "gerrit" / PROJECT
    subprocess.run(["git", "init", "-q", "--bare", "-b", "master", str(bare)], check=True)
    seed = tmp_path / "seed"
    subprocess.run(["git", "init", "-q", "-b", "master", str(seed)], check=True)
    git(seed, "commit", "-q", "--allow-empty", "-m", "first")
    git(seed, "push", "-q", str(bare), "master")
    server = Standin(tmp_path / "gerrit")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def checkout(tmp_path: Path, gitreview: str, origin: Path | None = None) -> Path:
    root = tmp_path / "nova"
    subprocess.run(["git", "init", "-q", "-b", "master", str(root)], check=True)
    (root / ".gitreview").write_text(gitreview)
    git(root, "add", ".gitreview")
    git(root, "commit", "-q", "-m", "add .gitreview")
    if origin is not None:
        git(root, "remote", "add", "origin", str(origin))
    return root


def http_gitreview(port: int, scheme: str = "http") -> str:
    return f"[gerrit]\nhost=127.0.0.1\nport={port}\nproject={PROJECT}\nscheme={scheme}\n"


@pytest.fixture
def repo(tmp_path: Path, standin: Standin) -> Path:
    return checkout(tmp_path, http_gitreview(standin.port), origin=standin.base / PROJECT)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def silent_port() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


def hooks(root: Path) -> Path:
    return root / ".git" / "hooks"


def state(root: Path) -> tuple[str, list[str]]:
    """The repository's config and its hooks folder's entries (not git's *.sample files)."""
    entries = sorted(p.name for p in hooks(root).iterdir() if not p.name.endswith(".sample")) \
        if hooks(root).is_dir() else []
    return (root / ".git" / "config").read_text(), entries


def commit_message(root: Path) -> str:
    (root / "a.txt").write_text("a change\n")
    git(root, "add", "a.txt")
    git(root, "commit", "-q", "-m", "Fix the thing\n\nLonger text.")
    return git(root, "log", "-1", "--format=%B")


def gerrit_checks(root: Path) -> dict[str, str]:
    return {f.check: f.status for f in onboarding.findings(root) if f.check.startswith("gerrit.")}


def test_first_setup_adds_the_remote_and_a_hook_that_gives_commits_a_change_id(repo: Path, standin: Standin,
                                                                                tools_venv) -> None:
    assert gerrit_checks(repo) == {"gerrit.remote": "warn", "gerrit.commit-msg": "warn"}
    out = gerrit.setup(repo, tools_venv.bin("git-review"), user="alice")
    url = f"http://alice@127.0.0.1:{standin.port}/{PROJECT}"
    assert (out.status, out.remote_url, out.hook, out.later) == ("done", url, True, None), out
    assert not out.needs_action
    assert git(repo, "remote", "get-url", "gerrit").strip() == url
    assert git(repo, "rev-parse", "gerrit/master")  # `git remote add -f` fetched from the stand-in
    assert any("added" in line for line in out.lines) and any("gitreview.username alice" in ln for ln in out.lines)
    assert re.search(r"^Change-Id: I[0-9a-f]{40}$", commit_message(repo), re.M)
    assert "/tools/hooks/commit-msg" not in standin.seen  # git-review's own copy of the hook, as `git review -s`
    assert [p for p in hooks(repo).iterdir() if p.name.startswith(".devenv-gerrit-")] == []
    assert gerrit_checks(repo) == {"gerrit.remote": "ok", "gerrit.commit-msg": "ok"}  # doctor agrees


def test_remote_hook_is_fetched_where_gerrit_serves_it(repo: Path, standin: Standin, tools_venv) -> None:
    out = gerrit.setup(repo, tools_venv.bin("git-review"), user="alice", remote_hook=True)
    assert out.status == "done", out
    assert "/tools/hooks/commit-msg" in standin.seen
    assert (hooks(repo) / "commit-msg").read_text() == SERVED_HOOK
    assert "Change-Id: I0123456789abcdef0123456789abcdef01234567" in commit_message(repo)


def test_second_run_says_already_without_the_network_or_git_review(repo: Path, standin: Standin,
                                                                  tools_venv) -> None:
    assert gerrit.setup(repo, tools_venv.bin("git-review"), user="alice").status == "done"
    before = state(repo)
    standin.shutdown()
    standin.server_close()
    for git_review in (tools_venv.bin("git-review"), None):
        out = gerrit.setup(repo, git_review, user=None)
        assert (out.status, out.hook, out.needs_action) == ("already", True, False), out
        assert "already set up" in out.lines[0]
    assert state(repo) == before


def test_username_comes_from_the_flag_else_git_config(repo: Path) -> None:
    assert gerrit.username(repo, None) is None
    git(repo, "config", "gitreview.username", "carol")
    assert gerrit.username(repo, None) == "carol"
    assert gerrit.username(repo, " bob ") == "bob"


def test_username_from_git_config_is_used(repo: Path, standin: Standin, tools_venv) -> None:
    git(repo, "config", "gitreview.username", "carol")
    out = gerrit.setup(repo, tools_venv.bin("git-review"), user=None)
    assert out.remote_url == f"http://carol@127.0.0.1:{standin.port}/{PROJECT}", out
    assert not any("git config --global" in line for line in out.lines)  # nothing to save: it is set


def test_unreachable_gerrit_leaves_nothing_and_says_what_to_run(tmp_path: Path, tools_venv) -> None:
    root = checkout(tmp_path, http_gitreview(closed_port()))
    before = state(root)
    out = gerrit.setup(root, tools_venv.bin("git-review"), user="alice")
    assert (out.status, out.hook, out.needs_action) == ("unreachable", False, True), out
    assert "could not connect to Gerrit" in out.lines[0] and "failed to connect" in out.lines[0].lower()
    assert out.later == (f"cd {root} && git config gitreview.username alice && {tools_venv.bin('git-review')} -s")
    assert out.lines[-1].endswith(out.later)
    assert state(root) == before  # no gerrit remote, no hook, no scratch folder


def test_a_silent_gerrit_is_stopped_at_the_timeout(tmp_path: Path, tools_venv) -> None:
    with silent_port() as port:
        root = checkout(tmp_path, http_gitreview(port))
        before = state(root)
        started = time.monotonic()
        out = gerrit.setup(root, tools_venv.bin("git-review"), user="alice", timeout=3)
    assert time.monotonic() - started < 15  # bounded: git would wait for this port for ever
    assert out.status == "unreachable" and "did not answer within 3 s" in out.lines[0], out
    assert state(root) == before


def test_a_failure_after_the_remote_was_added_removes_it_but_never_an_older_one(repo: Path, standin: Standin,
                                                                               tools_venv) -> None:
    standin.hook = None  # the hook's URL answers 404: git-review fails after `git remote add -f`
    before = state(repo)
    out = gerrit.setup(repo, tools_venv.bin("git-review"), user="alice", remote_hook=True)
    assert (out.status, out.remote_url) == ("failed", None), out
    assert any("removed again" in line for line in out.lines) and out.later.endswith("-s --remote-hook")
    assert state(repo) == before
    git(repo, "remote", "add", "gerrit", "http://elsewhere.invalid/nova")  # the user's own, not this run's
    out = gerrit.setup(repo, tools_venv.bin("git-review"), user="alice", remote_hook=True)
    assert out.status == "failed", out
    assert git(repo, "remote", "get-url", "gerrit").strip() == "http://elsewhere.invalid/nova"
    assert not (hooks(repo) / "commit-msg").exists()


def test_no_username_for_ssh_is_reported_and_nothing_changes(tmp_path: Path, tools_venv) -> None:
    root = checkout(tmp_path, f"[gerrit]\nhost=127.0.0.1\nport={closed_port()}\nproject={PROJECT}\n")
    before = state(root)
    out = gerrit.setup(root, tools_venv.bin("git-review"), user=None)
    assert (out.status, out.needs_action) == ("skipped", True), out
    assert "no Gerrit username for ssh://<you>@127.0.0.1" in out.lines[0]
    assert "--gerrit-user" in out.lines[1]
    assert out.later == f"git config --global gitreview.username YOUR_GERRIT_USERNAME && cd {root} && " \
                        f"{tools_venv.bin('git-review')} -s"
    assert out.lines[-1] == f"  then run: {out.later}"
    assert state(root) == before


def test_ssh_that_cannot_connect_is_bounded_and_never_prompts(tmp_path: Path, tools_venv) -> None:
    root = checkout(tmp_path, f"[gerrit]\nhost=127.0.0.1\nport={closed_port()}\nproject={PROJECT}\n")
    before = state(root)
    out = gerrit.setup(root, tools_venv.bin("git-review"), user="alice", timeout=20)
    assert out.status == "unreachable", out
    assert "refused" in out.lines[0].lower()
    assert state(root) == before


def test_git_review_missing_is_reported(repo: Path) -> None:
    before = state(repo)
    out = gerrit.setup(repo, None, user="alice")
    assert out.status == "skipped" and "git-review is not installed" in out.lines[0], out
    assert state(repo) == before


@pytest.mark.parametrize("text, said", [
    ("host = nowhere\n", "cannot be read"),  # not ini: no section header
    ("[other]\nhost=h\n", "has no [gerrit] section"),
    ("[gerrit]\nport=29418\n", "has no host and no project"),
    ("[gerrit]\nhost=h\nproject=p\nscheme=ftp\n", "scheme=ftp is not one of"),
])
def test_a_malformed_gitreview_is_one_warning_naming_the_file(tmp_path: Path, tools_venv, text: str,
                                                               said: str) -> None:
    root = checkout(tmp_path, text)
    before = state(root)
    out = gerrit.setup(root, tools_venv.bin("git-review"), user="alice")
    assert out.status == "invalid" and out.needs_action, out
    assert said in out.lines[0] and str(root / ".gitreview") in out.lines[0]
    assert out.lines[1].startswith("  fix: ")
    assert state(root) == before
    (finding,) = [f for f in onboarding.findings(root) if f.check == "gerrit.gitreview"]
    assert finding.status == "warn" and said in finding.message


def test_users_own_commit_msg_hook_is_kept_and_runs_first(repo: Path, standin: Standin, tools_venv) -> None:
    mine = "#!/bin/sh\necho ran >> \"$(git rev-parse --git-dir)/mine-ran\"\nprintf '\\nTested-by: me\\n' >> \"$1\"\n"
    (hooks(repo) / "commit-msg").write_text(mine)
    (hooks(repo) / "commit-msg").chmod(0o750)
    assert gerrit_checks(repo)["gerrit.commit-msg"] == "warn"
    out = gerrit.setup(repo, tools_venv.bin("git-review"), user="alice")
    assert out.status == "done" and out.hook, out
    kept = hooks(repo) / "commit-msg.devenv-chained"
    assert kept.read_text() == mine and kept.stat().st_mode & 0o777 == 0o750
    message = commit_message(repo)
    assert (repo / ".git" / "mine-ran").read_text() == "ran\n"
    assert message.index("Tested-by: me") < message.index("Change-Id: I")  # Gerrit's last, in the footer
    assert gerrit_checks(repo) == {"gerrit.remote": "ok", "gerrit.commit-msg": "ok"}
    assert gerrit.setup(repo, tools_venv.bin("git-review"), user=None).status == "already"
    (hooks(repo) / "commit-msg.gerrit").unlink()  # Gerrit's part lost: the check says so, setup puts it back
    assert gerrit_checks(repo)["gerrit.commit-msg"] == "warn"
    assert gerrit.setup(repo, tools_venv.bin("git-review"), user=None).status == "done"
    assert kept.read_text() == mine and gerrit.hook_in_place(hooks(repo))


def test_a_second_foreign_hook_is_never_overwritten(repo: Path, tools_venv) -> None:
    (hooks(repo) / "commit-msg").write_text("#!/bin/sh\nexit 0\n")
    (hooks(repo) / "commit-msg.devenv-chained").write_text("#!/bin/sh\nexit 0\n")
    before = state(repo)
    out = gerrit.setup(repo, tools_venv.bin("git-review"), user="alice")
    assert out.status == "skipped" and "already exists" in out.lines[0], out
    assert state(repo) == before


def test_an_existing_gerrit_hook_is_left_as_it_is(repo: Path, standin: Standin, tools_venv) -> None:
    (hooks(repo) / "commit-msg").write_text(SERVED_HOOK + "# my tweak\n")
    (hooks(repo) / "commit-msg").chmod(0o755)
    out = gerrit.setup(repo, tools_venv.bin("git-review"), user="alice")
    assert out.status == "done" and out.remote_url, out
    assert (hooks(repo) / "commit-msg").read_text() == SERVED_HOOK + "# my tweak\n"
    assert not (hooks(repo) / "commit-msg.devenv-chained").exists()


def test_a_repository_without_origin_is_set_up(tmp_path: Path, standin: Standin, tools_venv) -> None:
    root = checkout(tmp_path, http_gitreview(standin.port))  # `git review -s` does not use origin
    out = gerrit.setup(root, tools_venv.bin("git-review"), user="alice")
    assert out.status == "done", out
    assert git(root, "remote").split() == ["gerrit"]


def test_usepushurl_needs_the_user(tmp_path: Path, standin: Standin, tools_venv) -> None:
    root = checkout(tmp_path, http_gitreview(standin.port) + "usepushurl=1\n")  # it would rewrite origin
    before = state(root)
    out = gerrit.setup(root, tools_venv.bin("git-review"), user="alice")
    assert out.status == "skipped" and "usepushurl" in out.lines[0], out
    assert state(root) == before


def test_nothing_to_do_without_gitreview_or_outside_git(tmp_path: Path, tools_venv) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    assert gerrit.setup(plain, tools_venv.bin("git-review"), user="alice") == gerrit.Outcome("none")
    (plain / ".gitreview").write_text(http_gitreview(closed_port()))
    out = gerrit.setup(plain, tools_venv.bin("git-review"), user="alice")
    assert out.status == "none" and "not a git checkout" in out.lines[0]
