"""The local.conf parser: a pure function of the text (no guest needed)."""

from __future__ import annotations

import pytest

from devenv.devstack import localconf
from devenv.devstack.model import trueorfalse
from devenv.errors import ConfigError

CONF = """\
# a comment before any section is fine
[[local|localrc]]
ADMIN_PASSWORD=secret
DATABASE_PASSWORD=$ADMIN_PASSWORD
export SERVICE_PASSWORD="${ADMIN_PASSWORD}"
DEST=/srv/stack
NOVA_REPO=${DEST}/nova-src   # a local clone
NOVA_BRANCH="refs/changes/10/353710/1"
LIBS_FROM_GIT=oslo.messaging
LIBS_FROM_GIT+=,python-novaclient
RECLONE=yes
HOST_IP=$(hostname -I)
SINGLE='a b $c'
MULTI="one
two"
Z=${UNSET:-$DEST/z}
GITREPO["oslo.config"]=/home/me/oslo.config
enable_service n-api,n-cpu
enable_service placement-api
disable_service tempest
enable_plugin neutron https://opendev.org/openstack/neutron stable/2024.1
if [ -n "$x" ]; then
  GLOBAL_VENV=False
fi
[[post-config|$NOVA_CONF]]
[DEFAULT]
debug = True
"""


def test_assignments_references_and_functions():
    conf = localconf.parse(CONF, "/opt/stack/devstack/local.conf")
    v = conf.values
    assert v["DATABASE_PASSWORD"] == v["SERVICE_PASSWORD"] == "secret"
    assert v["NOVA_REPO"] == "/srv/stack/nova-src" and v["NOVA_BRANCH"] == "refs/changes/10/353710/1"
    assert v["LIBS_FROM_GIT"] == "oslo.messaging,python-novaclient"
    assert v["SINGLE"] == "a b $c" and v["MULTI"] == "one\ntwo" and v["Z"] == "/srv/stack/z"
    assert v["GITREPO[oslo.config]"] == "/home/me/oslo.config"
    assert conf.enabled == ("n-api", "n-cpu", "placement-api") and conf.disabled == ("tempest",)
    assert conf.plugins[0].name == "neutron" and conf.plugins[0].branch == "stable/2024.1"
    assert conf.sections == (("local", "localrc"), ("post-config", "$NOVA_CONF"))
    assert "debug" not in v  # post-config INI is not localrc
    assert conf.where("RECLONE") == "/opt/stack/devstack/local.conf line 11"


def test_what_cannot_be_read_is_reported_never_run():
    conf = localconf.parse(CONF, "local.conf")
    why = {u.line: u.why for u in conf.unreadable}
    assert "command substitution" in why[12] and "HOST_IP" not in conf.values
    assert {22, 23, 24} <= set(why) and "GLOBAL_VENV" in conf.unknown  # set inside an if: unknown, not guessed
    s = localconf.settings(conf)
    assert s["global_venv"] is True and "GLOBAL_VENV" not in conf.values


def test_devstack_defaults_as_stackrc_sets_them():
    s = localconf.settings(localconf.parse("[[local|localrc]]\nADMIN_PASSWORD=x\n", "l"))
    assert (s["dest"], s["data_dir"], s["venv"]) == ("/opt/stack", "/opt/stack/data", "/opt/stack/data/venv")
    assert s["global_venv"] is True and s["reclone"] is False and s["stack_user"] == "stack"
    assert s["requirements_dir"] == "/opt/stack/requirements"
    # stackrc sets DATA_DIR=${DEST}/data before it sources localrc: DEST alone does not move it
    s = localconf.settings(localconf.parse(CONF, "l"))
    assert (s["dest"], s["data_dir"], s["venv"]) == ("/srv/stack", "/opt/stack/data", "/opt/stack/data/venv")
    assert s["reclone"] is True and s["libs_from_git"] == ("oslo.messaging", "python-novaclient")
    s = localconf.settings(localconf.parse("[[local|localrc]]\nDEST=/d\nDATA_DIR=$DEST/data\n", "l"))
    assert s["venv"] == "/d/data/venv"


@pytest.mark.parametrize("value,expected", [("True", True), ("yes", True), ("1", True), ("False", False),
                                            ("no", False), ("maybe", False), (None, False)])
def test_reclone_is_read_as_devstacks_trueorfalse(value, expected):
    assert trueorfalse(value, False) is expected
    text = "[[local|localrc]]\n" + (f"RECLONE={value}\n" if value is not None else "")
    assert localconf.settings(localconf.parse(text, "l"))["reclone"] is expected


def test_reclone_set_in_a_block_is_unknown():
    conf = localconf.parse("[[local|localrc]]\nif true; then RECLONE=True; fi\n", "l")
    assert localconf.settings(conf)["reclone_unknown"] is True


@pytest.mark.parametrize("text,line,words", [
    ("[[local|localrc]\nA=1\n", 1, "bad meta-section header"),
    ("[[local|localrc]]\nA=1\nB=\"open\n", 3, "unterminated"),
    ("ADMIN_PASSWORD=x\n[[local|localrc]]\n", 1, "outside any meta-section"),
    ("[[local|localrc]]\nenable_plugin neutron\n", 2, "enable_plugin needs"),
])
def test_malformed_is_one_config_error_naming_the_line(text, line, words):
    with pytest.raises(ConfigError, match=rf"local.conf line {line}: .*{words}|{words}") as exc:
        localconf.parse(text, "/x/local.conf")
    assert f"line {line}" in exc.value.message


def test_unknown_reference_is_unreadable_not_empty():
    conf = localconf.parse("[[local|localrc]]\nA=$NOPE/x\nB=${NOPE:-fallback}\n", "l")
    assert "A" in conf.unknown and "A" not in conf.values and conf.values["B"] == "fallback"


def test_an_old_style_localrc_is_all_settings():
    from devenv.devstack import localconf

    conf = localconf.parse("# mine\nDEST=/srv/stack\nRECLONE=yes\nLIBS_FROM_GIT=oslo.messaging\n",
                           "/home/stack/devstack/localrc", bare=True)
    s = localconf.settings(conf)
    assert s["dest"] == "/srv/stack" and s["reclone"] is True
    assert conf.where("RECLONE") == "/home/stack/devstack/localrc line 3"
