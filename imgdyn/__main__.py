import sys

from .animate import main

sys.exit(main(sys.argv[1:]))
