"""spark-submit entry: ``spark-submit jobs/run_pipeline.py conf/<recipe>.yaml [--set k=v] [--run-id ID]``.

The same code as ``curation run``; the session comes from spark-submit's settings. A recipe
shipped with ``--files conf/<recipe>.yaml`` is named by its file name (``<recipe>.yaml``): how a
driver in cluster deploy mode gets it.
"""

import sys

from curation.cli import main
from curation.session import shipped_file

if __name__ == "__main__":
    args = sys.argv[1:]
    if args and not args[0].startswith("-"):
        args[0] = shipped_file(args[0])
    sys.exit(main(["run", *args]))
