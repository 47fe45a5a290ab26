"""Train the demo quality classifier on ../shared/data and record its held-out metrics.

    .venv/bin/python benchmarks/train_quality_demo.py --demo-shared [--shared ../shared/data]
        [--out out/quality_classifier] [--results benchmarks/results/quality_classifier.json]
        [--master local[2]]

Wikipedia + Brown (positives) vs. SpamAssassin spam + generated boilerplate (negatives), trained
with ``curation.train.train_classifier``; the held-out metrics go to
benchmarks/results/quality_classifier.json. ``benchmarks/bench_fasttext.py`` takes its
boilerplate negatives from ``boilerplate_documents`` here.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curation.errors import ConfigError, CurationError  # noqa: E402
from curation.readers import InputConfig  # noqa: E402
from curation.session import SparkSettings  # noqa: E402
from curation.train import train_classifier  # noqa: E402
from curation.train.config import ClassSource, FastTextParams, TrainConfig  # noqa: E402

_NAV = [
    "Home",
    "About Us",
    "Products",
    "Services",
    "Blog",
    "Shop",
    "Contact",
    "FAQ",
    "Careers",
    "Deals",
    "New Arrivals",
    "Support",
    "Login",
    "Register",
    "Cart (0)",
    "Wishlist",
]
_SHOP = [
    "Wireless Earbuds",
    "LED Desk Lamp",
    "Running Shoes",
    "Phone Case",
    "Yoga Mat",
    "Coffee Grinder",
    "USB-C Cable",
    "Smart Watch",
    "Backpack",
    "Sunglasses",
    "Water Bottle",
]
_SEO = [
    "best",
    "cheap",
    "buy online",
    "discount",
    "free shipping",
    "top rated",
    "sale",
    "deals",
    "near me",
    "2019",
    "review",
    "coupon",
    "promo code",
    "lowest price",
]
_BOILER = [
    "We use cookies to improve your experience. By continuing to browse you agree to our use "
    "of cookies. Accept | Decline | Cookie Settings",
    "Sign in | Create an account | Forgot your password?",
    "Share on Facebook | Tweet | Pin it | Email | Print",
    "Subscribe to our newsletter and get 10% off your first order! Enter your email: [Subscribe]",
    "Privacy Policy | Terms of Service | Sitemap | Accessibility | Do Not Sell My Info",
    "JavaScript is disabled in your browser. Please enable it to use all features of this site.",
    "Skip to main content",
    "Back to top",
    "Loading...",
    "Read more >>",
    "Click here",
]


def boilerplate_documents(n: int, seed: int = 0) -> list[str]:
    """Generated web boilerplate (menus, cookie banners, product grids, SEO tag lists, footers).

    Negatives for the demo classifier: the kind of page text quality filters exist to remove.
    """
    rng = random.Random(seed)
    docs = []
    for _ in range(n):
        lines: list[str] = []
        for _ in range(rng.randint(8, 40)):
            kind = rng.random()
            if kind < 0.2:
                lines.append(" | ".join(rng.sample(_NAV, rng.randint(4, 9))))
            elif kind < 0.45:
                item = rng.choice(_SHOP)
                lines.append(
                    f"{item} - ${rng.randint(5, 300)}.{rng.randint(0, 99):02d}  "
                    f"{'★' * rng.randint(2, 5)} ({rng.randint(1, 9000)} reviews)  Add to cart"
                )
            elif kind < 0.6:
                tags = (f"{rng.choice(_SEO)} {rng.choice(_SHOP).lower()}" for _ in range(6))
                lines.append("Tags: " + ", ".join(tags))
            elif kind < 0.9:
                lines.append(rng.choice(_BOILER))
            else:
                year = rng.randint(2005, 2024)
                lines.append(f"© {year} {rng.choice(_SHOP).split()[0]} Inc. All rights reserved.")
        docs.append("\n".join(lines))
    return docs


def demo_shared(shared: Path, out_dir: Path, results: Path, master: str = "local[2]") -> dict:
    """Train the demo classifier on ../shared/data and write its held-out metrics to JSON."""
    import time

    from curation.session import get_session

    text = shared / "text"
    for name in ("wikipedia_sample.jsonl", "brown.jsonl", "spamassassin.jsonl"):
        if not (text / name).is_file():
            raise ConfigError(f"{text / name} is missing; the demo needs ../shared/data")
    spark = get_session(SparkSettings(master=master, ui=False, shuffle_partitions=8))
    work = Path(tempfile.mkdtemp(prefix="curation-demo-"))
    try:
        boiler = work / "boilerplate.jsonl"
        with open(boiler, "w", encoding="utf-8") as fh:
            for i, doc in enumerate(boilerplate_documents(1500, seed=7)):
                fh.write(json.dumps({"id": f"boiler-{i}", "text": doc}) + "\n")
        cfg = TrainConfig(
            tables={
                "wiki": InputConfig(path=str(text / "wikipedia_sample.jsonl")),
                "brown": InputConfig(path=str(text / "brown.jsonl")),
                "mail": InputConfig(path=str(text / "spamassassin.jsonl")),
                "boiler": InputConfig(path=str(boiler)),
            },
            positives=ClassSource(tables=("wiki", "brown"), chunk_chars=2500),
            negatives=ClassSource(
                query="SELECT text FROM mail WHERE label = 'spam' "
                "UNION ALL SELECT text FROM boiler",
                chunk_chars=2500,
            ),
            output=str(out_dir / "quality_classifier.bin"),
            hard_negative_rounds=1,
            # 200k buckets keep the demo model near 250 MB (the 2M default would be 2 GB).
            fasttext=FastTextParams(bucket=200_000),
        )
        t0 = time.monotonic()
        result = train_classifier(spark, cfg)
        seconds = time.monotonic() - t0
    finally:
        shutil.rmtree(work, ignore_errors=True)
    with open(result.sidecar_path, encoding="utf-8") as fh:
        sidecar = json.load(fh)
    report = {
        "what": "fastText quality classifier trained by "
        "`python benchmarks/train_quality_demo.py --demo-shared`",
        "positives": "Wikipedia sample + Brown corpus, chunked to <= 2500 chars",
        "negatives": "SpamAssassin spam + 1500 generated boilerplate pages, chunked to <= 2500 "
        "chars",
        "seconds_total": round(seconds, 1),
        "load_average": os.getloadavg()[0],
        "sizes": result.sizes,
        "hyperparameters": sidecar["hyperparameters"],
        "prep": sidecar["prep"],
        "metrics": result.metrics,
        "rounds": result.rounds,
    }
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(result.summary())
    print(f"metrics written to {results}")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    repo = Path(__file__).resolve().parents[1]
    p = argparse.ArgumentParser(
        prog="python benchmarks/train_quality_demo.py", description=__doc__.split("\n")[0]
    )
    p.add_argument("--demo-shared", action="store_true", help="train the demo on ../shared/data")
    p.add_argument("--shared", type=Path, default=repo.parent / "shared" / "data")
    p.add_argument("--out", type=Path, default=repo / "out" / "quality_classifier")
    p.add_argument(
        "--results", type=Path, default=repo / "benchmarks" / "results" / "quality_classifier.json"
    )
    p.add_argument("--master", default="local[2]")
    args = p.parse_args(argv)
    if not args.demo_shared:
        p.error("nothing to do; use --demo-shared (or `curation train-classifier CONFIG`)")
    try:
        demo_shared(args.shared, args.out, args.results, args.master)
    except CurationError as exc:
        print(f"error: {exc}")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
