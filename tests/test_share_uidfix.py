"""uidfix: the fix lines carry the real ids and survive odd paths."""

from __future__ import annotations

import shlex

from devenv.host import uidfix


def test_fixes_name_real_ids_and_quote_paths() -> None:
    lines = uidfix.fixes(
        1000, 1001, 2345, 2346,
        host_path="/home/dev/it's nova", guest_path="/opt/stack/no va", guest_user="stack",
    )
    assert len(lines) == 5
    bindfs = lines[0].split(": ", 1)[1]
    argv = shlex.split(bindfs)
    assert argv == ["bindfs", "--map=1000/2345:@1001/@2346", "/opt/stack/no va-raw", "/opt/stack/no va"]
    vagrant = lines[1]
    assert "map_uid: 1000, map_gid: 1001" in vagrant
    assert "type: 'nfs'" in vagrant
    assert r"'/home/dev/it\'s nova'" in vagrant
    assert "uid=2345,gid=2346" in lines[2]
    assert "usermod -u 1000 stack" in lines[3] and "groupmod -g 1001 stack" in lines[3]
    assert "devenv sync" in lines[4]


def test_mismatch_finding_is_a_fail_with_all_fixes() -> None:
    f = uidfix.mismatch_finding(
        501, 20, 1000, 1000, host_path="/Users/me/nova", guest_path="/opt/stack/nova", guest_user="stack",
        errno="EPERM",
    )
    assert f.status == "fail" and f.errno == "EPERM"
    assert "501:20" in f.message and "1000:1000" in f.message
    assert "--map=501/1000:@20/@1000" in f.fix
    assert f.fix.count("\n") >= 3
