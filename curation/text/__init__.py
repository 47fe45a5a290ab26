"""Pure Python/numpy text kernels (no Spark): tokens, lines, n-grams, signals, hashes.

Modules are imported on use, not here, so a worker that needs one kernel does not pay for the
others (``charclasses`` builds its Unicode tables at import, ~0.05 s).

Quality signals: ``words`` (tokenizer), ``lines`` (line and paragraph statistics), ``ngrams``
(repetition), ``c4`` (C4's line filter), ``stopwords``, ``charclasses``, and
``quality_signals`` (all signals of a document in one pass).
"""
