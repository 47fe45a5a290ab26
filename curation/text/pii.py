"""PII spans in text: email addresses, phone numbers, IPv4/IPv6 addresses, payment cards, IBANs,
US Social Security numbers; and their redaction.

One regex pass finds every digit-led candidate (an IPv4 address, an IBAN, or a run of digits
with phone-like separators); emails are found from each ``@`` (skipped when there is none) and
IPv6 addresses only when the text has ``:hex:``. Cheap patterns propose, and checks in
``pii_checks`` decide: Luhn and issuer prefixes for cards, ISO 13616 for IBANs, the SSA's
never-issued values for SSNs, number-plan shapes for phones, ``ipaddress`` for IPs. Mail
formats are read too: toll-free numbers spelled with letters (1-800-FLOWERS), numbers spaced
out digit by digit, a ``Tel=`` key line, and quoted-printable dots (``=2E``) in addresses.

Longer than 500 lines: the digit-run reader (cards, SSNs, phones) shares the span type, the
parameters and the context-word patterns with the rest, and a split would need a third module
for those alone.

What is deliberately not PII here: version strings and section numbers that look like IPv4
(``version 1.2.3.4``; four single-digit parts), private and reserved IPs (``public_ips_only``),
dates and times, ISBNs and numbers labelled as product codes, and documentation values
(``allow_examples``: example.com, 192.0.2.0/24, 2001:db8::/32, 555-01xx, test card numbers).

>>> spans = find_pii("Mail bob@corp.io or call +44 20 7946 0958.")
>>> [(s.kind, s.start, s.end) for s in spans]
[('email', 5, 16), ('phone', 25, 41)]
>>> redact("Mail bob@corp.io", spans[:1], {"email": "<EMAIL>"})
'Mail <EMAIL>'
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from curation.text import pii_checks as ck

KINDS: tuple[str, ...] = ("email", "phone", "ipv4", "ipv6", "credit_card", "iban", "ssn")


class PiiSpan(NamedTuple):
    start: int
    end: int
    kind: str


@dataclass(frozen=True)
class PiiParams:
    """What to look for. ``kinds``: a subset of ``KINDS``."""

    kinds: frozenset[str] = frozenset(KINDS)
    allow_examples: bool = True
    public_ips_only: bool = True
    # a nine-digit number standing alone, in the SSA's issued ranges, with no label of another
    # identifier before it: an SSN (a compact one is otherwise found only after "SSN")
    bare_ssn: bool = True


DEFAULT_PARAMS = PiiParams()

# -- patterns -------------------------------------------------------------------------------------

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4_PATTERN = rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\w|\.\d)"
_IPV4 = re.compile(_IPV4_PATTERN, re.ASCII)
# One pass over the text for everything that starts with a digit, '+', '(' or an IBAN's country
# code. Alternatives are tried in order at each position, so an IPv4 address is never re-read as
# a phone. `num` needs at least 7 digits, separated by at most 3 of " -./()".
_SCAN = re.compile(
    # the lookahead lets the regex engine skip to candidate first characters (sre's charset
    # prefix); without it every position is tried, four times slower
    r"(?=[\dA-Z+(])"
    rf"(?:(?P<ipv4>{_IPV4_PATTERN})"
    r"|(?P<iban>(?<!\w)[A-Z]{2}\d\d(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)(?!\w))"
    # a digit after "=" is let in, and _classify keeps it only after a "Tel=" key (not in a URL)
    r"|(?P<num>(?<![\d_+@&/#%.,])(?<![^A-Za-z]-)[+(]?\d(?:[ \-./()]{0,3}\d){6,}))",
    re.ASCII,  # digits are 0-9: the checksums and ipaddress read ASCII digits only
)
_DIGITS = re.compile(r"\d+", re.ASCII)
_IPV6_GATE = re.compile(r":[0-9A-Fa-f]{0,4}:")
_IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{1,4})?(?::[0-9A-Fa-f]{0,4}){2,7}(?:(?<=\d)(?:\.\d{1,3}){3})?(?![\w:])",
    re.ASCII,
)
# A US toll-free vanity number, letters for (some of) the last seven digits: 1-800-FLOWERS,
# 1-888-GET-PAID, (888) USA-RATE. Uppercase letters and at least three of them (counted in
# _vanity); up to three letters past the seventh are part of it (1-800-CONTACTS).
_VANITY = re.compile(
    r"(?<![\w+\-.])(?:1[-. ]?)?(?:\(8(?:00|33|44|55|66|77|88)\) ?|8(?:00|33|44|55|66|77|88)[-. ]?)"
    r"(?P<local>[A-Z0-9]{3}[-. ]?[A-Z][A-Z0-9]{3}[A-Z]{0,3})(?![\w-])",
    re.ASCII,
)
# What every _VANITY match holds: a toll-free code and a letter where the last seven digits go.
# Starting with a literal it is searched fast; only the few texts it matches are scanned with
# _VANITY.
_VANITY_HINT = r"8(?:00|33|44|55|66|77|88)\)? ?[-. ]?[0-9A-Z]{3}[-. ]?[A-Z]"
_VANITY_GATE = re.compile(_VANITY_HINT, re.ASCII)
# A superset of what find_pii reports, in syntax both re and RE2 (pyarrow.compute) read: the
# stage runs it over a whole Arrow batch in C++ and scans only the documents it matches (about
# a quarter of ~3 KB web and mail documents).
CANDIDATES = (
    r"@|:[0-9A-Fa-f]{0,4}:|[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}|[A-Z]{2}[0-9]{2}"
    rf"|[0-9](?:[ \-./()]{{0,3}}[0-9]){{6,}}|{_VANITY_HINT}"
)
# "=2E" is a dot in quoted-printable mail bodies (mailto:name@host=2Ecom)
_DOMAIN = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.|=2E))+([A-Za-z]{2,24})"
    r"(?![A-Za-z0-9]|-\w)"
)
_LOCAL_CHARS = frozenset(string.ascii_letters + string.digits + "._%+-")
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_LOCAL_MAX = 64  # RFC 5321: a local part has at most 64 octets
# Mail headers whose <id@host> is a message identifier, not a mailbox.
_MSGID_HEADERS = ("message-id:", "in-reply-to:", "references:", "content-id:")

# Words right before a number that say what it is. Windows are short so a word a sentence away
# does not count.
# (not after "<": "<PHONE>" is a redaction placeholder, not prose about a number)
_PHONE_WORDS = re.compile(
    r"(?i)(?<!<)\b(?:tel(?:ephone|efon)?|phone|fax|call(?:ing)?|mobile|cell|ph|mob|dial|whatsapp|"
    r"hotline|contact|sms|gsm|"
    # the verbs and nouns prose uses for a number to ring: "reached at", "Ring 40 16 09 32",
    # "the desk answers at", "bookings on", "text us at"
    r"ring|reach(?:ed)?(?: \w+)? at|answers? at|bookings? (?:on|at)|reservations?|"
    r"enquiries|inquiries|text (?:us|me) (?:at|on))\b"
)
_SSN_WORDS = re.compile(r"(?i)\b(?:ssn|ss#|social security(?: number| no)?)\b")
# A bare nine-digit number is read as an SSN (PiiParams.bare_ssn) unless a word right before it
# says it is some other identifier or an amount.
_BARE_LABEL = re.compile(
    r"(?i)(?:\b(?:code|id|icq|uin|aim|account|acct|a/c|ticket|tracking|case|customer|member|"
    r"claim|policy|routing|aba|ein|tin|itin|po|box|no|nr|num|number|pin|zip|isbn|batch|lot|"
    r"run|job|pid|uid|gid|user|build|version|v)\.?|#|[$€£¥])[\s:#=-]*$"
)
# digits right next to it ("1028070983 830730492 1013296719", "123456789.5"): part of a list
# or of a longer number
_DIGIT_BEFORE = re.compile(r"\d[ \-./(),:]{0,3}$", re.ASCII)
_DIGIT_AFTER = re.compile(r"[ \-./(),:]{0,3}\d|\w", re.ASCII)
_CODE_LABEL = re.compile(
    r"(?i)\b(?:isbn(?:-?1[03])?|issn|sku|ean|upc|gtin|isin|doi|serial(?: no| number)?|s/n|p/n|"
    r"part(?: no| number)?|model(?: no)?|item(?: no)?|patent(?: no)?|order(?: no| number| id)|"
    r"invoice(?: no| number)?|ref(?:erence)?(?: no)?)[\s.:#-]*$"
)
_VERSION_LABEL = re.compile(
    r"(?i)\b(?:v|ver|version|release|rel|build|firmware|fw|rev|revision|oid|section|sec|"
    r"chapter|ch|article|art|rule|step)\.?\s*$|§\s*$"
)
# "Tel=234-9-461-3058" as a key=value line of a form mail; the same key inside a URL query
# ("?tel=...", "&fax=...") or a longer name does not count
_KEY_PHONE = re.compile(r"(?i)(?<![\w?&=./%-])(?:tel(?:ephone)?|phone|fax|mobile|cell)=$")
_CONTEXT = 32  # characters before a candidate read for the words above


# -- finding ------------------------------------------------------------------------------------


def find_pii(text: str, params: PiiParams = DEFAULT_PARAMS) -> list[PiiSpan]:
    """Non-overlapping PII spans of ``text`` in order of position."""
    kinds = params.kinds
    spans = _emails(text, params) if "email" in kinds and "@" in text else []
    taken = spans[:]  # numbers inside an email (12345@qq.com) belong to the email
    # a spelled toll-free number ends the digit run before it ("... 0958 1 (877) 726-LAMP")
    vanity = _vanity(text) if "phone" in kinds else []
    found = vanity[:]
    for m in _SCAN.finditer(text):
        if m.lastgroup == "ipv4":
            found.extend(_ipv4(text, m, params))
        elif m.lastgroup == "iban":
            found.extend(_iban(m))
        else:
            stops = [v.start for v in vanity if m.start() <= v.start < m.end()]
            found.extend(_numbers(text, m, params, min(stops, default=m.end())))
    if "ipv6" in kinds and _IPV6_GATE.search(text):
        found.extend(_ipv6(text, params))
    # overlaps: the longer of two spans that start together wins, then the earlier one
    # ("::ffff:81.2.69.160" is one IPv6 address, not also an IPv4 one)
    end = 0
    for s in sorted(found, key=lambda s: (s.start, s.start - s.end)):
        if s.kind in kinds and s.start >= end and not _overlaps(s, taken):
            spans.append(s)
            end = s.end
    spans.sort()
    return spans


def _overlaps(span: PiiSpan, others: Sequence[PiiSpan]) -> bool:
    return any(o.start < span.end and span.start < o.end for o in others)


def _emails(text: str, params: PiiParams) -> list[PiiSpan]:
    out: list[PiiSpan] = []
    at = text.find("@")
    while at != -1:
        start = at
        floor = max(0, at - _LOCAL_MAX)
        # "=2E" is a quoted-printable dot: step over its "="
        while start > floor and (
            text[start - 1] in _LOCAL_CHARS
            or (text[start - 1] == "=" and text.startswith("2E", start))
        ):
            start -= 1
        while start < at and (text[start] == "." or text.startswith("=2E", start)):
            start += 1 if text[start] == "." else 3
        too_long = start == floor and floor > 0 and text[floor - 1] in _LOCAL_CHARS
        m = (
            None
            if too_long or start == at or text[at - 1] == "." or text.startswith("=2E", at - 3)
            else _DOMAIN.match(text, at + 1)
        )
        if m is None:
            at = text.find("@", at + 1)
            continue
        end = m.end()
        # flattened HTML glues the next link on: "list@lists.sf.nethttps://..."
        if text.startswith("://", end) and m.group(1).lower().endswith(("http", "https")):
            end -= 5 if m.group(1).lower().endswith("https") else 4
        # a percent-escape ends an address inside a URL query: "x=list%2Cbob@host.org"
        esc = _PERCENT_ESCAPE.search(text, start, at)
        while esc is not None:
            start = esc.end()
            esc = _PERCENT_ESCAPE.search(text, start, at)
        if start < at and _is_email(text, start, m, params):
            out.append(PiiSpan(start, end, "email"))
        at = text.find("@", m.end())
    return out


def _is_email(text: str, start: int, m: re.Match[str], params: PiiParams) -> bool:
    if m.group(1).lower() in ck.FILE_SUFFIXES:
        return False
    if params.allow_examples and ck.email_domain_is_example(m.group(0).replace("=2E", ".")):
        return False
    if text.startswith("://", start - 3):  # user info of a URL (http://user@host), no mailbox
        return False
    line = text[text.rfind("\n", 0, start) + 1 : start].lstrip("> \t").lower()
    return not line.startswith(_MSGID_HEADERS)


def _ipv4(text: str, m: re.Match[str], params: PiiParams) -> list[PiiSpan]:
    if "ipv4" not in params.kinds:
        return []
    s = m.group()
    octets = ck.ipv4_octets(s)
    # 1.2.3.4, 2.5.4.3: section numbers, versions, OIDs (and 8.8.8.8-style public resolvers,
    # which identify no one)
    if max(octets) < 10:
        return []
    if _VERSION_LABEL.search(text, max(0, m.start() - 20), m.start()):
        return []
    if params.allow_examples and ck.ipv4_is_example(octets):
        return []
    if params.public_ips_only and not ck.ipv4_is_public(s):
        return []
    return [PiiSpan(m.start(), m.end(), "ipv4")]


def _ipv6(text: str, params: PiiParams) -> list[PiiSpan]:
    out = []
    for m in _IPV6.finditer(text):
        s = m.group()
        addr = ck.ipv6_address(s)
        if addr is None or not any(c.isdigit() for c in s):
            continue
        # "a::b" and "::1" parse, but so does C++ scoping; a real address has three groups
        # (an IPv4 tail, "::ffff:81.2.69.160", counts as the two it stands for)
        if "::" in s and sum(1 for g in s.split(":") if g) + ("." in s) < 3:
            continue
        if params.allow_examples and ck.ipv6_is_example(addr):
            continue
        if params.public_ips_only and not ck.ipv6_is_public(addr):
            continue
        out.append(PiiSpan(m.start(), m.end(), "ipv6"))
    return out


def _vanity(text: str) -> list[PiiSpan]:
    if _VANITY_GATE.search(text) is None:
        return []
    return [
        PiiSpan(m.start(), m.end(), "phone")
        for m in _VANITY.finditer(text)
        if sum(c.isalpha() for c in m.group("local")) >= 3
    ]


def _iban(m: re.Match[str]) -> list[PiiSpan]:
    s = m.group()
    # The printed form may have swallowed a short word after it ("... 7034 EUR"): retry without.
    for candidate in (s, s.rsplit(" ", 1)[0] if " " in s else None):
        if candidate and ck.iban_ok(candidate.replace(" ", "")):
            return [PiiSpan(m.start(), m.start() + len(candidate), "iban")]
    return []


# -- digit runs: cards, SSNs, phones ------------------------------------------------------------

_MAX_GROUPS = 7  # no phone or card is printed in more groups than this


def _numbers(text: str, m: re.Match[str], params: PiiParams, end: int) -> list[PiiSpan]:
    """The PII numbers in one digit run, longest first from the left.

    A run can hold several numbers ("1-866-522-8575 24hrs", "0171 1234567 / 089 123456"), so
    when the whole run is nothing, shorter runs of its digit groups are tried. A date's groups,
    an IPv4 address and a separator like " / " end a number; the run is read up to ``end``.
    """
    base, run = m.start(), text[m.start() : end]
    if text[base - 1 : base] == "=" and not _KEY_PHONE.search(text, max(0, base - 12), base):
        return []
    dates = [(base + d.start(), base + d.end()) for d in ck.DATE_IN_RUN.finditer(run)]
    out: list[PiiSpan] = []
    if run.count(".") >= 3:  # an address after a phone: "+44 20 7946 0958  81.2.69.160"
        for ip in _IPV4.finditer(text, base, end):
            out += _ipv4(text, ip, params)
            dates.append(ip.span())
    piece: list[tuple[int, int]] = []
    for g in _DIGITS.finditer(run):
        a, b = base + g.start(), base + g.end()
        if any(x < b and a < y for x, y in dates):
            out.extend(_split_piece(text, piece, params))
            piece = []
            continue
        if piece and b - a < 3 and text[b : b + 1].isalpha():
            break  # "0958 2a00:...", "1234 3rd": a short group running into letters starts a word
        if piece and _ends_number(text[piece[-1][1] : a]):
            out.extend(_split_piece(text, piece, params))
            piece = []
        piece.append((a, b))
    out.extend(_split_piece(text, piece, params))
    return out


def _ends_number(sep: str) -> bool:
    """A separator no single number is printed with: " / ", ". ", two spaces."""
    return (" " in sep and ("/" in sep or "." in sep)) or "  " in sep


def _split_piece(text: str, groups: list[tuple[int, int]], params: PiiParams) -> list[PiiSpan]:
    """Cards first (their checksum makes them the surest reading: "01 4000 0000 0000 0002" is a
    number and a card, not a phone and some digits), then the other numbers between them."""
    spaced = _spaced_out(text, groups, params)
    if spaced is not None:
        i, j, span = spaced
        return [
            *_split_piece(text, groups[:i], params),
            span,
            *_split_piece(text, groups[j:], params),
        ]
    if sum(b - a for a, b in groups) < 12:
        return _spans(text, groups, params, ("shape", "context"))
    out: list[PiiSpan] = []
    rest: list[tuple[int, int]] = []
    i = 0
    while i < len(groups):
        span = _longest(text, groups, i, params, "card")
        if span is None:
            rest.append(groups[i])
            i += 1
            continue
        out += _spans(text, rest, params, ("shape", "context"))
        rest = []
        if span.kind:
            out.append(span)
        while i < len(groups) and groups[i][0] < span.end:
            i += 1
    return out + _spans(text, rest, params, ("shape", "context"))


def _spaced_out(
    text: str, groups: list[tuple[int, int]], params: PiiParams
) -> tuple[int, int, PiiSpan] | None:
    """A phone number printed one digit at a time, "1 - 6 4 6 - 5 5 2 - 1 2 0 0": single spaces
    inside its groups, another separator between them. Returns the groups it spans (i, j) and
    the span, or None. The digits must have a phone's shape once the groups are put back."""
    i = 0
    while i < len(groups):
        j = i
        while j < len(groups) and groups[j][1] - groups[j][0] == 1:
            j += 1
        # the run may start with other single digits ("... 0958 1 1 - 8 8 8 - 4 1 2 - 7 7 0 3"):
        # each start is tried, leftmost first
        for start_at in range(i, j - 6):
            found = _spaced_phone(text, groups, start_at, j, params)
            if found is not None:
                return start_at, j, found
        i = j + 1
    return None


def _spaced_phone(
    text: str, groups: list[tuple[int, int]], i: int, j: int, params: PiiParams
) -> PiiSpan | None:
    """The single-digit groups ``groups[i:j]`` as one spaced-out phone number, or None."""
    seps = [text[groups[k][1] : groups[k + 1][0]] for k in range(i, j - 1)]
    lengths, outer = [1], []
    for sep in seps:
        if sep == " ":
            lengths[-1] += 1
        else:
            lengths.append(1)
            outer.append(sep)
    start, end = groups[i][0], groups[j - 1][1]
    lead = text[start - 1 : start] if text[start - 1 : start] in ("+", "(") else ""
    digits = "".join(text[a:b] for a, b in groups[i:j])
    glued = start > 0 and text[start - 1].isalpha()
    if (
        len(lengths) >= 2
        and max(lengths) >= 3
        and _phone_shape(digits, lengths, outer, lead, glued)
    ):
        example = params.allow_examples and _phone_is_example(digits, lengths)
        return _span(start - len(lead), end, "phone", params, example)
    return None


def _spans(
    text: str, groups: list[tuple[int, int]], params: PiiParams, modes: tuple[str, ...]
) -> list[PiiSpan]:
    out: list[PiiSpan] = []
    i = 0
    while i < len(groups):
        span = None
        for mode in modes:
            span = span or _longest(text, groups, i, params, mode)
        if span is None:
            i += 1
            continue
        if span.kind:
            out.append(span)
        while i < len(groups) and groups[i][0] < span.end:
            i += 1
    return out


def _longest(
    text: str, groups: list[tuple[int, int]], i: int, params: PiiParams, mode: str
) -> PiiSpan | None:
    """The longest number of kind ``mode`` starting at group ``i``.

    Modes: ``card``; ``shape``, an SSN or a number printed like a phone; ``context``, a phone
    that only the words before it make one (tried last, so "call 1-866-522-8575 24hrs" ends
    before 24).
    """
    for j in range(min(len(groups), i + _MAX_GROUPS) - 1, i - 1, -1):
        span = _classify(text, groups[i : j + 1], params, mode)
        if span is not None:
            return span
    return None


_NOT_PII = ""  # kind of a recognised number that is no PII (an example, an ISBN)


def _classify(
    text: str, groups: list[tuple[int, int]], params: PiiParams, mode: str
) -> PiiSpan | None:
    """What the digit groups ``groups`` (absolute offsets) are in ``mode``: a PiiSpan, a span of
    kind ``_NOT_PII`` for a recognised non-PII number, or None for nothing recognised."""
    start, end = groups[0][0], groups[-1][1]
    digits = "".join(text[a:b] for a, b in groups)
    n = len(digits)
    if n < 7:
        return None
    lead = text[start - 1] if start > 0 else ""
    if lead and lead in "+(" and (start < 2 or not text[start - 2].isalnum()):
        start -= 1
    else:
        lead = ""
    seps = [text[groups[k][1] : groups[k + 1][0]] for k in range(len(groups) - 1)]
    before = text[max(0, start - _CONTEXT) : start]
    if _CODE_LABEL.search(before) or ck.isbn13_ok(digits) and "-" in text[start:end]:
        return PiiSpan(start, end, _NOT_PII)
    lengths = [b - a for a, b in groups]
    same_sep = len(set(seps)) <= 1
    if mode == "card":
        # "3.4281560901771": the digits of a fraction, however their checksum comes out
        fraction = start > 1 and text[start - 1] in ".," and text[start - 2].isdigit()
        if fraction:
            return None
        if 12 <= n <= 19 and not lead and same_sep and (not seps or seps[0] in (" ", "-")):
            return _card(digits, [text[a:b] for a, b in groups], start, end, params)
        return None
    # glued to a word ("fax your order to1-415-873-2700", "Fax-253-660-3853", "ID12345678"):
    # only a number whose shape alone says phone counts
    glued = start > 0 and text[start - 1].isalpha()
    hyphened = text[start - 1 : start] == "-" and text[start - 2 : start - 1].isalpha()
    if n == 9 and not lead and not glued and not hyphened and mode == "shape":
        dashed = lengths == [3, 2, 4] and same_sep and seps[0] in ("-", " ")
        named = len(groups) == 1 and _SSN_WORDS.search(before) is not None
        bare = len(groups) == 1 and params.bare_ssn and _bare_ssn(text, start, end, before)
        if (dashed or named or bare) and ck.ssn_ok(digits):
            example = params.allow_examples and digits in ck.EXAMPLE_SSNS
            return _span(start, end, "ssn", params, example)
    if mode == "context":
        phone = not glued and 7 <= n <= 15 and _phone_words_before(text, start)
    else:
        phone = _phone_shape(digits, lengths, seps, lead, glued or hyphened)
    if not phone:
        return None
    example = params.allow_examples and _phone_is_example(digits, lengths)
    return _span(start, end, "phone", params, example)


def _phone_words_before(text: str, start: int) -> bool:
    # searched in place, not in a slice: a word cut by the window's edge ("...PHONE>" of a
    # placeholder) must not read as "ph"
    return _PHONE_WORDS.search(text, max(0, start - _CONTEXT), start) is not None


def _bare_ssn(text: str, start: int, end: int, before: str) -> bool:
    """Nine digits alone: no digits or letters right next to them, no other label before."""
    if _DIGIT_AFTER.match(text, end) or _DIGIT_BEFORE.search(text, max(0, start - 4), start):
        return False
    # "call 512366311": the words say phone
    return _BARE_LABEL.search(before) is None and not _phone_words_before(text, start)


def _span(start: int, end: int, kind: str, params: PiiParams, example: bool) -> PiiSpan:
    return PiiSpan(start, end, kind if kind in params.kinds and not example else _NOT_PII)


def _card(
    digits: str, groups: list[str], start: int, end: int, params: PiiParams
) -> PiiSpan | None:
    if not ck.card_grouping_ok(groups):
        return None
    if ck.luhn_ok(digits) and ck.card_issuer_ok(digits):
        example = params.allow_examples and digits in ck.TEST_CARDS
        return _span(start, end, "credit_card", params, example)
    # printed like a card (4-4-4-4) but not one: no part of it is a phone either
    return PiiSpan(start, end, _NOT_PII) if len(groups) >= 4 else None


def _phone_shape(digits: str, lengths: list[int], seps: list[str], lead: str, glued: bool) -> bool:
    """Whether the digits are printed the way phone numbers are:

    +CC ... (E.164: at most 15 digits); 00CC ...; NANP (NXX) NXX-XXXX with an optional 1
    (also glued on: 1800-555-1212); a national number with trunk prefix 0 in groups
    (020 7946 0958, 01 23 45 67 89, 089/1234567); an area code in parentheses
    ((11) 91234-5678).
    """
    n = len(digits)
    if lead == "+":
        return 8 <= n <= 15 and digits[0] != "0"
    if digits.startswith("00") and len(lengths) >= 2 and 10 <= n - 2 <= 15:
        return digits[2] != "0"
    nanp = lengths in ([3, 3, 4], [1, 3, 3, 4]) or (lengths == [4, 3, 4] and digits[0] == "1")
    # "800/850/1520" lists model numbers; NANP numbers are not written with slashes
    slashed = any("/" in s for s in seps)
    if nanp and (n == 10 or digits[0] == "1") and ck.nanp_ok(digits[-10:]) and not slashed:
        return True
    if glued or len(lengths) < 2 or min(lengths) < 2:
        return False
    if lengths == [5, 4] and seps == ["-"]:  # a US ZIP+4 code, 07102-2992
        return False
    parenthesised = lead == "(" and seps[0].startswith(")")
    if digits[0] == "0" and digits[1] != "0" and lengths[0] <= 5:
        # 9-12 digits; 8 when the area code is set off in parentheses: (029) 92771
        return 9 <= n <= 12 or (parenthesised and n == 8)
    return parenthesised and 2 <= lengths[0] <= 3 and 10 <= n <= 11


def _phone_is_example(digits: str, lengths: list[int]) -> bool:
    if len(digits) >= 10:
        return ck.nanp_is_example(digits[-10:])
    return len(digits) == 7 and digits[:3] == "555" and digits[3:5] == "01"


# -- redaction ----------------------------------------------------------------------------------


def redact(text: str, spans: Sequence[PiiSpan], placeholders: Mapping[str, str]) -> str:
    """``text`` with each span of a kind in ``placeholders`` replaced by its placeholder."""
    parts: list[str] = []
    pos = 0
    for s in spans:
        rep = placeholders.get(s.kind)
        if rep is None:
            continue
        parts.append(text[pos : s.start])
        parts.append(rep)
        pos = s.end
    if not parts:
        return text
    parts.append(text[pos:])
    return "".join(parts)


def count_kinds(spans: Sequence[PiiSpan]) -> dict[str, int]:
    """Spans per kind, every kind of ``KINDS`` present (0 when none)."""
    counts = dict.fromkeys(KINDS, 0)
    for s in spans:
        counts[s.kind] += 1
    return counts
