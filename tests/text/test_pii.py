"""The PII kernel (pure Python, no Spark): what is found, what is deliberately not, redaction."""

from __future__ import annotations

import ipaddress
import json
import re

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from curation.text.pii import CANDIDATES, KINDS, PiiParams, count_kinds, find_pii, redact
from curation.text.pii_checks import TEST_CARDS, iban_ok, luhn_ok

DEFAULT = PiiParams()


def found(text: str, params: PiiParams = DEFAULT) -> list[tuple[str, str]]:
    return [(s.kind, text[s.start : s.end]) for s in find_pii(text, params)]


# -- generators of valid values (the checksums computed here, independently of the kernel) -----

# (issuer prefix, length) pairs as the networks publish them
CARD_SHAPES = [
    ("4", 16), ("4", 13), ("51", 16), ("55", 16), ("2221", 16), ("2720", 16), ("34", 15),
    ("37", 15), ("6011", 16), ("65", 16), ("3530", 16), ("36", 14), ("62", 16), ("62", 19),
]  # fmt: skip


def luhn_complete(body: str) -> str:
    """``body`` plus the check digit that makes the Luhn sum a multiple of 10."""
    for d in "0123456789":
        if luhn_ok(body + d):
            return body + d
    raise AssertionError("unreachable")


@st.composite
def cards(draw) -> str:
    prefix, length = draw(st.sampled_from(CARD_SHAPES))
    body = prefix + "".join(
        draw(st.lists(st.sampled_from("0123456789"), min_size=length - len(prefix) - 1,
                      max_size=length - len(prefix) - 1))
    )  # fmt: skip
    return luhn_complete(body)


def printed_card(number: str, style: str) -> str:
    if style == "compact":
        return number
    if len(number) == 15:  # American Express: 4-6-5
        return " ".join((number[:4], number[4:10], number[10:]))
    sep = " " if style == "spaces" else "-"
    return sep.join(number[i : i + 4] for i in range(0, len(number), 4))


IBAN_COUNTRIES = {"DE": 22, "GB": 22, "FR": 27, "ES": 24, "IT": 27, "NL": 18, "BE": 16, "PL": 28}


@st.composite
def ibans(draw) -> str:
    country = draw(st.sampled_from(sorted(IBAN_COUNTRIES)))
    n = IBAN_COUNTRIES[country] - 4
    bban = "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=n, max_size=n)))
    digits = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{country}{98 - int(digits) % 97:02d}{bban}"


def grouped(code: str) -> str:
    return " ".join(code[i : i + 4] for i in range(0, len(code), 4))


# -- what is found ------------------------------------------------------------------------------


@given(cards(), st.sampled_from(["compact", "spaces", "dashes"]))
@settings(max_examples=150, deadline=None)
def test_every_valid_card_is_found_whole_and_a_wrong_check_digit_is_not(number, style):
    assume(number not in TEST_CARDS)
    text = f"Paid with {printed_card(number, style)} on Friday."
    assert found(text) == [("credit_card", printed_card(number, style))]
    last = number[-1]
    wrong = number[:-1] + str((int(last) + 1) % 10)
    assert not any(k == "credit_card" for k, _ in found(f"Paid with {printed_card(wrong, style)}."))


@given(ibans(), st.booleans(), st.integers(min_value=4, max_value=15), st.data())
@settings(max_examples=150, deadline=None)
def test_every_valid_iban_is_found_and_any_one_changed_digit_is_not(code, spaced, pos, data):
    assert iban_ok(code)
    shown = grouped(code) if spaced else code
    assert found(f"Transfer to {shown} by Monday.") == [("iban", shown)]
    # ISO 7064 mod 97-10 catches every single substitution
    new = data.draw(st.sampled_from([d for d in "0123456789" if d != code[pos]]))
    broken = code[:pos] + new + code[pos + 1 :]
    assert found(f"Transfer to {grouped(broken) if spaced else broken} by Monday.") == []


@given(st.tuples(*[st.integers(0, 255)] * 4))
@settings(max_examples=200, deadline=None)
def test_ipv4_is_found_exactly_when_public(octets):
    ip = ".".join(map(str, octets))
    assume(max(octets) >= 10)  # four single digits read as a version or section number
    addr = ipaddress.IPv4Address(ip)
    public = addr.is_global and not addr.is_multicast
    text = f"The server at {ip} answered."
    assert found(text) == ([("ipv4", ip)] if public else [])
    assert found(text, PiiParams(public_ips_only=False, allow_examples=False)) == [("ipv4", ip)]


@pytest.mark.parametrize(
    "number",
    [
        "+1 (415) 867-5309",
        "(415) 867-5309",
        "415-867-5309",
        "415.867.5309",
        "1-800-867-5309",
        "+14158675309",
        "+44 20 7946 0958",
        "+44 (0)20 7946 0958",
        "020 7946 0958",
        "07700 900123",
        "+49 30 12345678",
        "030 12345678",
        "089/1234567",
        "+33 1 23 45 67 89",
        "01 23 45 67 89",
        "+91 98765 43210",
        "+55 11 91234-5678",
        "(11) 91234-5678",
        "+81 3-1234-5678",
        "03-1234-5678",
        "+61 2 9876 5432",
        "+234 803 123 4567",
        "0044 20 7946 0958",
        "+353-87-240-6691",
        "050-255-4380",
        "(029) 92771",
    ],
)
def test_phone_formats_with_and_without_country_code(number):
    assert found(f"For bookings ring {number} after six.") == [("phone", number)]


def test_phone_words_admit_bare_national_numbers_only_next_to_them():
    assert found("Tel: 5123 4567") == [("phone", "5123 4567")]
    assert found("In 5123 4567 cases the test passed.") == []


def test_a_number_run_together_with_a_word_counts_only_when_its_shape_says_phone():
    assert found("Voice/Fax-253-660-3853 (30 secs)") == [("phone", "253-660-3853")]
    assert found("fax your order to1-415-873-2700 now") == [("phone", "1-415-873-2700")]
    assert found("Phone-0171 1234567 today") == [("phone", "0171 1234567")]  # by the word
    assert found("order ID12345678 shipped") == []
    assert found("batch AB07-1234567 shipped") == []


def test_ssn_dashed_or_after_the_word_and_never_an_unissued_one():
    assert found("SSN 536-22-1234 on file") == [("ssn", "536-22-1234")]
    assert found("social security number: 536221234") == [("ssn", "536221234")]
    assert found("the code 536221234 on file") == []


def test_a_bare_nine_digit_number_is_an_ssn_unless_something_says_otherwise():
    assert found("The form listed 536221234 in box 3.") == [("ssn", "536221234")]
    assert found("The form listed 536221234 in box 3.", PiiParams(bare_ssn=False)) == []
    for other in (
        "ICQ: 132152059 | more",  # a label of another identifier
        "order # 536221234 shipped",
        "paid $536221234 in total",
        "stamps 1028070983 536221234 1013296719 in the log",  # one of a list of numbers
        "ratio 536221234.5 measured",  # part of a longer number
        "tag 536221234abc",
        "The form listed 912345678 in box 3.",  # area 9xx was never issued
    ):
        assert found(other) == [], other
    # words that say phone win over the bare-SSN reading
    assert found("Ring 536221234 after six.") == [("phone", "536221234")]


@pytest.mark.parametrize(
    ("cue", "number"),
    [
        ("They can be reached at", "6145 6154"),
        ("Ring", "40 16 09 32"),
        ("The office answers at", "21 228 5614"),
        ("Bookings on", "912 082 657"),
        ("Reservations:", "810 07 29 80"),
    ],
)
def test_prose_that_says_ring_this_number_makes_a_national_number_a_phone(cue, number):
    assert found(f"{cue} {number} after six.") == [("phone", number)]
    # the same digits without the words are any four numbers
    assert found(f"The counts were {number} after six.") == []
    for unissued in ("000-12-3456", "666-12-3456", "912-34-5678", "536-00-1234", "536-22-0000"):
        assert found(f"SSN {unissued} on file") == [], unissued


@pytest.mark.parametrize(
    "number",
    ["1-888-GET-PAID", "(877) 726-LAMP", "1.866.SUN.TREE", "1-800-CARPETS", "844 REN-TALS"],
)
def test_toll_free_numbers_spelled_with_letters_are_phones(number):
    assert found(f"Order now: {number} (24 hours).") == [("phone", number)]


@pytest.mark.parametrize(
    "text",
    [
        "Model 800-XYZ-1234 ships today.",  # letters first, digits where the letters would go
        "Call 1-800-get-paid today.",  # lowercase: any hyphenated words
        "Code FX800-ABC-DEFG in the log.",  # glued to a word
        "Only 1-800-NOW is listed.",  # too short for seven digits
        "Route 866 TO BOSTON closes.",  # fewer than seven letters and digits
    ],
)
def test_letters_after_a_toll_free_code_are_not_always_a_number(text):
    assert found(text) == []


@pytest.mark.parametrize(
    "number", ["1 - 8 8 8 - 4 1 2 - 7 7 0 3", "(7 1 8) 4 4 1-2 0 9 3", "0 2 0 - 8 1 3 5 - 2 2 6 4"]
)
def test_a_phone_number_spaced_out_digit_by_digit_is_found_whole(number):
    assert found(f"Questions?\n{number}\nAny time.") == [("phone", number)]


@pytest.mark.parametrize(
    "text",
    [
        "Digits 1 2 3 4 5 6 7 8 9 0 1 in a row.",  # no groups
        "Scores 3 1 4 - 1 5 9 - 2 6 5 3 today.",  # 3-3-4, but no NANP area code starts with 3 1 4 1
        "Grid 1 - 0 - 1 - 1 - 0 - 0 - 1 - 0 here.",  # groups of one digit
    ],
)
def test_digits_spaced_out_without_a_phone_shape_are_left_alone(text):
    assert found(text) == []


def test_a_tel_key_of_a_form_mail_admits_the_number_after_the_equals_sign():
    assert found("FROM=JOHN OKAFOR\n\nTel=234-9-461-3058\n") == [("phone", "234-9-461-3058")]
    assert found("Fax=+44 161 496 0732\nDear") == [("phone", "+44 161 496 0732")]
    for other in (
        "http://shop.test/buy?tel=4158675309&x=1",  # a URL query value
        "see page.cgi?id=7&fax=415-867-5309",
        "hotel=415-867-5309",  # a longer key
        "id=415-867-5309",  # no phone key at all
    ):
        assert found(other) == [], other


def test_quoted_printable_dots_stay_inside_an_address():
    text = 'href=3D"mailto:ann=2Elee@mailhost=2Enet?subject=3Dstop">'
    assert found(text) == [("email", "ann=2Elee@mailhost=2Enet")]
    assert found("write to user@example=2Ecom)") == []  # still an example domain
    assert found("dots only =2E=2E@host=2Enet") == []  # no local part


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mail bob.smith+news@mail.co.uk.", "bob.smith+news@mail.co.uk"),
        ("mailto:jo@corp.io?subject=hi", "jo@corp.io"),
        ("remove.cgi?x=list%2Cbob@host.org", "bob@host.org"),
        ("list listwebmake-talk@lists.sf.nethttps://lists.sf.net", "listwebmake-talk@lists.sf.net"),
        ("From: Chris <cwg-dated-103.06fa6d@DeepEddy.Com>", "cwg-dated-103.06fa6d@DeepEddy.Com"),
        ("Trade Links - walter@profits2you.com-----------", "walter@profits2you.com"),
    ],
)
def test_email_addresses_are_cut_where_the_address_ends(text, expected):
    assert found(text) == [("email", expected)]


# -- what is deliberately not PII --------------------------------------------------------------

HARD_NEGATIVES = [
    "Upgrade to version 1.2.3.4 today.",
    "Install release 10.24.113.2 or later.",
    "Windows build 6.1.7601.17514 shipped.",
    "The OID 1.3.6.1.4.1.311.21.7 names the template.",
    "See section 2.5.4.3 of the standard.",
    "Netmask 255.255.255.0 and gateway 192.168.1.1 on the LAN.",
    "Loopback is 127.0.0.1 and ::1 on every host.",
    "Met on 2021-03-04 at 12:30:45, again on 04.03.2021 and 3/4/2021.",
    "Timestamp 2019-11-05T08:15:30Z in the log.",
    "MAC 00:1A:2B:3C:4D:5E and std::vector<int> in the code.",
    "ISBN 978-3-16-148410-0 and ISBN 0-306-40615-2.",
    "ISSN 0317-8471 for the journal.",
    "SKU 223-456-7890 is back in stock.",
    "Part No. 12-3456-7890 fits the pump.",
    "Printers 400/600/800/850/1520 and 800/850/1520 are supported.",
    "Revenue was $1,234,567.89, about 3.14159265358979 times more.",
    "The ratio came to 3.4281560901771 in the report.",
    "Write to 1 Washington Street, Newark, NJ 07102-2992.",
    "In 1990 2000 2001 the series ran.",
    "Nodes 10.0.0.138 and 172.16.254.1 are private.",
    "Card 4532 0151 1283 0367 failed the check.",
    "IBAN DE12 3704 0044 0532 0130 00 has a bad check.",
    "icon@2x.png and @handle are not addresses.",
    "Message-ID: <1029945287.4797.TMDA@deepeddy.vircio.com>",
    "http://user@rapid-mortgage.com/remove.html",
]


@pytest.mark.parametrize("text", HARD_NEGATIVES)
def test_lookalikes_are_left_alone(text):
    assert found(text) == []


EXAMPLES = [
    ("Write to john.doe@example.com or ops@mail.example.org.", "email"),
    ("Test with alice@host.test.", "email"),
    ("Docs use 192.0.2.15, 198.51.100.7 and 203.0.113.200.", "ipv4"),
    ("Docs use 2001:db8::8a2e:370:7334.", "ipv6"),
    ("Call (212) 555-0142 or 555-0199 in the film.", "phone"),
    ("Use 4111 1111 1111 1111 in the sandbox.", "credit_card"),
    ("The sample card shows 078-05-1120.", "ssn"),
]


@pytest.mark.parametrize(("text", "kind"), EXAMPLES)
def test_documentation_values_only_count_when_examples_are_not_allowed(text, kind):
    assert found(text) == []
    strict = PiiParams(allow_examples=False, public_ips_only=False)
    assert found(text, strict) and {k for k, _ in found(text, strict)} == {kind}


# -- structure and redaction --------------------------------------------------------------------

FILLER = st.text(
    alphabet=st.sampled_from(list("abcdefghij XYZ0123456789.,:;-+()/@\n\t")), max_size=120
)
PII_VALUES = st.one_of(
    cards().map(lambda n: printed_card(n, "spaces")),
    ibans().map(grouped),
    st.sampled_from(
        ["bob@corp.io", "+44 20 7946 0958", "(415) 867-5309", "81.2.69.160", "2a00:1450::200e",
         "536-22-1234", "1-888-GET-PAID", "(877) 726-LAMP", "1 - 8 8 8 - 4 1 2 - 7 7 0 3",
         "ann=2Elee@mailhost=2Enet"]
    ),
)  # fmt: skip


@given(st.lists(st.tuples(FILLER, PII_VALUES), max_size=5), FILLER)
@settings(max_examples=200, deadline=None)
# what generation found once the spelled and spaced-out phones were in PII_VALUES
@example([("", "bob@corp.io"), ("", "+44 20 7946 0958"), ("0", "2a00:1450::200e")], "")
@example([("", "4000 0000 0000 0002"), ("1", "(877) 726-LAMP")], "")
@example([("", "+44 20 7946 0958"), ("1", "1 - 8 8 8 - 4 1 2 - 7 7 0 3")], "")
@example(
    [
        ("", "+44 20 7946 0958"),
        ("0000000000000", "bob@corp.io"),
        ("00", "1 - 8 8 8 - 4 1 2 - 7 7 0 3"),
    ],
    "0",
)
def test_spans_are_ordered_disjoint_and_redaction_leaves_nothing_to_find(parts, tail):
    text = "".join(f"{f} {v} " for f, v in parts) + tail
    spans = find_pii(text)
    assert all(0 <= s.start < s.end <= len(text) for s in spans)
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:], strict=False))
    placeholders = {k: f"<{k.upper()}>" for k in KINDS}
    out = redact(text, spans, placeholders)
    assert find_pii(out) == []
    assert sum(count_kinds(spans).values()) == len(spans)
    # outside the spans the text is unchanged
    pos, rebuilt = 0, []
    for s in spans:
        rebuilt += [text[pos : s.start], placeholders[s.kind]]
        pos = s.end
    assert out == "".join(rebuilt) + text[pos:]


@given(st.lists(st.tuples(FILLER, PII_VALUES), max_size=3), FILLER)
@settings(max_examples=200, deadline=None)
def test_the_candidates_pattern_admits_every_text_with_pii_and_re2_reads_it_alike(parts, tail):
    """The stage skips texts CANDIDATES (run by RE2 in pyarrow) does not match."""
    text = "".join(f"{f} {v} " for f, v in parts) + tail
    matched = re.search(CANDIDATES, text) is not None
    assert matched or not find_pii(text)
    assert pc.match_substring_regex(pa.array([text]), CANDIDATES)[0].as_py() == matched


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_any_text_gives_valid_spans(text):
    spans = find_pii(text)
    assert all(0 <= s.start < s.end <= len(text) and s.kind in KINDS for s in spans)
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:], strict=False))


def test_an_ipv4_mapped_ipv6_address_is_one_span():
    assert found("Traffic from ::ffff:81.2.69.160 was dropped.") == [("ipv6", "::ffff:81.2.69.160")]


def test_kinds_not_asked_for_are_not_reported():
    text = "bob@corp.io, +44 20 7946 0958, 81.2.69.160"
    assert found(text, PiiParams(kinds=frozenset({"phone"}))) == [("phone", "+44 20 7946 0958")]


def test_redact_only_replaces_the_kinds_given():
    text = "bob@corp.io or +44 20 7946 0958"
    assert redact(text, find_pii(text), {"email": "<EMAIL>"}) == "<EMAIL> or +44 20 7946 0958"


def test_clean_encyclopedia_and_fiction_text_has_no_pii(shared_data):
    """Wikipedia and Brown hold dates, ISBN-free prose, figures, coordinates: nothing to redact."""
    hits = []
    for name in ("wikipedia_sample.jsonl", "brown.jsonl"):
        with (shared_data / "text" / name).open(encoding="utf-8") as fh:
            for line in fh:
                doc = json.loads(line)
                hits += [(doc["id"], kind, value) for kind, value in found(doc["text"])]
    assert hits == []
