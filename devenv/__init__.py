"""devenv: from an OpenStack-style checkout to a working development setup."""

__version__ = "0.1.0"
