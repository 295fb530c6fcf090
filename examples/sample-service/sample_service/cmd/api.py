"""sample-api: prints a greeting and exits (a stand-in for a real API service)."""

import sys

from sample_service import greeting


def main() -> int:
    name = sys.argv[1] if len(sys.argv) > 1 else "world"
    print(greeting.greet(name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
