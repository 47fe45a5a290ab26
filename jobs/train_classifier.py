"""spark-submit entry: ``spark-submit jobs/train_classifier.py conf/<train>.yaml [--set k=v]``."""

import sys

from curation.cli import main

if __name__ == "__main__":
    sys.exit(main(["train-classifier", *sys.argv[1:]]))
