import sys

if sys.argv[1:2] == ["quality"]:
    from .quality_report import main
    sys.exit(main(sys.argv[2:]))

if sys.argv[1:2] == ["layers"]:  # the layer types and their settings, as --layer takes them
    from .layers import describe
    print(describe())
    sys.exit(0)

from .animate import main

sys.exit(main(sys.argv[1:]))
