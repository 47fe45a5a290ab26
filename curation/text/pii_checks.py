"""Checks that turn a pattern match into a PII finding: checksums, number plans, reserved ranges.

Each function takes the matched characters (or their digits) and answers one question, so a
regex can stay loose and cheap while these decide. Sources are named where a rule comes from:

* payment cards: the Luhn checksum (ISO/IEC 7812-1) and the issuer prefixes and lengths the
  networks publish;
* IBAN: ISO 13616 (country lengths from the SWIFT IBAN registry; the ISO 7064 mod 97-10 check);
* US SSN: the Social Security Administration's never-issued values (area 000, 666, 900-999;
  group 00; serial 0000);
* documentation values (``allow_examples``): RFC 2606 and 6761 (example domains), RFC 5737 and
  3849 (IPv4 and IPv6 documentation ranges), the NANP's 555-0100..0199 fictional lines, and the
  card networks' published test numbers.
"""

from __future__ import annotations

import ipaddress
import re

# -- payment cards ------------------------------------------------------------------------------


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) checksum of a digit string."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _in(prefix: str, lo: int, hi: int) -> bool:
    return lo <= int(prefix) <= hi


def card_issuer_ok(digits: str) -> bool:
    """Whether the digits start with a card network's prefix and have one of its lengths."""
    n, d = len(digits), digits
    if d[0] == "4":  # Visa
        return n in (13, 16, 19)
    if _in(d[:2], 51, 55) or _in(d[:4], 2221, 2720):  # Mastercard
        return n == 16
    if d[:2] in ("34", "37"):  # American Express
        return n == 15
    if _in(d[:4], 2200, 2204):  # Mir
        return 16 <= n <= 19
    if d[:4] == "6011" or _in(d[:3], 644, 649) or d[:2] == "65":  # Discover
        return 16 <= n <= 19
    if d[:2] == "62":  # UnionPay
        return 16 <= n <= 19
    # JCB: 3528-3589 in ISO's register; generators and older tables use all of 35xx
    if d[:2] == "35":
        return 16 <= n <= 19
    if _in(d[:3], 300, 305) or d[:4] == "3095" or d[:2] in ("36", "38", "39"):  # Diners
        return 14 <= n <= 19
    if d[:2] == "50" or _in(d[:2], 56, 69):  # Maestro
        return 12 <= n <= 19
    return False


def card_grouping_ok(groups: list[str]) -> bool:
    """How cards are printed: one block, blocks of four (the last shorter), or Amex/Diners 4-6-5/4-6-4."""
    if len(groups) == 1:
        return True
    lengths = [len(g) for g in groups]
    if lengths[:-1] == [4] * (len(groups) - 1) and 1 <= lengths[-1] <= 4:
        return True
    return lengths in ([4, 6, 5], [4, 6, 4])


# Test numbers the card networks and payment processors publish for documentation.
TEST_CARDS = frozenset(
    {
        "4111111111111111",
        "4242424242424242",
        "4012888888881881",
        "4222222222222",
        "4000056655665556",
        "5555555555554444",
        "5105105105105100",
        "5200828282828210",
        "2223003122003222",
        "378282246310005",
        "371449635398431",
        "6011111111111117",
        "6011000990139424",
        "3530111333300000",
        "3566002020360505",
        "30569309025904",
        "38520000023237",
    }
)

# -- IBAN -----------------------------------------------------------------------------------------

# IBAN length by country (SWIFT IBAN registry); a code not listed is not an IBAN country.
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32,
    "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31,
    "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28, "TL": 23,
    "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip


def iban_ok(compact: str) -> bool:
    """ISO 13616: a known country, its length, and the mod 97-10 check (the remainder is 1)."""
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    # letters count as 10..35; int() of the joined string is exact for 34 chars and is fast
    try:
        number = int("".join(str(int(ch, 36)) for ch in rearranged))
    except ValueError:
        return False
    return number % 97 == 1


# -- US Social Security numbers ---------------------------------------------------------------

# Values printed on sample cards and in advertising, which the SSA says are not anyone's.
EXAMPLE_SSNS = frozenset({"078051120", "219099999", "123456789"})


def ssn_ok(digits: str) -> bool:
    """Area 001-899 but not 666, group 01-99, serial 0001-9999 (SSA: never issued otherwise)."""
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


# -- IP addresses -------------------------------------------------------------------------------

# RFC 5737's three IPv4 documentation networks, by their first three octets.
_IPV4_DOC_NETS = frozenset({(192, 0, 2), (198, 51, 100), (203, 0, 113)})
_IPV6_DOC_NET = ipaddress.IPv6Network("2001:db8::/32")  # RFC 3849


def ipv4_octets(s: str) -> tuple[int, int, int, int]:
    a, b, c, d = (int(x) for x in s.split("."))
    return a, b, c, d


def ipv4_is_example(octets: tuple[int, int, int, int]) -> bool:
    return octets[:3] in _IPV4_DOC_NETS


def ipv4_is_public(s: str) -> bool:
    """Globally routable unicast (not private, loopback, link-local, reserved or multicast)."""
    addr = ipaddress.IPv4Address(s)
    return addr.is_global and not addr.is_multicast


def ipv6_address(s: str) -> ipaddress.IPv6Address | None:
    try:
        return ipaddress.IPv6Address(s)
    except ValueError:
        return None


def ipv6_is_example(addr: ipaddress.IPv6Address) -> bool:
    return addr in _IPV6_DOC_NET


def ipv6_is_public(addr: ipaddress.IPv6Address) -> bool:
    return addr.is_global and not addr.is_multicast


# -- email --------------------------------------------------------------------------------------

# RFC 2606 / 6761 names reserved for documentation and testing.
_EXAMPLE_DOMAINS = frozenset({"example.com", "example.net", "example.org", "example.edu"})
_RESERVED_TLDS = frozenset({"example", "test", "invalid", "localhost"})
# File names that look like addresses ("logo@2x.png"): these endings are files, not TLDs in mail.
FILE_SUFFIXES = frozenset(
    {
        "png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "tif", "tiff", "js", "css",
        "php", "asp", "aspx", "jsp", "htm", "html", "txt", "pdf", "doc", "docx", "xls", "xlsx",
        "ppt", "zip", "gz", "tgz", "tar", "rar", "exe", "dll", "mp3", "mp4", "wav", "avi", "mov",
        "json", "xml",
    }
)  # fmt: skip


def email_domain_is_example(domain: str) -> bool:
    d = domain.lower()
    if d.rsplit(".", 1)[-1] in _RESERVED_TLDS:
        return True
    return any(d == ex or d.endswith("." + ex) for ex in _EXAMPLE_DOMAINS)


# -- phone numbers ------------------------------------------------------------------------------


def nanp_is_example(digits10: str) -> bool:
    """555-0100 through 555-0199 in any area code: the NANP's lines for fiction and examples."""
    return digits10[3:6] == "555" and digits10[6:8] == "01"


def nanp_ok(digits10: str) -> bool:
    """NANP area code and exchange both start with 2-9 (the plan's N digits)."""
    return digits10[0] >= "2" and digits10[3] >= "2"


# -- ISBN (a number that must not be taken for a phone) -----------------------------------------


def isbn13_ok(digits: str) -> bool:
    if len(digits) != 13 or digits[:3] not in ("978", "979"):
        return False
    total = sum((1 if i % 2 == 0 else 3) * (ord(c) - 48) for i, c in enumerate(digits))
    return total % 10 == 0


def isbn10_ok(digits: str) -> bool:
    if len(digits) != 10:
        return False
    return sum((10 - i) * (ord(c) - 48) for i, c in enumerate(digits)) % 11 == 0


# A calendar date inside a digit run: 2021-03-04, 04.03.2021, 3/4/2021 (a four-digit year).
DATE_IN_RUN = re.compile(
    r"(?:19|20)\d\d[-./]\d{1,2}[-./]\d{1,2}(?!\d)|(?<!\d)\d{1,2}[-./]\d{1,2}[-./](?:19|20)\d\d",
    re.ASCII,
)
