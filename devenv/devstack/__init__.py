"""devstack on a guest, read from the host: its local.conf, venv and repos, never by running its shell.

  model       frozen dataclasses for what was read (LocalConf, Repo, GitState, Devstack)
  localconf   the local.conf parser: a pure function of the text
  guest_probe the stdlib-only script shipped to the guest (`ssh guest python3 -`)
  reader      read a guest's devstack over ssh (bounded in time)
  guard       the RECLONE guard that `devenv sync` calls
  health      doctor's devstack findings
"""
