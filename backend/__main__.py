"""`python -m backend` serves the protocol on stdin/stdout; `python -m backend generate ...` runs one job."""

import os
import sys

from .limits import MAX_IMAGE_PIXELS

# OpenCV reads its decoding limit once, when it loads: set it before anything imports cv2. Our own header check
# (backend/files.py) gives the clearer message; this covers the formats it does not parse.
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_IMAGE_PIXELS))


def main():
    if len(sys.argv) > 1:
        from .cli import main as cli_main
        return cli_main(sys.argv[1:])
    from .service import main as service_main
    return service_main()


if __name__ == "__main__":
    sys.exit(main())
