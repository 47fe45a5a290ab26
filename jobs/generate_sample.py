"""spark-submit entry: ``spark-submit jobs/generate_sample.py OUT [--docs N] [--seed S]``."""

import sys

from curation.cli import main

if __name__ == "__main__":
    sys.exit(main(["sample", *sys.argv[1:]]))
