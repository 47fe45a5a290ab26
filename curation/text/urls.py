"""URL block lists: which listed domain, URL prefix or word a page's URL falls under.

Hosts are compared in one canonical form, so a list and a crawl that spell a host differently
still meet: lowercase, no userinfo or port, no trailing dot, a leading ``www.`` removed, and
internationalised labels in their ASCII (``xn--``) form, whichever form either side used::

    canonical_host("User@WWW.Bücher.DE.:8080")  ->  "xn--bcher-kva.de"
    canonical_host("xn--bcher-kva.de")          ->  "xn--bcher-kva.de"

Entries, as in UT1's ``domains`` and ``urls`` files (a plain list uses the same syntax):

* a domain blocks itself and every subdomain: ``example.com`` blocks ``a.b.example.com``, not
  ``badexample.com`` (an IPv4 address blocks only itself);
* a URL entry with a host (``example.com/videos/``) blocks URLs under that host or a subdomain
  whose path starts with the entry's path (UT1's own meaning, host-anchored so that
  ``notexample.com/videos/`` is not caught by accident);
* any other URL entry is a word (``casino``, ``/wp-adult/``): a substring of the URL's canonical
  host followed by its lowercased path and query. A non-ASCII word also matches its
  percent-encoded form, as it appears in crawled URLs.

The allow list (domains and host-anchored URL prefixes) overrides every block. A verdict is one
of the ``STATUSES``, checked in that order. Domains are stored as sorted 64-bit hashes, so UT1's
millions of adult domains take 10 bytes each in a worker and load in one ``np.load``; the chance
that a host collides with one of 5 million listed domains is about 3e-13 per lookup.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

MISSING, UNPARSEABLE, ALLOWED = "missing", "unparseable", "allowed"
BLOCKED_DOMAIN, BLOCKED_SUBSTRING, CLEAN = "blocked_domain", "blocked_substring", "clean"
STATUSES = (MISSING, UNPARSEABLE, ALLOWED, BLOCKED_DOMAIN, BLOCKED_SUBSTRING, CLEAN)
_CODE = {s: i for i, s in enumerate(STATUSES)}
_UNDECIDED = -1

# Scheme (needs "//" after it: "host:8080/x" has a port, not a scheme), authority, path + query.
# A backslash ends the authority as "/" does (browsers read http:\\host\ the same way).
_SPLIT = r"^(?:[A-Za-z][A-Za-z0-9+.\-]*://|//)?(?P<auth>[^/?#\\]*)(?P<rest>[^#]*)"
_SPLIT_PY = re.compile(_SPLIT)
# Schemes that name no host ("mailto:a@b.test" would otherwise read as user "a" at b.test).
_NO_HOST = r"^(?i:mailto|javascript|data|tel|sms|about|urn|news|blob):"
_NO_HOST_PY = re.compile(_NO_HOST)
_ASCII_HOST = re.compile(r"(?:[a-z0-9_-]{1,63}\.)*[a-z0-9_-]{1,63}")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_IPV6 = re.compile(r"\[[0-9a-f:.]+\]")
# IDNA (RFC 3490 3.1) reads these as label separators too.
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
# hosts-file lines ("0.0.0.0 example.com") are a common way to publish block lists.
_SINKHOLES = {"0.0.0.0", "127.0.0.1", "::", "::1"}
# Words per RE2 alternation. RE2 refused 100,000 at once here; measured over 10,000 URLs
# (pyarrow 26), 500 per regex was fastest or near it for 2,000, 10,000 and 50,000 words
# (110 ms of CPU for 10,000 words, against 280 ms as one regex and 150 ms in regexes of 100).
_WORDS_PER_REGEX = 500


# -- hosts -----------------------------------------------------------------------------------


def canonical_host(host: str) -> str | None:
    """The host as lists and URLs are compared; None when it is not a host name or address."""
    if "%" in host:
        try:
            host = unquote(host, errors="strict")
        except UnicodeDecodeError:
            return None
    host = host.strip()
    if not host.isascii():
        host = host.translate(_DOTS)
    host = host.lower().rstrip(".")
    if not host or len(host) > 253:
        return None
    if host.startswith("["):
        return host if _IPV6.fullmatch(host) else None
    if not host.isascii() or "xn--" in host:
        labels = [_ascii_label(label) for label in host.split(".")]
        if None in labels:
            return None
        host = ".".join(labels)  # type: ignore[arg-type]
    if not _ASCII_HOST.fullmatch(host):
        return None
    # "www." is not a site of its own; "www.com" keeps its name.
    if host.startswith("www.") and host.count(".") >= 2:
        host = host[4:]
    return host


def _ascii_label(label: str) -> str | None:
    """One label in its canonical ASCII form: xn-- labels are decoded and encoded again, so a
    list and a URL that wrote the same name in Unicode and in punycode get the same string."""
    if label.startswith("xn--"):
        try:
            label = label[4:].encode("ascii").decode("punycode")
        except (UnicodeError, ValueError):
            return None
        if label.isascii():  # an xn-- label must stand for a non-ASCII name
            return None
    if label.isascii():
        return label
    label = unicodedata.normalize("NFC", label).lower()
    try:
        return "xn--" + label.encode("punycode").decode("ascii")
    except UnicodeError:
        return None


def host_of_authority(authority: str) -> str | None:
    """Canonical host of ``user:pass@host:port``; None when the port or host is not valid."""
    hostport = authority.rpartition("@")[2]
    if hostport.startswith("["):
        end = hostport.find("]")
        host, after = hostport[: end + 1], hostport[end + 1 :]
        if end < 0 or (after and not after.startswith(":")):
            return None
        port = after[1:]
    else:
        host, _, port = hostport.partition(":") if ":" in hostport else (hostport, "", "")
    if port and not (port.isascii() and port.isdigit()):
        return None
    return canonical_host(host)


def split_url(url: str) -> tuple[str, str] | None:
    """(canonical host, lowercased path and query) of a URL with or without a scheme."""
    url = url.strip()
    m = None if _NO_HOST_PY.match(url) else _SPLIT_PY.match(url)
    host = host_of_authority(m.group("auth")) if m else None
    if host is None:
        return None
    return host, _path(m.group("rest").lower())


def _path(rest: str) -> str:
    return rest if rest.startswith("/") else "/" + rest


def parent_domains(host: str) -> Iterator[str]:
    """``a.b.c`` -> ``a.b.c``, ``b.c``, ``c``: the entries that would cover the host."""
    yield host
    if host.startswith("[") or _IPV4.fullmatch(host):
        return
    i = host.find(".")
    while i >= 0:
        parent = host[i + 1 :]
        # A listed address covers itself only: "5.1.2.3.4" is not under "1.2.3.4".
        if not (parent[0].isdigit() and _IPV4.fullmatch(parent)):
            yield parent
        i = host.find(".", i + 1)


def host_hash(host: str) -> int:
    return xxhash.xxh3_64_intdigest(host.encode("ascii"))


# -- list entries ----------------------------------------------------------------------------


def _entries(lines: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(line, entry) for each line that is not blank or a comment. A line of several fields
    gives itself whole, so it fails to parse and is counted as skipped."""
    for line in lines:
        text = line.split("#", 1)[0].strip()
        fields = text.split()
        if fields:
            # "0.0.0.0 example.com" (hosts file): the second field is the entry.
            yield line, fields[1] if len(fields) == 2 and fields[0] in _SINKHOLES else text


def domain_entry(text: str) -> str | None:
    """Canonical domain of a ``domains`` line entry (``*.x.com``, ``.x.com``, ``http://x.com/``
    all mean x.com); None when it is not a domain (e.g. it has a path: a ``urls`` entry)."""
    text = text.removeprefix("*.").lstrip(".")
    parts = split_url(text)
    if parts is None or parts[1] != "/":
        return None
    return parts[0]


def url_entry(text: str) -> tuple[str, str] | str:
    """A ``urls`` line entry: (host, path prefix) when it starts with a dotted host, else a
    lowercase word matched as a substring."""
    head = text.split("/", 1)[0]
    if "/" in text and ("." in head or head.endswith(":")):
        parts = split_url(text)
        if parts is not None and "." in parts[0]:
            return parts[0], unicodedata.normalize("NFC", parts[1])
    return unicodedata.normalize("NFC", text).lower()


def text_forms(text: str) -> tuple[str, ...]:
    """A word or path as written and, when not ASCII, percent-encoded in lowercase: crawled
    URLs carry either form, and the URL side is lowercased before matching."""
    if text.isascii():
        return (text,)
    return (text, quote(text, safe="/%?=&;:+,@!$'()*~").lower())


@dataclass
class ListBuilder:
    """Collects list lines on the driver; ``build()`` gives the compact ``UrlLists``.

    An entry listed in two categories keeps the first: add categories in the user's order.
    """

    categories: list[str] = field(default_factory=list)
    domains: dict[str, int] = field(default_factory=dict)
    prefixes: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    words: dict[str, int] = field(default_factory=dict)
    allow_domains: set[str] = field(default_factory=set)
    allow_prefixes: dict[str, list[str]] = field(default_factory=dict)
    skipped: int = 0
    skipped_examples: list[str] = field(default_factory=list)

    def _category(self, name: str) -> int:
        if name not in self.categories:
            self.categories.append(name)
        return self.categories.index(name)

    def _skip(self, source: str, line: str) -> None:
        self.skipped += 1
        if len(self.skipped_examples) < 5:
            self.skipped_examples.append(f"{source}: {line.strip()[:80]!r}")

    def add_domains(self, lines: Iterable[str], category: str, source: str = "") -> None:
        cat = self._category(category)
        for line, text in _entries(lines):
            host = domain_entry(text)
            if host is None:
                self._skip(source, line)
            else:
                self.domains.setdefault(host, cat)

    def add_urls(self, lines: Iterable[str], category: str, source: str = "") -> None:
        cat = self._category(category)
        for line, text in _entries(lines):
            entry = url_entry(text)
            if any(ch.isspace() for ch in text):  # a URL has no spaces: a line of several fields
                self._skip(source, line)
            elif isinstance(entry, tuple):
                for form in text_forms(entry[1]):
                    self.prefixes.setdefault(entry[0], []).append((form, cat))
            else:
                for form in text_forms(entry):
                    self.words.setdefault(form, cat)

    def add_allowed(self, lines: Iterable[str], source: str = "") -> None:
        for line, text in _entries(lines):
            host = domain_entry(text)
            entry = url_entry(text) if host is None else None
            if host is not None:
                self.allow_domains.add(host)
            elif isinstance(entry, tuple):
                self.allow_prefixes.setdefault(entry[0], []).extend(text_forms(entry[1]))
            else:  # a word cannot allow: it would let anything through that mentions it
                self._skip(source, line)

    def build(self) -> UrlLists:
        hosts = sorted(self.domains)
        hashes = np.array([host_hash(h) for h in hosts], dtype=np.uint64)
        cats = np.array([self.domains[h] for h in hosts], dtype=np.uint16)
        order = np.argsort(hashes, kind="stable")
        allow = np.unique(np.array([host_hash(h) for h in self.allow_domains], dtype=np.uint64))
        return UrlLists(
            categories=tuple(self.categories),
            block_hashes=hashes[order],
            block_cats=cats[order],
            allow_hashes=allow,
            prefixes={h: tuple(sorted(set(v))) for h, v in sorted(self.prefixes.items())},
            words=dict(sorted(self.words.items())),
            allow_prefixes={
                h: tuple(sorted(set(v))) for h, v in sorted(self.allow_prefixes.items())
            },
        )


# -- the compact lists and the batch verdict ---------------------------------------------------


@dataclass
class UrlLists:
    """Everything a worker needs to judge URLs, as saved in one ``.npz`` file."""

    categories: tuple[str, ...]
    block_hashes: np.ndarray  # uint64, sorted: hashes of blocked domains
    block_cats: np.ndarray  # uint16, aligned: category index of each
    allow_hashes: np.ndarray  # uint64, sorted: hashes of allowed domains
    prefixes: dict[str, tuple[tuple[str, int], ...]]  # host -> (path prefix, category)
    words: dict[str, int]  # word -> category
    allow_prefixes: dict[str, tuple[str, ...]]  # host -> path prefixes
    _regexes: list[str] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        words = sorted(self.words, key=lambda w: (-len(w), w))  # longer first: the more telling
        self._regexes = [
            "(?P<w>" + "|".join(_re2_literal(w) for w in words[i : i + _WORDS_PER_REGEX]) + ")"
            for i in range(0, len(words), _WORDS_PER_REGEX)
        ]

    @property
    def blocks_nothing(self) -> bool:
        return not (len(self.block_hashes) or self.prefixes or self.words)

    def sizes(self) -> dict[str, int]:
        return {
            "blocked_domains": len(self.block_hashes),
            "blocked_url_prefixes": sum(len(v) for v in self.prefixes.values()),
            "blocked_words": len(self.words),
            "allowed_domains": len(self.allow_hashes),
            "allowed_url_prefixes": sum(len(v) for v in self.allow_prefixes.values()),
        }

    # -- file form ---------------------------------------------------------------------------

    def _meta(self) -> bytes:
        body = {
            "categories": self.categories,
            "prefixes": self.prefixes,
            "words": self.words,
            "allow_prefixes": self.allow_prefixes,
        }
        return json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8")

    def fingerprint(self) -> str:
        """A digest of the content: equal lists give equal file names (shipped once)."""
        h = xxhash.xxh3_128()
        for part in (self.block_hashes, self.block_cats, self.allow_hashes):
            h.update(part.tobytes())
        h.update(self._meta())
        return h.hexdigest()[:20]

    def save(self, path: str) -> None:
        with open(path, "wb") as fh:
            np.savez(
                fh,
                block_hashes=self.block_hashes,
                block_cats=self.block_cats,
                allow_hashes=self.allow_hashes,
                meta=np.frombuffer(self._meta(), dtype=np.uint8),
            )

    @classmethod
    def load(cls, path: str) -> UrlLists:
        with np.load(path) as z:
            meta = json.loads(z["meta"].tobytes().decode("utf-8"))
            return cls(
                categories=tuple(meta["categories"]),
                block_hashes=z["block_hashes"],
                block_cats=z["block_cats"],
                allow_hashes=z["allow_hashes"],
                prefixes={h: tuple((p, c) for p, c in v) for h, v in meta["prefixes"].items()},
                words=meta["words"],
                allow_prefixes={h: tuple(v) for h, v in meta["allow_prefixes"].items()},
            )

    # -- verdicts ----------------------------------------------------------------------------

    def check(self, url: str | None) -> tuple[str, str | None, str | None]:
        """(status, category, matched entry) of one URL, through the batch path."""
        out = self.classify(pa.array([url], type=pa.string()))
        return out["status"][0].as_py(), out["category"][0].as_py(), out["match"][0].as_py()

    def classify(self, urls: pa.Array | pa.ChunkedArray) -> dict[str, pa.Array]:
        """Status, block category and matched entry of every URL in a batch.

        Vectorised where it pays: the split into host and path is one RE2 pass, hosts are
        judged once per distinct authority, and words are one RE2 alternation over the batch.
        """
        if isinstance(urls, pa.ChunkedArray):
            urls = urls.combine_chunks()
        urls = pc.utf8_trim_whitespace(urls.cast(pa.string()))
        n = len(urls)
        code = np.full(n, _UNDECIDED, dtype=np.int8)
        cat = np.full(n, -1, dtype=np.int32)
        match = np.full(n, None, dtype=object)
        absent = pc.fill_null(pc.equal(pc.utf8_length(urls), 0), True)
        code[absent.to_numpy(zero_copy_only=False)] = _CODE[MISSING]

        no_host = pc.fill_null(pc.match_substring_regex(urls, _NO_HOST), False)
        code[no_host.to_numpy(zero_copy_only=False) & (code == _UNDECIDED)] = _CODE[UNPARSEABLE]
        parts = pc.extract_regex(urls, _SPLIT)
        auth = pc.dictionary_encode(parts.field("auth"))
        rest = pc.utf8_lower(parts.field("rest"))
        idx = pc.fill_null(auth.indices, 0).to_numpy(zero_copy_only=False).astype(np.int64)
        hosts = [host_of_authority(a) for a in auth.dictionary.to_pylist()]
        u_code, u_cat, u_match, u_prefix = self._judge_hosts(hosts)
        live = code == _UNDECIDED
        code[live] = u_code[idx[live]]
        cat[live] = u_cat[idx[live]]
        match[live] = u_match[idx[live]]

        host_of_row = np.array([*hosts, None], dtype=object)[np.where(live, idx, len(hosts))]
        # An allow prefix may rescue a blocked domain; a block prefix needs an undecided row.
        open_rows = live & ((code == _UNDECIDED) | (code == _CODE[BLOCKED_DOMAIN]))
        for i in np.flatnonzero(open_rows & u_prefix[idx]):
            self._judge_prefixes(int(i), host_of_row[i], rest[i].as_py(), code, cat, match)
        self._judge_words(host_of_row, rest, code, cat, match)
        code[code == _UNDECIDED] = _CODE[CLEAN]
        names = pa.array((*self.categories, ""), type=pa.string())
        return {
            "status": pc.take(pa.array(STATUSES, type=pa.string()), pa.array(code)),
            "category": pc.take(names, pa.array(cat, mask=cat < 0)),
            "match": pa.array(match, type=pa.string()),
        }

    def _judge_hosts(
        self, hosts: list[str | None]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per distinct host: allowed / blocked domain / unparseable or undecided, the category
        and matched domain, and whether a URL prefix entry sits on the host or a parent."""
        m = len(hosts)
        u_code = np.full(m, _UNDECIDED, dtype=np.int8)
        u_cat = np.full(m, -1, dtype=np.int32)
        u_match = np.full(m, None, dtype=object)
        u_prefix = np.zeros(m, dtype=bool)
        owner, names = [], []
        with_prefixes = bool(self.prefixes or self.allow_prefixes)
        for i, host in enumerate(hosts):
            if host is None:
                u_code[i] = _CODE[UNPARSEABLE]
                continue
            for name in parent_domains(host):
                owner.append(i)
                names.append(name)
                if with_prefixes and (name in self.prefixes or name in self.allow_prefixes):
                    u_prefix[i] = True
        if not names:
            return u_code, u_cat, u_match, u_prefix
        owner_a = np.array(owner, dtype=np.int64)
        hashes = np.array([host_hash(s) for s in names], dtype=np.uint64)
        for table, status in ((self.allow_hashes, ALLOWED), (self.block_hashes, BLOCKED_DOMAIN)):
            if not len(table):
                continue
            pos = np.minimum(np.searchsorted(table, hashes), len(table) - 1)
            rows = np.flatnonzero((table[pos] == hashes) & (u_code[owner_a] == _UNDECIDED))
            # Parents come most specific first, so a host's first hit names the closest entry.
            for r in rows[np.unique(owner_a[rows], return_index=True)[1]]:
                u_code[owner_a[r]] = _CODE[status]
                u_match[owner_a[r]] = names[r]
                if status == BLOCKED_DOMAIN:
                    u_cat[owner_a[r]] = int(self.block_cats[pos[r]])
        return u_code, u_cat, u_match, u_prefix

    def _judge_prefixes(self, i: int, host: str, rest: str | None, code, cat, match) -> None:
        """Host-anchored URL entries for row ``i``: an allow prefix first, then block prefixes."""
        path = _path(rest or "")
        for name in parent_domains(host):
            hit = next((p for p in self.allow_prefixes.get(name, ()) if path.startswith(p)), None)
            if hit is not None:
                code[i], cat[i], match[i] = _CODE[ALLOWED], -1, name + hit
                return
        if code[i] != _UNDECIDED:
            return
        for name in parent_domains(host):
            found = next((e for e in self.prefixes.get(name, ()) if path.startswith(e[0])), None)
            if found is not None:
                code[i], cat[i], match[i] = _CODE[BLOCKED_SUBSTRING], found[1], name + found[0]
                return

    def _judge_words(self, host_of_row, rest, code, cat, match) -> None:
        """Words: one RE2 alternation (per 500 words) over host + path of undecided rows."""
        rows = np.flatnonzero(code == _UNDECIDED)
        if not self._regexes or not len(rows):
            return
        take = pa.array(rows)
        text = pc.binary_join_element_wise(
            pa.array(host_of_row[rows], type=pa.string()), pc.take(rest, take), ""
        )
        for regex in self._regexes:
            hit = pc.fill_null(pc.match_substring_regex(text, regex), False)
            if not pc.any(hit).as_py():
                continue
            found = pc.extract_regex(pc.filter(text, hit), regex).field("w").to_pylist()
            where = rows[hit.to_numpy(zero_copy_only=False)]
            for i, word in zip(where, found, strict=True):
                code[i], cat[i], match[i] = _CODE[BLOCKED_SUBSTRING], self.words[word], word
            keep = ~hit.to_numpy(zero_copy_only=False)
            rows, text = rows[keep], pc.filter(text, pc.invert(hit))
            if not len(rows):
                return


def _re2_literal(word: str) -> str:
    """``word`` as an RE2 literal (RE2 rejects some escapes Python's re.escape writes)."""
    return "".join("\\" + ch if ch in r"\.+*?()|[]{}^$" else ch for ch in word)
