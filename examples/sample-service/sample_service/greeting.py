"""The service's one piece of logic, so the tests test something."""

import os


def greet(name: str) -> str:
    if not name or not name.strip():
        raise ValueError("name must not be empty")
    return f"Hello, {name.strip()}!"


def greendns_disabled() -> bool:
    """True when eventlet's greendns is off (devenv's run configurations set EVENTLET_NO_GREENDNS=yes)."""
    return os.environ.get("EVENTLET_NO_GREENDNS", "").lower() == "yes"
