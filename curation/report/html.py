"""The run report's page: sections of tables and charts from gathered numbers (no Spark here).

Every count a person reads is also in a ``data-*`` attribute of its row or figure, so tools and
tests read the same numbers without scraping text. Text from the data is always HTML-escaped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from string import Template
from typing import Any

from curation import columns as C
from curation.report.model import (
    SAMPLE_CHARS,
    SAMPLES_PER_REASON,
    Categories,
    Histogram,
    ReportData,
)
from curation.report.svg import (
    COLORS,
    esc,
    fmt_bytes,
    fmt_num,
    legend,
    stage_palette,
    svg_funnel,
    svg_hbars_colored,
    svg_hbars_stacked,
    svg_histogram,
)

TEMPLATE = Path(__file__).parents[1] / "data" / "report_template.html"
# Where a token count would be, in a run whose recipe named no tokenizer: said, not estimated.
NO_TOKENIZER = "tokens: no tokenizer in the recipe"
SHOWN_CATEGORIES = 15


def _pct(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "-"


def render(data: ReportData) -> str:
    """The whole page: sections in reading order, inside the template's CSS."""
    sections = [
        ("summary", "Summary", _summary_html(data)),
        ("funnel", "Funnel", _funnel_html(data)),
        ("drops", "Drops by stage and reason", _drops_html(data)),
    ]
    for section in data.sections:
        sections.append(
            (section.id, section.title, _signals_html(data, section.id, section.absent))
        )
    sections += [
        ("samples", "Sample rejected documents", _samples_html(data)),
        ("timings", "Timings", _timings_html(data)),
        ("versions", "Versions", _versions_html(data)),
        ("config", "Run config", _config_html(data)),
    ]
    body = "\n".join(
        f'<section id="{sid}"><h2>{esc(title)}</h2>\n{content}\n</section>'
        for sid, title, content in sections
    )
    nav = " ".join(f'<a href="#{sid}">{esc(title)}</a>' for sid, title, _ in sections)
    started = data.record.get("started_at", "")
    page = Template(TEMPLATE.read_text(encoding="utf-8"))
    return page.substitute(
        title=esc(f"curation run {data.run_id}"),
        subtitle=esc(f"output {data.record['config'].get('output', '')} - started {started}"),
        nav=nav,
        body=body,
    )


def _run_row(data: ReportData) -> Mapping[str, Any]:
    return next(r for r in data.stats if r["stage"] == "run")


def _counts_tokens(data: ReportData) -> bool:
    """Whether the run counted tokens (its recipe named a tokenizer)."""
    return _run_row(data).get("tokens_in") is not None


def _tokens_attrs(row: Mapping[str, Any], *columns: str) -> str:
    """``data-tokens-*`` attributes of a stats row's token columns, when it has them."""
    return "".join(
        f' data-{c.replace("_", "-")}="{row[c]}"' for c in columns if row.get(c) is not None
    )


def _summary_html(data: ReportData) -> str:
    run = _run_row(data)
    kept_bytes = data.bytes_total - sum(data.bytes_dropped.values())
    cards = [
        ("documents in", f"{run['rows_in']:,}"),
        ("kept", f"{run['rows_kept']:,} ({_pct(run['rows_kept'], run['rows_in'])})"),
        ("rejected", f"{run['rows_dropped']:,}"),
        ("bytes in", fmt_bytes(data.bytes_total)),
        ("bytes kept", f"{fmt_bytes(kept_bytes)} ({_pct(kept_bytes, data.bytes_total)})"),
    ]
    if _counts_tokens(data):
        tokens_in, tokens_kept = run["tokens_in"], run["tokens_kept"]
        cards += [
            ("tokens in", f"{tokens_in:,}"),
            ("tokens kept", f"{tokens_kept:,} ({_pct(tokens_kept, tokens_in)})"),
        ]
    else:
        cards.append(("tokens", NO_TOKENIZER))
    cards.append(("run time", f"{run['seconds']:,.1f} s"))
    out = [
        f'<div class="cards" data-run-id="{esc(data.run_id)}" data-rows-in="{run["rows_in"]}" '
        f'data-rows-kept="{run["rows_kept"]}" data-rows-rejected="{run["rows_dropped"]}" '
        f'data-bytes-in="{data.bytes_total}" data-bytes-kept="{kept_bytes}"'
        f"{_tokens_attrs(run, 'tokens_in', 'tokens_kept', 'tokens_dropped')}>"
    ]
    out += [
        f'<div class="card"><div class="v">{esc(v)}</div><div class="k">{esc(k)}</div></div>'
        for k, v in cards
    ]
    out.append("</div>")
    out += [f'<p class="warn">{esc(w)}</p>' for w in data.warnings]
    return "\n".join(out)


def _stage_rows(data: ReportData) -> list[Mapping[str, Any]]:
    return [r for r in data.stats if r["reason"] is None and r["stage"] != "run"]


def _funnel_html(data: ReportData) -> str:
    stages = _stage_rows(data)
    if not stages:
        return '<p class="empty">The run has no stages.</p>'
    total = data.bytes_total
    lines = []
    remaining = total
    for r in stages:
        bytes_in = remaining
        remaining = bytes_in - data.bytes_dropped.get(r["stage"], 0)
        lines.append((r, bytes_in, remaining))
    docs_in = stages[0]["rows_in"]
    svg = svg_funnel(
        [(r["stage"], r["rows_in"], r["rows_kept"], b_in, b_kept) for r, b_in, b_kept in lines],
        docs_in,
        total,
    )
    tokens = _counts_tokens(data)
    token_heads = (
        "<th class=n>tokens in</th><th class=n>tokens kept</th><th class=n>tokens kept %</th>"
        if tokens
        else f"<th>{esc(NO_TOKENIZER)}</th>"
    )
    table = [
        "<table><tr><th>stage</th><th>kind</th><th class=n>documents in</th><th class=n>kept</th>"
        "<th class=n>dropped</th><th class=n>kept %</th><th class=n>bytes in</th>"
        f"<th class=n>bytes kept</th><th class=n>bytes kept %</th>{token_heads}</tr>"
    ]
    for r, b_in, b_kept in lines:
        token_cells = (
            f"<td class=n>{r['tokens_in']:,}</td><td class=n>{r['tokens_kept']:,}</td>"
            f"<td class=n>{_pct(r['tokens_kept'], r['tokens_in'])}</td>"
            if tokens
            else "<td>-</td>"
        )
        table.append(
            f'<tr class="funnel" data-stage="{esc(r["stage"])}" data-rows-in="{r["rows_in"]}" '
            f'data-rows-kept="{r["rows_kept"]}" data-rows-dropped="{r["rows_dropped"]}" '
            f'data-bytes-in="{b_in}" data-bytes-kept="{b_kept}"'
            f"{_tokens_attrs(r, 'tokens_in', 'tokens_kept', 'tokens_dropped')}>"
            f"<td>{esc(r['stage'])}</td><td>{esc(r['kind'])}</td>"
            f"<td class=n>{r['rows_in']:,}</td><td class=n>{r['rows_kept']:,}</td>"
            f"<td class=n>{r['rows_dropped']:,}</td>"
            f"<td class=n>{_pct(r['rows_kept'], r['rows_in'])}</td>"
            f"<td class=n>{fmt_bytes(b_in)}</td><td class=n>{fmt_bytes(b_kept)}</td>"
            f"<td class=n>{_pct(b_kept, b_in)}</td>{token_cells}</tr>"
        )
    table.append("</table>")
    note = (
        '<p class="note">Bytes are UTF-8 bytes of the stored text (after any rewriting stage); '
        "bars are shares of the run's input."
        + (
            " Tokens are counted once, on the text as read, with the recipe's tokenizer."
            if tokens
            else ""
        )
        + "</p>"
    )
    return svg + "\n" + "\n".join(table) + note


def _drops_html(data: ReportData) -> str:
    drops = [r for r in data.stats if r["reason"] is not None]
    if not drops:
        return '<p class="empty">No document was dropped.</p>'
    ordered = sorted(drops, key=lambda r: (-r["rows_dropped"], r["stage"], r["reason"]))
    palette = stage_palette([r["stage"] for r in _stage_rows(data)])
    bars = [(r["reason"], [r["rows_dropped"]], palette.get(r["stage"], COLORS[1])) for r in ordered]
    svg = svg_hbars_colored(bars)
    run = _run_row(data)
    tokens = _counts_tokens(data)
    token_heads = (
        "<th class=n>tokens dropped</th><th class=n>% of stage tokens</th>"
        "<th class=n>% of run tokens</th>"
        if tokens
        else f"<th>{esc(NO_TOKENIZER)}</th>"
    )
    table = [
        "<table><tr><th>stage</th><th>reason</th><th class=n>dropped</th>"
        f"<th class=n>% of stage input</th><th class=n>% of run input</th>{token_heads}</tr>"
    ]
    for r in sorted(drops, key=lambda r: (r["stage_index"], r["reason"])):
        token_cells = (
            f"<td class=n>{r['tokens_dropped']:,}</td>"
            f"<td class=n>{_pct(r['tokens_dropped'], r['tokens_in'])}</td>"
            f"<td class=n>{_pct(r['tokens_dropped'], run['tokens_in'])}</td>"
            if tokens
            else "<td>-</td>"
        )
        table.append(
            f'<tr class="drop" data-stage="{esc(r["stage"])}" data-reason="{esc(r["reason"])}" '
            f'data-rows-dropped="{r["rows_dropped"]}"{_tokens_attrs(r, "tokens_dropped")}>'
            f"<td>{esc(r['stage'])}</td>"
            f'<td><a href="#sample-{esc(_slug(r["reason"]))}">{esc(r["reason"])}</a></td>'
            f"<td class=n>{r['rows_dropped']:,}</td>"
            f"<td class=n>{_pct(r['rows_dropped'], r['rows_in'])}</td>"
            f"<td class=n>{_pct(r['rows_dropped'], run['rows_in'])}</td>{token_cells}</tr>"
        )
    table.append("</table>")
    return svg + "\n" + "\n".join(table)


def _signals_html(data: ReportData, section: str, empty: str) -> str:
    hists = [h for h in data.histograms if h.signal.section == section]
    cats = [c for c in data.categories if c.signal.section == section]
    clusters = data.cluster_sizes if section == data.cluster_section else None
    skipped = [why for where, why in data.skipped if where == section]
    if not hists and not cats and not clusters:
        note = f" Not charted: {'; '.join(skipped)}." if skipped else ""
        return f'<p class="empty">No data: {esc(empty)}.{esc(note)}</p>'
    out = [legend()]
    figures = []
    for c in cats:
        figures.append(_categories_figure(c))
    for h in hists:
        figures.append(_histogram_figure(h))
    if clusters:
        figures.append(_clusters_figure(clusters))
    out.append('<div class="grid">' + "\n".join(figures) + "</div>")
    if skipped:
        out.append('<p class="note">Not charted: ' + esc("; ".join(skipped)) + "</p>")
    return "\n".join(out)


def _histogram_figure(h: Histogram) -> str:
    s = h.signal
    cuts = "".join(f' data-threshold-{esc(_slug(k))}="{v}"' for k, v in s.thresholds.items())
    shown = ", ".join(f"{k} = {fmt_num(v)}" for k, v in s.thresholds.items())
    binned = sum(map(sum, h.bins)) + sum(h.under) + sum(h.over)
    caption = (
        f"{esc(s.column)} <small>({esc(s.stage or 'unknown stage')}; {h.n:,} values, "
        f"min {fmt_num(h.minimum)}, max {fmt_num(h.maximum)}"
        + (f"; threshold {esc(shown)}" if shown else "")
        + ")</small>"
    )
    return (
        f'<figure class="hist" data-column="{esc(s.column)}" data-stage="{esc(s.stage or "")}" '
        f'data-count="{h.n}" data-binned="{binned}"{cuts}>'
        f"<figcaption>{caption}</figcaption>{svg_histogram(h)}</figure>"
    )


def _categories_figure(c: Categories) -> str:
    shown = c.values[:SHOWN_CATEGORIES]
    rest = c.values[SHOWN_CATEGORIES:]
    rows = [(v, counts) for v, counts in shown]
    if rest:
        other = [sum(x[1][k] for x in rest) for k in range(3)]
        rows.append((f"({len(rest)} other values)", other))
    total = sum(sum(v) for _, v in c.values)
    attrs = "".join(
        f' data-value-{esc(_slug(v))}="{sum(n)}"' for v, n in c.values[:SHOWN_CATEGORIES]
    )
    return (
        f'<figure class="categories" data-column="{esc(c.signal.column)}" data-count="{total}"'
        f"{attrs}><figcaption>{esc(c.signal.column)} <small>({esc(c.signal.stage or '')}; "
        f"{total:,} values, {c.distinct:,} distinct)</small></figcaption>"
        f"{svg_hbars_stacked(rows)}</figure>"
    )


def _clusters_figure(sizes: Sequence[tuple[int, int]]) -> str:
    rows = [(f"{size} documents", [n, 0, 0]) for size, n in sizes[:SHOWN_CATEGORIES]]
    if len(sizes) > SHOWN_CATEGORIES:
        rest = sizes[SHOWN_CATEGORIES:]
        rows.append((f"{rest[0][0]}+ documents", [sum(n for _, n in rest), 0, 0]))
    clusters = sum(n for _, n in sizes)
    copies = sum((size - 1) * n for size, n in sizes)
    return (
        f'<figure class="clusters" data-clusters="{clusters}" data-copies="{copies}">'
        "<figcaption>duplicate clusters by "
        f"size <small>(survivor + dropped copies; {clusters:,} clusters)</small></figcaption>"
        f"{svg_hbars_stacked(rows, colors=('#6e7fb8',) * 3)}</figure>"
    )


def _samples_html(data: ReportData) -> str:
    if not data.samples:
        return '<p class="empty">No rejected documents to show.</p>'
    out = [
        f'<p class="note">Up to {SAMPLES_PER_REASON} randomly sampled documents per reason, '
        f"text as stored (after any rewriting stage) cut at {SAMPLE_CHARS} characters, so a "
        "person can judge the reason.</p>"
    ]
    for reason in sorted(data.samples):
        rows = data.samples[reason]
        out.append(f'<h3 id="sample-{esc(_slug(reason))}">{esc(reason)}</h3>')
        for r in rows:
            signals = ", ".join(
                f"{c}={_fmt_value(r.get(c))}"
                for c in data.sample_columns.get(reason, [])
                if r.get(c) is not None
            )
            more = r["text_chars"] is not None and r["text_chars"] > SAMPLE_CHARS
            tokens = f", {r[C.N_TOKENS]:,} tokens" if r.get(C.N_TOKENS) is not None else ""
            out.append(
                f'<div class="sample" data-reason="{esc(reason)}" data-id="{esc(r[C.ID])}">'
                f'<div class="head">id {esc(r[C.ID])} - {esc(r["text_chars"])} characters'
                + esc(tokens)
                + (f" - {esc(signals)}" if signals else "")
                + f"</div><pre>{esc(r['text_head'])}{'...' if more else ''}</pre></div>"
            )
    return "\n".join(out)


def _fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _timings_html(data: ReportData) -> str:
    rows = _stage_rows(data)
    run = _run_row(data)
    out = ["<table><tr><th>stage</th><th>kind</th><th class=n>seconds</th><th>notes</th></tr>"]
    for r in rows:
        details = json.loads(r["details"]) if r.get("details") else {}
        fused = details.get("fused_with")
        note = f"time of the fused pass {'+'.join(fused)}" if fused else ""
        extra = {k: v for k, v in details.items() if k != "fused_with"}
        if extra:
            note = "; ".join(x for x in (note, json.dumps(extra, sort_keys=True)) if x)
        out.append(
            f'<tr class="timing" data-stage="{esc(r["stage"])}" data-seconds="{r["seconds"]}">'
            f"<td>{esc(r['stage'])}</td><td>{esc(r['kind'])}</td>"
            f"<td class=n>{r['seconds']:,.1f}</td><td>{esc(note)}</td></tr>"
        )
    out.append(
        f"<tr><th>run</th><th></th><th class=n>{run['seconds']:,.1f}</th>"
        "<th>wall time, including writing the outputs</th></tr></table>"
    )
    out.append('<p class="note">Stages fused into one Python pass share that pass\'s time.</p>')
    return "\n".join(out)


def _versions_html(data: ReportData) -> str:
    out = [
        "<h3>Tables</h3><table><tr><th>table</th><th>path</th><th class=n>version</th>"
        "<th class=n>latest</th><th>note</th></tr>"
    ]
    for v in data.versions:
        note = v.get("note") or (
            f"committed by this run at {v['committed']}" if v.get("committed") else ""
        )
        out.append(
            f'<tr class="version" data-table="{esc(v["table"])}" '
            f'data-version="{esc(v["version"])}"><td>{esc(v["table"])}</td>'
            f"<td>{esc(v['path'])}</td><td class=n>{esc(v['version'])}</td>"
            f"<td class=n>{esc(v['latest'])}</td><td>{esc(note)}</td></tr>"
        )
    out.append("</table>")
    recorded = data.record.get("versions")
    label = (
        "recorded by the run"
        if isinstance(recorded, dict)
        else ("of the environment that made this report (the run did not record its own)")
    )
    packages = recorded if isinstance(recorded, dict) else data.packages
    out.append(f"<h3>Packages <small>({esc(label)})</small></h3><table>")
    out += [
        f'<tr class="package" data-package="{esc(k)}"><td>{esc(k)}</td><td>{esc(v)}</td></tr>'
        for k, v in packages.items()
    ]
    out.append("</table>")
    return "\n".join(out)


def _config_html(data: ReportData) -> str:
    body = json.dumps(data.record.get("config"), indent=2, sort_keys=False)
    fingerprint = data.record.get("fingerprint", "")
    return (
        f'<p class="note">From _runs/{esc(data.run_id)}/run.json (fingerprint '
        f'{esc(fingerprint)}).</p><pre class="config">{esc(body)}</pre>'
    )


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in str(text).lower()).strip("-")
