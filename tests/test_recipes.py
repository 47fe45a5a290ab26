"""The shipped recipes load, pass the plan check, and put the filters where they belong."""

from __future__ import annotations

from pathlib import Path

import pytest

from curation.config import load_config
from curation.plan import check_plan, plan
from curation.stages import build_stage

CONF = Path(__file__).resolve().parents[1] / "conf"


# train_*.yaml are train-classifier recipes, not runs
RUN_RECIPES = sorted(p.name for p in CONF.glob("*.yaml") if not p.name.startswith("train_"))


@pytest.mark.parametrize("recipe", RUN_RECIPES)
def test_every_run_recipe_loads_and_passes_the_plan_check(recipe):
    cfg = load_config(CONF / recipe, [])
    stages = [build_stage(s) for s in cfg.stages]
    check_plan(stages)
    assert plan(stages)


def test_fineweb_recipe_filters_urls_first_and_pii_and_decontamination_after_dedup():
    cfg = load_config(CONF / "fineweb_en.yaml", [])
    kinds = [s.kind for s in cfg.stages]
    assert kinds[0] == "url_filter"
    last_dedup = max(kinds.index("exact_dedup"), kinds.index("near_dedup"))
    # after dedup: fewer documents to scan, and a redacted copy is not told from its original
    assert kinds.index("decontaminate") > last_dedup
    assert kinds.index("pii") > last_dedup
    # decontamination sees the text as written, before redaction rewrites it
    assert kinds.index("decontaminate") < kinds.index("pii")
    decon = cfg.stages[kinds.index("decontaminate")]
    assert decon.ngram == 13 and decon.method == "auto"
