"""Dataset commands: validate, stats, convert, split, scrub, mark-sensitive, export-records.

Exit codes follow ``app.py``: 0 ok, 2 when validation finds an error (or any bad input).
Every command takes ``--json`` for scripts; humans get rich tables.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ._data_output import print_findings, print_fix, split_warnings, warn
from .app import EXIT_USAGE, command, console, fail, input_file, output_path, print_json

FileArg = Annotated[Path, typer.Argument(help="JSONL dataset.", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
ProviderOpt = Annotated[str | None, typer.Option(
    "--provider", "-p", help="Check the provider's rules (openai, fireworks, gemini, huggingface,"
    " local).")]
BaseModelOpt = Annotated[str | None, typer.Option(
    "--base-model", "-m", help="Base model: picks the token limit and the tokenizer.")]
TokenizerOpt = Annotated[Path | None, typer.Option(
    "--tokenizer", help="A local tokenizer.json (or folder) for exact token counts.")]
SeqOpt = Annotated[int | None, typer.Option(
    "--max-seq-length", min=1, help="Token limit per example (overrides the model's).")]

def _kv_table(rows: list[tuple[str, Any]]) -> Table:
    table = Table(show_header=False, box=None)
    for key, value in rows:
        if value is not None:
            table.add_row(f"[bold]{key}[/]", escape(str(value)))
    return table


def _require_examples(file: Path) -> Path:
    """``file`` when it is a readable file with something besides whitespace in it."""
    input_file(file)
    with file.open("rb") as handle:
        while chunk := handle.read(1 << 16):
            if chunk.strip():
                return file
    fail(f"{file} is empty; expected JSONL, one example per line")


@command("validate")
def validate_command(
    file: FileArg,
    provider: ProviderOpt = None,
    base_model: BaseModelOpt = None,
    validation_file: Annotated[Path | None, typer.Option(
        "--validation-file", "-v", help="Also validate this file and check it for leakage.")]
    = None,
    tokenizer: TokenizerOpt = None,
    max_seq_length: SeqOpt = None,
    fix: Annotated[bool, typer.Option(
        "--fix", help="Write a repaired copy (strip whitespace, drop empty turns and exact"
        " duplicate examples, BOM, CRLF, blank lines), report each change, then validate the"
        " copy.")] = False,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Where --fix writes (default: FILE.fixed.jsonl).")] = None,
    show: Annotated[int, typer.Option("--show", min=0, help="Findings to print.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Check a dataset before paying for a job; exit 2 when there is any error.

    Findings print as a table on a terminal, else one per line as FILE:LINE: severity code
    field: message.
    """
    from ..data.fix import fix_file, keep_if_valid
    from ..data.privacy import sidecar_path
    from ..data.validate import validate_file

    input_file(file)
    if validation_file is not None:
        input_file(validation_file, "--validation-file")
    fixed = None
    if fix:
        target = output or file.with_name(file.stem + ".fixed" + (file.suffix or ".jsonl"))
        output_path(target, "--output", sources=(file,))
        # Fixed and validated under a temporary name: the copy is kept only without errors.
        staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            fixed = fix_file(file, staging)
            report = validate_file(staging, provider=provider, base_model=base_model,
                                   validation_path=validation_file, tokenizer=tokenizer,
                                   max_seq_length=max_seq_length)
            keep_if_valid(report, fixed, file, staging, target)
        finally:
            for leftover in (staging, sidecar_path(staging)):
                leftover.unlink(missing_ok=True)
    else:
        report = validate_file(file, provider=provider, base_model=base_model,
                               validation_path=validation_file, tokenizer=tokenizer,
                               max_seq_length=max_seq_length)
    if as_json:
        data = report.to_dict()
        if fixed is not None:
            data["fix"] = fixed.to_dict()
        print_json(data)
    else:
        if fixed is not None:
            print_fix(fixed)
        print_findings(report, show)
        verdict = ("[bold green]ok[/]" if report.ok
                   else f"[bold red]{report.error_count} error(s)[/]")
        noun = "example" if report.examples == 1 else "examples"
        console.print(f"{report.examples:,} {noun} ({report.format or 'unknown format'}),"
                      f" {report.bytes:,} bytes, provider {report.provider or 'any'}: {verdict}")
    if not report.ok:
        if file.suffix.lower() in (".csv", ".tsv"):
            fail(f"{file} is a CSV file; expected JSONL (one JSON example per line): build it"
                 f" with `finetune export-records {file} -o data.jsonl`")
        raise typer.Exit(EXIT_USAGE)


@command("stats")
def stats_command(
    file: FileArg,
    base_model: BaseModelOpt = None,
    tokenizer: TokenizerOpt = None,
    epochs: Annotated[int, typer.Option("--epochs", min=1)] = 1,
    max_seq_length: SeqOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Examples, turns, tokens per example (p50/p95/max, histogram), training tokens."""
    from ..data.stats import compute_stats

    stats = compute_stats(_require_examples(file), base_model=base_model, tokenizer=tokenizer,
                          epochs=epochs, max_seq_length=max_seq_length)
    if as_json:
        print_json(stats.to_dict())
        return
    # The estimate's own name already says what it is ("estimate (~4 chars/token)").
    kind = f"exact: {stats.tokenizer}" if stats.tokens_exact else \
        f"ESTIMATE, {stats.tokenizer.removeprefix('estimate').strip(' ()')}"
    console.print(_kv_table([
        ("file", stats.file), ("examples", stats.examples),
        ("messages", f"{stats.messages} ({stats.turns_mean:.2f} per example,"
                     f" {stats.multi_turn_examples} multi-turn)"),
        ("tokens", f"{stats.tokens_total:,} ({kind})"),
        ("per example", f"p50 {stats.tokens_p50:,} · p95 {stats.tokens_p95:,} ·"
                        f" max {stats.tokens_max:,} · mean {stats.tokens_mean:,.1f}"),
        ("training tokens", f"{stats.training_tokens:,} ({stats.epochs} epoch(s))"),
        ("truncated", f"{stats.truncated} over {stats.max_seq_length:,} tokens"
         if stats.max_seq_length else None),
    ]))
    roles = Table("role", "messages", "tokens", title="role balance", title_justify="left")
    for role, n in stats.role_messages.most_common():
        roles.add_row(role, str(n), f"{stats.role_tokens[role]:,}")
    console.print(roles)
    hist = Table("tokens", "examples", "", title="tokens per example", title_justify="left")
    top = max((n for _, _, n in stats.histogram), default=1)
    for low, high, n in stats.histogram:
        hist.add_row(f"{low:,}-{high:,}", str(n), "█" * max(1, round(30 * n / top)))
    console.print(hist)


def _check_target(to: str) -> None:
    """--to is a provider or a format name; a typo gets both lists and the closest name."""
    import difflib

    from ..data.formats import FORMATS
    from ..errors import ConfigurationError
    from ..registry import available_providers, canonical_name

    target = to.strip().lower()
    if target in FORMATS or target == "canonical":
        return
    try:
        canonical_name(target)
    except ConfigurationError:
        providers = available_providers()
        close = difflib.get_close_matches(target, [*providers, *FORMATS], n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        fail(f"--to {to!r}: expected a provider ({', '.join(providers)}) or a format"
             f" ({', '.join(FORMATS)}).{hint}")


@command("convert")
def convert_command(
    file: FileArg,
    to: Annotated[str, typer.Option("--to", "-t", help="Provider (openai, fireworks, gemini,"
                                    " huggingface, local) or format (chat, prompt_completion,"
                                    " input_output, preference).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output JSONL.")],
    method: Annotated[str, typer.Option("--method", help="sft, dpo or auto.")] = "auto",
    column: Annotated[str | None, typer.Option(
        "--column", help="Hugging Face SFT only: 'messages' (default; chat template applied by"
        " AutoTrain/TRL) or 'text' (each chat rendered as one ChatML string).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a dataset in a provider's wire format (or another input format)."""
    from ..data.convert import convert_file

    options: dict[str, Any] = {"column": column} if column is not None else {}
    _check_target(to)
    _require_examples(file)
    output_path(output, "--output", sources=(file,))
    report = convert_file(file, output, to=to, method=method, **options)
    if as_json:
        print_json(report.to_dict())
    else:
        console.print(f"wrote {report.examples} {report.method} examples"
                      f" ({report.source_format} -> {report.target}) to {report.destination}",
                      markup=False)


@command("split")
def split_command(
    file: FileArg,
    val: Annotated[float, typer.Option("--val", help="Validation fraction.")] = 0.1,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    train_out: Annotated[Path | None, typer.Option("--train-out")] = None,
    val_out: Annotated[Path | None, typer.Option("--val-out")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Deterministic train/validation split (grouped by conversation_id), leakage-checked."""
    from ..data.split import split_file

    suffix = file.suffix or ".jsonl"
    _require_examples(file)
    train_out = output_path(train_out or file.with_name(f"{file.stem}.train{suffix}"),
                            "--train-out", sources=(file,))
    val_out = output_path(val_out or file.with_name(f"{file.stem}.val{suffix}"), "--val-out",
                          sources=(file, train_out))
    report = split_file(file, train_out, val_out, val=val, seed=seed)
    warnings = split_warnings(report)
    if as_json:
        print_json(report.to_dict() | {"warnings": warnings})
    else:
        for warning in warnings:
            warn(warning)
        console.print(f"train: {report.train_examples} -> {report.train_file}\n"
                      f"validation: {report.validation_examples} -> {report.validation_file}\n"
                      f"grouped by {report.grouped_by}, seed {report.seed},"
                      f" leakage {report.leakage}", markup=False)
    if report.leakage:
        raise typer.Exit(EXIT_USAGE)


@command("scrub")
def scrub_command(
    file: FileArg,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Scrubbed copy.")] = None,
    names: Annotated[list[str] | None, typer.Option(
        "--name", help="A name to remove (repeatable).")] = None,
    names_file: Annotated[Path | None, typer.Option(
        "--names-file", help="File with one name per line.")] = None,
    check: Annotated[bool, typer.Option("--check", help="Only report; write nothing.")] = False,
    engine: Annotated[str, typer.Option(
        "--engine", help="regex (built in, offline) or presidio (adds Microsoft Presidio's"
        " NER; needs presidio-analyzer and a spaCy model).")] = "regex",
    as_json: JsonOpt = False,
) -> None:
    """Replace PHI/PII with typed placeholders ([EMAIL], [PHONE], ...); mark the copy scrubbed."""
    from ..data.privacy import PresidioDetector, default_detectors, scrub_file

    input_file(file)
    all_names = list(names or [])
    if names_file is not None:
        input_file(names_file, "--names-file", expected="a UTF-8 text file, one name per line")
        try:
            text = names_file.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            fail(f"--names-file {names_file}: not UTF-8 text (byte {exc.start + 1});"
                 " save it as UTF-8, one name per line")
        all_names += [n.strip() for n in text.splitlines() if n.strip()]
    if output is None and not check:
        output = file.with_name(f"{file.stem}.scrubbed{file.suffix or '.jsonl'}")
    if output is not None and not check:
        output_path(output, "--output", sources=(file,))
    if engine not in ("regex", "presidio"):
        fail(f"--engine {engine!r}: expected regex or presidio")
    detectors = default_detectors(all_names)
    if engine == "presidio":
        try:
            detectors.append(PresidioDetector())
        except (ImportError, OSError) as exc:  # the package, or its spaCy model, is missing
            fail(f"--engine presidio: {exc}")
    report = scrub_file(file, None if check else output, detectors=detectors)
    if as_json:
        print_json(report.to_dict())
    else:
        table = Table("type", "found", "first lines", title=escape(f"PHI/PII in {file}"),
                      title_justify="left")
        for kind, n in sorted(report.counts.items()):
            table.add_row(escape(f"[{kind}]"), str(n),
                          ", ".join(map(str, report.first_lines.get(kind, []))))
        console.print(table if report.counts else "no PHI/PII found by the detectors")
        if report.lines_affected:
            shown = ", ".join(map(str, report.lines_affected[:30]))
            console.print(f"lines affected ({report.lines_affected_total}): {shown}")
        if report.destination:
            console.print(f"scrubbed copy: {escape(str(report.destination))} (marked scrubbed)")
    if check and report.counts:
        raise typer.Exit(EXIT_USAGE)


@command("mark-sensitive")
def mark_sensitive_command(
    file: FileArg,
    unmark: Annotated[bool, typer.Option(
        "--unmark", help="Declare this version of the file not sensitive: its hosted uploads"
        " skip the PHI scan (synthetic data that only looks like PHI).")] = False,
) -> None:
    """Mark a dataset as sensitive: hosted uploads then need a scrub, or allow_sensitive=True
    (`finetune train --allow-sensitive`)."""
    from ..data.privacy import mark_sensitive, sidecar_path

    input_file(file, expected="a dataset file")
    mark_sensitive(file, not unmark)
    console.print(f"{'unmarked' if unmark else 'marked sensitive'}: {escape(str(file))}"
                  f" ({sidecar_path(file).name})")


def _check_columns(file: Path, columns: dict[str, str | None], sample: int = 1000) -> None:
    """Every mapped column must exist in the export: a typo would otherwise drop every row."""
    import difflib
    import itertools

    from ..data.records import read_records

    seen: dict[str, None] = {}
    rows = 0
    for row in itertools.islice(read_records(file), sample):
        rows += 1
        if isinstance(row, dict):
            seen.update(dict.fromkeys(map(str, row)))
    if rows == 0:
        fail(f"{file} has no records; expected an app export with a header row (CSV) or"
             " one object per record (JSONL/JSON)")
    for flag, column in columns.items():
        if column is not None and column not in seen:
            close = difflib.get_close_matches(column, list(seen), n=1) or [
                name for name in seen if column.lower() in name.lower()][:1]
            hint = f" Did you mean {flag} {close[0]!r}?" if close else ""
            fail(f"{flag} {column!r}: no such column in {file} (columns:"
                 f" {', '.join(list(seen)[:20]) or 'none'}).{hint}")


@command("export-records")
def export_records_command(
    file: Annotated[Path, typer.Argument(help="App export: .csv, .jsonl or .json.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Chat JSONL to write.")],
    user_field: Annotated[str, typer.Option("--user-field")] = "user_message",
    assistant_field: Annotated[str, typer.Option("--assistant-field")] = "assistant_reply",
    system_field: Annotated[str | None, typer.Option("--system-field")] = None,
    system_prompt: Annotated[str | None, typer.Option("--system-prompt")] = None,
    rating_field: Annotated[str, typer.Option("--rating-field")] = "rating",
    min_rating: Annotated[float | None, typer.Option("--min-rating")] = None,
    conversation_field: Annotated[str | None, typer.Option("--conversation-field")] = None,
    turn_field: Annotated[str | None, typer.Option("--turn-field")] = None,
    id_field: Annotated[str | None, typer.Option("--id-field")] = None,
    multi_turn: Annotated[bool, typer.Option(
        "--multi-turn", help="Join the kept turns of a conversation into one example.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Build chat JSONL from app records: field mapping, rating filter, system prompt."""
    from ..data.records import FieldMapping, export_records

    input_file(file, expected="an app export (.csv, .jsonl or .json)")
    output_path(output, "--output", sources=(file,))
    if multi_turn and not conversation_field:
        fail("--multi-turn needs --conversation-field (the column that groups the turns)")
    _check_columns(file, {
        "--user-field": user_field, "--assistant-field": assistant_field,
        "--system-field": system_field, "--conversation-field": conversation_field,
        "--turn-field": turn_field, "--id-field": id_field,
        "--rating-field": rating_field if min_rating is not None else None})
    mapping = FieldMapping(user=user_field, assistant=assistant_field, system=system_field,
                           rating=rating_field, min_rating=min_rating,
                           conversation=conversation_field, turn=turn_field, id=id_field,
                           system_prompt=system_prompt, multi_turn=multi_turn)
    # Written next to OUTPUT first: an export that keeps nothing must not replace a good file.
    staging = output.with_name(f".{output.name}.export.tmp")
    try:
        summary = export_records(file, staging, mapping)
        if summary.examples == 0:
            reasons = ", ".join(f"{n} {reason}" for reason, n in summary.dropped.most_common())
            fail(f"{file}: no examples to write ({summary.rows} rows read"
                 f"{'; dropped: ' + reasons if reasons else ''}); {output} was not written")
        os.replace(staging, output)
    finally:
        staging.unlink(missing_ok=True)
    if as_json:
        print_json(summary.to_dict())
        return
    console.print(f"{summary.rows} rows read, {summary.kept_rows} kept,"
                  f" {summary.examples} examples written to {output}", markup=False)
    if summary.dropped:
        table = Table("dropped because", "rows", "first rows", title_justify="left")
        for reason, n in summary.dropped.most_common():
            first = ", ".join(map(str, summary.dropped_rows[reason][:10]))
            table.add_row(escape(reason), str(n), first)
        console.print(table)
