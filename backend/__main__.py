"""`python -m backend` serves the protocol on stdin/stdout; `python -m backend generate ...` runs one job."""

import sys


def main():
    if len(sys.argv) > 1:
        from .cli import main as cli_main
        return cli_main(sys.argv[1:])
    from .service import main as service_main
    return service_main()


if __name__ == "__main__":
    sys.exit(main())
