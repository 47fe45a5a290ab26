"""spark-submit entry: ``spark-submit jobs/run_pipeline.py conf/<recipe>.yaml [--set k=v] [--run-id ID]``.

The same code as ``curation run``; the session comes from spark-submit's settings.
"""

import sys

from curation.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
