"""The injected PII set of ``pii_eval.py``: known values and lookalikes put into clean prose.

PII values come from Faker and libphonenumber, run in the peer venv (``VALUES``), so the formats
are theirs, not this repository's. Hard negatives are generated here, each with a category. Each
value goes into a short sentence (half of the phone sentences name the number: "Phone: ...",
"Call ..."), and each sentence is inserted after a sentence end of a ~2 KB Wikipedia or Brown
passage. The manifest records, per document, the passage (file, id, character range) and each
insertion (offset, sentence, spans with kind, label and category); no shared text.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import tempfile
from pathlib import Path

SEED = 18
N_DOCS = 360

VALUES = r"""
import ipaddress, json, random, sys
from importlib.metadata import version
import faker, phonenumbers as pn
seed, out_path = int(sys.argv[1]), sys.argv[2]
rng = random.Random(seed)
fakers = {loc: faker.Faker(loc) for loc in
          ("en_US", "en_GB", "de_DE", "fr_FR", "it_IT", "es_ES", "nl_NL", "pl_PL", "pt_PT")}
for i, f in enumerate(fakers.values()):
    f.seed_instance(seed + i)
us = fakers["en_US"]
REGIONS = ["US", "CA", "GB", "DE", "FR", "IT", "ES", "NL", "BE", "CH", "AT", "SE", "NO", "DK",
           "PL", "IE", "PT", "BR", "MX", "AR", "IN", "CN", "JP", "KR", "AU", "NZ", "ZA", "NG",
           "KE", "RU", "TR", "IL", "AE", "SG", "HK", "PH"]
def phone(region):
    while True:
        kind = rng.choice([pn.PhoneNumberType.FIXED_LINE, pn.PhoneNumberType.MOBILE])
        ex = pn.example_number_for_type(region, kind)
        if ex is None:
            continue
        nat = str(ex.national_number)
        keep = max(1, len(nat) - 6)  # keep the area code or mobile prefix, draw the rest
        num = pn.PhoneNumber()
        num.merge_from(ex)
        num.national_number = int(nat[:keep] + "".join(rng.choice("0123456789") for _ in nat[keep:]))
        same = (kind, pn.PhoneNumberType.FIXED_LINE_OR_MOBILE)  # US, CA: one plan for both
        if not pn.is_valid_number(num) or pn.number_type(num) not in same:
            continue
        if num.country_code == 1 and str(num.national_number)[3:8].startswith("55501"):
            continue  # 555-01xx is reserved for fiction
        fmt = rng.choice(["INTERNATIONAL", "NATIONAL", "E164"])
        return {"value": pn.format_number(num, getattr(pn.PhoneNumberFormat, fmt)),
                "format": fmt.lower(), "region": region}
def ipv6():
    # Faker draws from the whole space; real hosts live in 2000::/3, the global unicast block
    while True:
        groups = us.ipv6().split(":")
        groups[0] = "%x" % rng.randint(0x2000, 0x3fff)
        a = ipaddress.IPv6Address(":".join(groups))
        if a.is_global:
            return str(a) if rng.random() < 0.7 else a.exploded
CARDS = ["visa16", "visa13", "mastercard", "amex", "discover", "diners", "jcb16", "maestro"]
out = {"versions": {p: version(p) for p in ("faker", "phonenumbers")},
       "email": [rng.choice([f.free_email, f.company_email])() for f in rng.choices(list(fakers.values()), k=150)],
       "phone": [phone(rng.choice(REGIONS)) for _ in range(252)],
       "ipv4": [us.ipv4_public() for _ in range(120)],
       "ipv6": [ipv6() for _ in range(100)],
       "credit_card": [{"value": us.credit_card_number(c), "network": c}
                       for c in rng.choices(CARDS, k=150)],
       "iban": [f.iban() for f in rng.choices(list(fakers.values()), k=120)],
       "ssn": [us.ssn() for _ in range(120)]}
json.dump(out, open(out_path, "w"))
"""

# (template, names the kind) per kind; {} is the value
TEMPLATES = {
    "email": [("Write to {} for the minutes.", True), ("Questions went to {} that week.", False),
              ("Her address, {}, was printed on the flyer.", True), ("({})", False)],
    "phone": [("Phone: {}.", True), ("Call {} for tickets.", True), ("Tel. {}", True),
              ("Her mobile is {}.", True), ("The office answers at {} on weekdays.", False),
              ("Ring {} after six.", False), ("Bookings on {} only.", False),
              ("They can be reached at {} in the evening.", False)],
    "ipv4": [("The server at {} answered.", False), ("Requests came from {} overnight.", False),
             ("See http://{}/index.html for the files.", False), ("Connect to {}:8080.", False)],
    "ipv6": [("The host {} answered.", False), ("Traffic from {} was blocked.", False),
             ("Listen on [{}]:443 instead.", False)],
    "credit_card": [("Card number {} was charged.", True), ("Paid with {} on Friday.", False),
                    ("{} was declined twice.", False)],
    "iban": [("IBAN: {}", True), ("Transfer the fee to {} by Friday.", False),
             ("The account {} belongs to the club.", False)],
    "ssn": [("SSN {} was on the form.", True), ("Her social security number is {}.", True),
            ("The form listed {} in box 3.", False)],
}  # fmt: skip


def _card(number: str, rng: random.Random) -> str:
    style = rng.choice(["compact", "spaces", "dashes"])
    if style == "compact":
        return number
    if len(number) == 15:
        return " ".join((number[:4], number[4:10], number[10:]))
    sep = " " if style == "spaces" else "-"
    return sep.join(number[i : i + 4] for i in range(0, len(number), 4))


def _ssn(value: str, rng: random.Random) -> tuple[str, str]:
    style = rng.choices(["dashes", "spaces", "compact"], weights=[6, 2, 2])[0]
    digits = value.replace("-", "")
    if style == "dashes":
        return value, style
    if style == "spaces":
        return f"{digits[:3]} {digits[3:5]} {digits[5:]}", style
    return digits, style


def _isbn13(rng: random.Random) -> str:
    body = "978" + "".join(rng.choice("0123456789") for _ in range(9))
    check = (10 - sum((1 if i % 2 == 0 else 3) * int(c) for i, c in enumerate(body)) % 10) % 10
    d = body + str(check)
    return f"ISBN {d[:3]}-{d[3]}-{d[4:6]}-{d[6:12]}-{d[12]}"


def _luhn_fail(rng: random.Random) -> str:
    while True:
        d = "4" + "".join(rng.choice("0123456789") for _ in range(15))
        total = sum(
            (int(c) * 2 - 9 if int(c) * 2 > 9 else int(c) * 2) if i % 2 else int(c)
            for i, c in enumerate(reversed(d))
        )
        if total % 10:
            return " ".join(d[i : i + 4] for i in range(0, 16, 4))


def _r(rng: random.Random, lo: int, hi: int) -> int:
    return rng.randint(lo, hi)


def _pick(rng: random.Random, *options: str) -> str:
    return rng.choice(options)


# category -> (kind it imitates, template, value maker); the value is the labelled span
NEGATIVES = {
    "version_ip": ("ipv4", "Upgrade to version {} today.", lambda g: f"{_r(g,1,12)}.{_r(g,0,40)}.{_r(g,10,250)}.{_r(g,1,99)}"),
    "build_number": ("ipv4", "Windows build {} shipped.", lambda g: f"{_r(g,5,10)}.{_r(g,0,3)}.{_r(g,7000,9999)}.{_r(g,10000,20000)}"),
    "section_number": ("ipv4", "See section {} of the rules.", lambda g: ".".join(str(_r(g,1,9)) for _ in range(4))),
    "oid": ("ipv4", "The OID {} names the template.", lambda g: f"1.3.6.1.4.1.{_r(g,100,60000)}.{_r(g,1,30)}"),
    "private_ip": ("ipv4", "The gateway {} is on the LAN.", lambda g: _pick(g, f"192.168.{_r(g,0,255)}.{_r(g,1,254)}", f"10.{_r(g,0,255)}.{_r(g,0,255)}.{_r(g,1,254)}", f"172.{_r(g,16,31)}.{_r(g,0,255)}.{_r(g,1,254)}", "127.0.0.1")),
    "netmask": ("ipv4", "The netmask {} applies.", lambda g: _pick(g, "255.255.255.0", "255.255.240.0", "255.255.255.128")),
    "doc_ipv4": ("ipv4", "The manual uses {} as its example.", lambda g: f"{_pick(g, '192.0.2', '198.51.100', '203.0.113')}.{_r(g,1,254)}"),
    "doc_ipv6": ("ipv6", "The manual uses {} as its example.", lambda g: f"2001:db8::{_r(g,1,65535):x}:{_r(g,1,65535):x}"),
    "loopback_ipv6": ("ipv6", "Ping {} first.", lambda g: _pick(g, "::1", f"fe80::{_r(g,1,65535):x}:{_r(g,1,65535):x}")),
    "mac_address": ("ipv6", "The card's MAC is {}.", lambda g: ":".join(f"{_r(g,0,255):02X}" for _ in range(6))),
    "time": ("ipv6", "The log says {} for the first entry.", lambda g: f"{_r(g,0,23):02d}:{_r(g,0,59):02d}:{_r(g,0,59):02d}"),
    "date": ("phone", "Signed on {} by both.", lambda g: _pick(g, f"{_r(g,1990,2024)}-{_r(g,1,12):02d}-{_r(g,1,28):02d}", f"{_r(g,1,28):02d}.{_r(g,1,12):02d}.{_r(g,1990,2024)}", f"{_r(g,1,12)}/{_r(g,1,28)}/{_r(g,1990,2024)}", f"{_r(g,2000,2024)}-{_r(g,1,12):02d}-{_r(g,1,28):02d}T{_r(g,0,23):02d}:{_r(g,0,59):02d}:{_r(g,0,59):02d}Z")),
    "isbn": ("phone", "The edition is {}.", _isbn13),
    "product_code": ("phone", "{} is in stock.", lambda g: _pick(g, f"SKU {_r(g,200,999)}-{_r(g,200,999)}-{_r(g,1000,9999)}", f"Part No. {_r(g,10,99)}-{_r(g,1000,9999)}-{_r(g,1000,9999)}", f"Models {_r(g,100,900)}/{_r(g,100,900)}/{_r(g,1000,2000)}")),
    "money_and_math": ("phone", "The figure was {} in the report.", lambda g: _pick(g, f"${_r(g,1,999)},{_r(g,100,999)},{_r(g,100,999)}.{_r(g,10,99)}", f"3.{_r(g,10**12,10**13-1)}", f"{_r(g,1,9)} {_r(g,100,999)} {_r(g,100,999)} {_r(g,100,999)}")),
    "nanp_555_01": ("phone", "In the film she dials {}.", lambda g: f"({_r(g,201,989)}) 555-01{_r(g,0,99):02d}"),
    "luhn_fail_card": ("credit_card", "Card {} failed the check.", _luhn_fail),
    "test_card": ("credit_card", "Use {} in the sandbox.", lambda g: _pick(g, "4242 4242 4242 4242", "4111 1111 1111 1111", "5555 5555 5555 4444", "3782 822463 10005")),
    "bad_iban": ("iban", "IBAN {} was rejected.", lambda g: f"DE{_r(g,0,99):02d} " + " ".join(str(_r(g,1000,9999)) for _ in range(4)) + f" {_r(g,10,99)}"),
    "unissued_ssn": ("ssn", "SSN {} is invalid.", lambda g: f"{_pick(g, '000', '666', str(_r(g,900,999)))}-{_r(g,10,99)}-{_r(g,1000,9999)}"),
    "example_email": ("email", "Write to {} in the tutorial.", lambda g: f"{_pick(g, 'jane', 'j.doe', 'info', 'admin')}@{_pick(g, 'example.com', 'example.org', 'mail.example.net', 'site.test')}"),
}  # fmt: skip


def _positive(kind: str, item, rng: random.Random) -> tuple[str, dict]:
    info: dict = {}
    if kind == "phone":
        value, info = item["value"], {"format": item["format"], "region": item["region"]}
    elif kind == "credit_card":
        value, info = _card(item["value"], rng), {"network": item["network"]}
    elif kind == "ssn":
        value, style = _ssn(item, rng)
        info = {"format": style}
    elif kind == "iban":
        value = (
            item
            if rng.random() < 0.5
            else " ".join(item[i : i + 4] for i in range(0, len(item), 4))
        )
    else:
        value = item
    template, named = rng.choice(TEMPLATES[kind])
    sentence = template.format(value)
    start = sentence.index(value)
    span = {"start": start, "end": start + len(value), "kind": kind, "label": True,
            "context_word": named, **info}  # fmt: skip
    return sentence, span


def _passages(data: Path, rng: random.Random) -> list[tuple[str, str, int, int]]:
    out = []
    for name in ("wikipedia_sample.jsonl", "brown.jsonl"):
        with (data / "text" / name).open(encoding="utf-8") as fh:
            for line in fh:
                doc = json.loads(line)
                text, pos = doc["text"], 0
                while pos + 2000 < len(text):
                    cut = text.find("\n", pos + 1800)
                    cut = cut if 0 < cut < pos + 3200 else pos + 2000
                    out.append((name, doc["id"], pos, cut))
                    pos = cut
    rng.shuffle(out)
    return out


def build_injected(data: Path, peer: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        dst = Path(tmp) / "values.json"
        subprocess.run([str(peer), "-c", VALUES, str(SEED), str(dst)], check=True)
        values = json.loads(dst.read_text(encoding="utf-8"))
    rng = random.Random(SEED)
    items = [(k, v) for k in TEMPLATES for v in values[k]]
    items += [("neg", c) for c in NEGATIVES for _ in range(18)]
    rng.shuffle(items)
    texts = {}
    for name in ("wikipedia_sample.jsonl", "brown.jsonl"):
        with (data / "text" / name).open(encoding="utf-8") as fh:
            texts[name] = {d["id"]: d["text"] for d in map(json.loads, fh)}
    docs = []
    for k, (name, doc_id, a, b) in enumerate(_passages(data, rng)[:N_DOCS]):
        base = texts[name][doc_id][a:b]
        ends = [m.end() for m in re.finditer(r"[.!?] (?=[A-Z])", base)] or [len(base)]
        share = min(len(ends), len(items) // (N_DOCS - k))
        mine, items = items[:share], items[share:]
        inserts = []
        for at, (kind, item) in zip(sorted(rng.sample(ends, len(mine))), mine, strict=True):
            if kind == "neg":
                imitates, template, make = NEGATIVES[item]
                value = make(rng)
                while item == "bad_iban" and _iban_ok(value):  # 1 in 97 is valid by chance
                    value = make(rng)
                sentence = template.format(value)
                s = sentence.index(value)
                span = {"start": s, "end": s + len(value), "kind": imitates, "label": False,
                        "category": item}  # fmt: skip
            else:
                sentence, span = _positive(kind, item, rng)
            inserts.append({"at": at, "text": sentence + " ", "spans": [span]})
        docs.append({"id": f"inj-{k:03d}", "source": name, "source_id": doc_id, "from": a,
                     "to": b, "inserts": inserts})  # fmt: skip
    return {"seed": SEED, "generator_versions": values["versions"], "docs": docs}


def _iban_ok(printed: str) -> bool:
    code = printed.replace(" ", "")
    return int("".join(str(int(c, 36)) for c in code[4:] + code[:4])) % 97 == 1
