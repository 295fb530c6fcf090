"""sample-manage: reports the runtime it sees."""

import sys

import eventlet


def main() -> int:
    print(f"eventlet {eventlet.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
