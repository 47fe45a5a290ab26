"""MinHash signatures computed in Spark's Arrow pass against datasketch."""

from __future__ import annotations

import numpy as np
from datasketch import MinHash
from dedup_docs import text, words

from curation.stages.dedup import NearDedupConfig
from curation.stages.dedup.signatures import with_minhash_signature
from curation.text import shingles as sh


def test_with_minhash_signature_matches_datasketch(spark):
    docs = [("a", text(words(61))), ("b", "Ünïcödé — ok 東京 タワー and more words"), ("c", "!!")]
    df = spark.createDataFrame(docs, "id string, text string")
    cfg = NearDedupConfig(scheme="datasketch", num_perm=64, seed=3)
    got = {r.id: r for r in with_minhash_signature(df, cfg).collect()}
    for doc_id, doc in docs:
        ref = MinHash(num_perm=64, seed=3)
        ref.update_batch([s.encode() for s in sh.shingle_strings(doc, 5)])
        assert np.array_equal(np.array(got[doc_id].dup_minhash, dtype=np.uint64), ref.hashvalues)
    assert got["c"].dup_bands is None  # no shingles: nothing to bucket
    assert len(got["a"].dup_bands) == cfg.lsh_params[0]
