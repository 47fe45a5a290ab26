"""URL block lists: canonical hosts, subdomain and prefix matching, the allow list, words."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from curation.text import urls as U


def lists(domains=(), urls=(), allow=(), category="adult") -> U.UrlLists:
    b = U.ListBuilder()
    b.add_domains(domains, category)
    b.add_urls(urls, category)
    b.add_allowed(allow)
    return b.build()


# ---- canonical hosts ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling",
    [
        "example.com",
        "EXAMPLE.Com",
        "www.example.com",
        "example.com.",
        "WWW.Example.COM.",
        "example%2Ecom",
    ],
)
def test_spellings_of_one_host_meet(spelling):
    assert U.canonical_host(spelling) == "example.com"


@pytest.mark.parametrize(
    "authority, host",
    [
        ("example.com:8080", "example.com"),
        ("user:secret@example.com", "example.com"),
        ("user@www.example.com:443", "example.com"),
        ("evil.test@example.com", "example.com"),  # the host is what follows the last "@"
        ("example.com:", "example.com"),
        ("[2001:DB8::1]:80", "[2001:db8::1]"),
        ("192.0.2.1:8080", "192.0.2.1"),
    ],
)
def test_authority_loses_userinfo_and_port(authority, host):
    assert U.host_of_authority(authority) == host


@pytest.mark.parametrize(
    "authority",
    ["", "exa mple.com", "a..b", "example.com:80x", "x" * 64 + ".com", "[::1", "xn--zz", "a/b"],
)
def test_what_is_not_a_host(authority):
    assert U.host_of_authority(authority) is None


def test_www_alone_is_a_name():
    assert U.canonical_host("www.com") == "www.com"
    assert U.canonical_host("www") == "www"
    assert U.canonical_host("www2.example.com") == "www2.example.com"


def test_unicode_and_punycode_spellings_meet():
    ascii_form = "xn--bcher-kva.de"
    for spelling in ("bücher.de", "BÜCHER.DE", "bu\u0308cher.de", "bücher\u3002de", ascii_form):
        assert U.canonical_host(spelling) == ascii_form, spelling
    assert U.canonical_host("XN--BCHER-KVA.DE") == ascii_form
    # An xn-- label must stand for a non-ASCII name; "xn--abc-" decodes to plain "abc".
    assert U.canonical_host("xn--abc-.de") is None


def test_sharp_s_is_its_own_letter_as_in_idna2008():
    # IDNA2003 (Python's "idna" codec) mapped ß to ss; IDNA2008, browsers and DENIC since 2010
    # treat straße.de and strasse.de as two domains.
    assert U.canonical_host("straße.de") == "xn--strae-oqa.de"
    assert lists(domains=["straße.de"]).check("strasse.de")[0] == U.CLEAN


def test_punycode_both_ways_in_lists():
    by_unicode = lists(domains=["bücher.de"])
    by_ascii = lists(domains=["xn--bcher-kva.de"])
    for url in ("http://shop.xn--bcher-kva.de/x", "https://shop.Bücher.de/x"):
        assert by_unicode.check(url)[0] == U.BLOCKED_DOMAIN, url
        assert by_ascii.check(url)[0] == U.BLOCKED_DOMAIN, url


# ---- domains --------------------------------------------------------------------------------


def test_subdomains_blocked_lookalikes_not():
    lst = lists(domains=["example.com"])
    for url in ("example.com", "http://a.b.example.com/x?y", "//example.com", "a.example.com:81"):
        assert lst.check(url) == (U.BLOCKED_DOMAIN, "adult", "example.com"), url
    for url in ("badexample.com", "example.com.evil.test", "example.co", "http://com/"):
        assert lst.check(url)[0] == U.CLEAN, url


def test_the_closest_entry_is_reported():
    b = U.ListBuilder()
    b.add_domains(["example.com"], "gambling")
    b.add_domains(["shop.example.com"], "adult")
    lst = b.build()
    assert lst.check("x.shop.example.com") == (U.BLOCKED_DOMAIN, "adult", "shop.example.com")
    assert lst.check("other.example.com") == (U.BLOCKED_DOMAIN, "gambling", "example.com")


def test_an_entry_in_two_categories_keeps_the_first():
    b = U.ListBuilder()
    b.add_domains(["both.test"], "adult")
    b.add_domains(["both.test"], "gambling")
    assert b.build().check("both.test")[1] == "adult"


def test_an_address_covers_only_itself():
    lst = lists(domains=["192.0.2.1"])
    assert lst.check("http://192.0.2.1:8080/x")[0] == U.BLOCKED_DOMAIN
    assert lst.check("http://5.192.0.2.1/x")[0] == U.CLEAN


def test_list_syntax():
    b = U.ListBuilder()
    b.add_domains(
        [
            "# a comment",
            "",
            "0.0.0.0 hosts-file.test",
            "*.wildcard.test",
            ".leading-dot.test",
            "http://With-Scheme.test/",
            "trailing.test # note",
            "has.test/a/path",  # a URL entry in a domains file: refused, counted
            "not a domain",  # several fields: refused, counted
        ],
        "adult",
        "domains",
    )
    lst = b.build()
    for host in ("hosts-file.test", "x.wildcard.test", "leading-dot.test", "with-scheme.test"):
        assert lst.check(host)[0] == U.BLOCKED_DOMAIN, host
    assert lst.check("trailing.test")[0] == U.BLOCKED_DOMAIN
    assert lst.check("has.test/a/path")[0] == U.CLEAN
    assert b.skipped == 2 and "has.test/a/path" in b.skipped_examples[0]
    assert lst.check("not")[0] == U.CLEAN


# ---- URL entries, words and the allow list --------------------------------------------------


def test_url_entries_are_host_anchored_prefixes():
    lst = lists(urls=["free-hosting.test/~adult/", "http://www.Photos.test/Albums/NSFW/"])
    blocked = [
        "http://free-hosting.test/~adult/page.html",
        "free-hosting.test/~adult/",
        "eu.free-hosting.test/~adult/x",
        "photos.test/albums/nsfw/1",
        "https://user@WWW.PHOTOS.TEST:8080/Albums/NSFW/2",
    ]
    for url in blocked:
        assert lst.check(url)[0] == U.BLOCKED_SUBSTRING, url
    assert lst.check(blocked[0])[2] == "free-hosting.test/~adult/"
    for url in ("free-hosting.test/~adults", "notfree-hosting.test/~adult/", "photos.test/albums"):
        assert lst.check(url)[0] == U.CLEAN, url


def test_words_match_anywhere_in_host_and_path():
    lst = lists(urls=["casino", "/wp-adult/", "порно"])
    assert lst.check("http://bestCasino.test/") == (U.BLOCKED_SUBSTRING, "adult", "casino")
    assert lst.check("news.test/2020/Casino-Royale")[0] == U.BLOCKED_SUBSTRING
    assert lst.check("blog.test/wp-adult/x")[2] == "/wp-adult/"
    # The query counts, the fragment does not (it never reaches the server).
    assert lst.check("search.test/?q=casino")[0] == U.BLOCKED_SUBSTRING
    assert lst.check("search.test/page#casino")[0] == U.CLEAN
    # A non-ASCII word matches as written and percent-encoded, whatever the hex case.
    assert lst.check("x.test/порно")[0] == U.BLOCKED_SUBSTRING
    assert lst.check("x.test/%D0%BF%D0%BE%D1%80%D0%BD%D0%BE")[0] == U.BLOCKED_SUBSTRING


def test_many_words_are_split_across_regexes():
    words = [f"w{i:05d}x" for i in range(2 * U._WORDS_PER_REGEX + 10)]
    lst = lists(urls=words)
    assert len(lst._regexes) == 3
    middle = words[U._WORDS_PER_REGEX + 1]  # in the second regex
    urls = [f"a.test/{words[3]}", f"b.test/{words[-1]}", "c.test/none", f"d.test/{middle}"]
    got = lst.classify(pa.array(urls))
    assert got["status"].to_pylist() == [U.BLOCKED_SUBSTRING] * 2 + [U.CLEAN, U.BLOCKED_SUBSTRING]
    assert got["match"].to_pylist() == [words[3], words[-1], None, middle]


def test_regex_characters_in_words_are_literal():
    lst = lists(urls=["a.b", "(x)", "c+d", "[e]", "f|g", "h?i", "^j$", "k\\l"])
    assert lst.check("t.test/axb")[0] == U.CLEAN
    for hit in ("a.b", "(x)", "c+d", "[e]", "f|g", "h?i", "^j$", "k\\l"):
        assert lst.check("t.test/" + hit)[2] == hit, hit


def test_allow_list_overrides_every_block():
    lst = lists(
        domains=["example.com"],
        urls=["casino", "example.com/games/"],
        allow=["good.example.com", "example.com/help/", "#comment", "casino-news.test"],
    )
    assert lst.check("http://good.example.com/casino") == (U.ALLOWED, None, "good.example.com")
    assert lst.check("http://x.good.example.com/")[0] == U.ALLOWED
    assert lst.check("example.com/help/casino")[0:3:2] == (U.ALLOWED, "example.com/help/")
    assert lst.check("casino-news.test/")[0] == U.ALLOWED
    assert lst.check("example.com/games/1")[0] == U.BLOCKED_DOMAIN
    assert lst.check("bad.example.com/help")[0] == U.BLOCKED_DOMAIN


def test_allow_entries_are_domains_or_prefixes_never_words():
    b = U.ListBuilder()
    # "wiki" reads as a domain (the .wiki TLD); a path alone or a phrase allows nothing.
    b.add_allowed(["wiki", "/wiki/", "free speech"], "allow.txt")
    assert b.skipped == 2
    lst = b.build()
    assert lst.check("en.example.wiki/a")[0] == U.ALLOWED
    assert lst.check("wiki.example.com/wiki/")[0] == U.CLEAN


def test_a_single_label_entry_blocks_a_top_level_domain():
    lst = lists(domains=["xxx"])
    assert lst.check("http://a.b.xxx/")[0] == U.BLOCKED_DOMAIN
    assert lst.check("http://xxx.com/")[0] == U.CLEAN


def test_missing_and_unparseable_urls():
    lst = lists(domains=["example.com"])
    for url in (None, "", "   "):
        assert lst.check(url) == (U.MISSING, None, None), url
    for url in (
        "javascript:void(0)",
        "mailto:someone@example.com",  # no host, though it reads like user@host
        "DATA:text/html,x",
        "http://exa mple.com/",
        "/relative/path",
        "http://:80/",
    ):
        assert lst.check(url)[0] == U.UNPARSEABLE, url
    # Without a scheme the URL still has a host.
    assert lst.check("  example.com/x ")[0] == U.BLOCKED_DOMAIN


def test_classify_keeps_rows_in_order_with_nulls_and_chunks():
    lst = lists(domains=["example.com"], urls=["casino"])
    chunked = pa.chunked_array([["example.com", None], ["casino.test", "ok.test", ""]])
    got = lst.classify(chunked)
    assert got["status"].to_pylist() == [
        U.BLOCKED_DOMAIN,
        U.MISSING,
        U.BLOCKED_SUBSTRING,
        U.CLEAN,
        U.MISSING,
    ]
    assert got["category"].to_pylist() == ["adult", None, "adult", None, None]


def test_empty_lists_block_nothing():
    lst = lists()
    assert lst.blocks_nothing
    assert lst.check("casino.example.com")[0] == U.CLEAN


def test_file_round_trip(tmp_path):
    a = lists(domains=["example.com", "bücher.de"], urls=["x.test/p/", "casino"], allow=["ok.test"])
    path = str(tmp_path / "l.npz")
    a.save(path)
    b = U.UrlLists.load(path)
    urls = ["a.example.com", "xn--bcher-kva.de", "x.test/p/1", "casino.test", "ok.test", "n.test"]
    for url in urls:
        assert a.check(url) == b.check(url), url
    assert a.fingerprint() == b.fingerprint()
    assert a.fingerprint() != lists(domains=["example.com"]).fingerprint()


# ---- properties -----------------------------------------------------------------------------

LABEL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12).filter(
    lambda s: not s.startswith("-") and not s.endswith("-") and not s.startswith("xn--")
)
DOMAIN = (
    st.lists(LABEL, min_size=2, max_size=4)
    .map(".".join)
    .filter(lambda d: not d.startswith("www.") and not U._IPV4.fullmatch(d))
)
SUBDOMAIN = st.lists(LABEL, min_size=0, max_size=3).map(lambda ls: "".join(x + "." for x in ls))


@st.composite
def spelled(draw, host: str) -> str:
    """``host`` inside a URL as crawls write it: scheme or not, www, case, userinfo, port..."""
    if draw(st.booleans()):
        host = "www." + host
    host = "".join(c.upper() if draw(st.booleans()) else c for c in host)
    if draw(st.booleans()):
        host += "."
    if draw(st.booleans()):
        host = "user:pw@" + host
    if draw(st.booleans()):
        host += ":" + str(draw(st.integers(0, 65535)))
    scheme = draw(st.sampled_from(["", "http://", "https://", "//", "HTTP://"]))
    path = draw(st.sampled_from(["", "/", "/a/b?c=d", "?q", "/x#frag"]))
    return scheme + host + path


@given(st.data(), DOMAIN, SUBDOMAIN)
@settings(max_examples=200, deadline=None)
def test_any_subdomain_of_a_blocked_domain_is_blocked(data, domain, sub):
    assume(not U._IPV4.fullmatch(sub + domain))  # an address is not under a domain
    url = data.draw(spelled(sub + domain))
    assert lists(domains=[domain]).check(url) == (U.BLOCKED_DOMAIN, "adult", domain)


@given(st.data(), DOMAIN, LABEL)
@settings(max_examples=200, deadline=None)
def test_a_name_ending_like_a_blocked_domain_is_not_under_it(data, domain, glued):
    assume(not (glued + domain).startswith("www."))
    url = data.draw(spelled(glued + domain))
    assert lists(domains=[domain]).check(url)[0] == U.CLEAN


@given(st.data(), DOMAIN, SUBDOMAIN, st.lists(LABEL, max_size=3))
@settings(max_examples=200, deadline=None)
def test_an_allowed_domain_is_never_blocked(data, domain, sub, words):
    assume(not U._IPV4.fullmatch(sub + domain))
    url = data.draw(spelled(sub + domain))
    # Every kind of block aimed at it: the domain, its parent, words taken from the URL itself.
    parent = domain.split(".", 1)[1]
    lst = lists(domains=[domain, parent], urls=[*words, domain + "/", url.lower()], allow=[domain])
    assert lst.check(url)[0] == U.ALLOWED


@given(st.data(), DOMAIN)
@settings(max_examples=200, deadline=None)
def test_spelling_never_changes_the_host(data, domain):
    host = U.split_url(data.draw(spelled(domain)))
    assert host is not None and host[0] == domain


# Letters whose IDNA mapping is plain lowercasing (no ß/ς-style special cases).
IDN_LETTERS = "abcdefghijklmnopqrstuvwxyz0123456789äöüéèñçøåæœÄÖÜÉабвгдежзийАБВαβγδεζΑΒ"


@given(st.lists(st.text(alphabet=IDN_LETTERS, min_size=1, max_size=10), min_size=2, max_size=3))
@settings(max_examples=300, deadline=None)
def test_unicode_hosts_encode_as_idna_does(labels):
    idna = pytest.importorskip("idna")
    host = ".".join(labels)
    try:
        expected = idna.encode(host, uts46=True, transitional=False).decode("ascii")
    except idna.IDNAError:
        assume(False)
    assume(not expected.startswith("www."))
    assert U.canonical_host(host) == expected
    assert U.canonical_host(expected) == expected  # and back: the xn-- form is its own canon
    assert lists(domains=[expected]).check("http://a." + host + "/")[0] == U.BLOCKED_DOMAIN
    assert lists(domains=[host]).check("http://a." + expected + "/")[0] == U.BLOCKED_DOMAIN
