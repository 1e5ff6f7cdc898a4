import sys

if sys.argv[1:2] == ["quality"]:
    from .quality_report import main
    sys.exit(main(sys.argv[2:]))

from .animate import main

sys.exit(main(sys.argv[1:]))
