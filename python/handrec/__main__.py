"""python3 -m handrec: the same as the handrec command."""
import sys

from handrec.cli import main

sys.exit(main(prog="python3 -m handrec"))
