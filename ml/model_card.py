"""Render the short ``MODEL_CARD.md`` of an artifact from its ``meta.json``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _metrics_rows(metrics: Mapping[str, Any]) -> list[str]:
    lines = [
        "| test set | rows | positives | ROC AUC | PR AUC | Brier | ECE | precision @publish | recall @publish "
        "| FPR @publish | FPR @reject |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in metrics.items():
        entries = [(name, m)] + [(f"{name}, {group}", g) for group, g in m.get("groups", {}).items()]
        for label, entry in entries:
            publish = entry["at"].get("publish", {})
            reject = entry["at"].get("reject", {})
            lines.append(
                f"| {label} | {entry['rows']} | {entry['positives']} | {_number(entry['roc_auc'])} "
                f"| {_number(entry['pr_auc'])} | {_number(entry.get('brier'))} | {_number(entry.get('ece'))} "
                f"| {_number(publish.get('precision'))} "
                f"| {_number(publish.get('recall'))} | {_number(publish.get('false_positive_rate'))} "
                f"| {_number(reject.get('false_positive_rate'))} |"
            )
    return lines


def _calibration_lines(meta: Mapping[str, Any]) -> list[str]:
    calibration = meta.get("calibration", {})
    if not calibration:
        return []
    lines = ["", "## Calibration", f"- {meta.get('calibration_rule', 'none recorded')}."]
    for attribute, entry in calibration.items():
        before, after = entry.get("validation_before", {}), entry.get("validation_after", {})
        line = f"- {attribute}: a = {entry.get('slope', 1.0):.3f}, b = {entry.get('intercept', 0.0):.3f}"
        if before and after:
            line += (
                f"; validation Brier {_number(before.get('brier'))} -> {_number(after.get('brier'))}, "
                f"ECE {_number(before.get('ece'))} -> {_number(after.get('ece'))}"
            )
        lines.append(line + ".")
    lines.append(
        "- Calibrated to the validation mix of the training sets; Brier and ECE (10 equal-width bins) per test "
        "set are in the metrics below. A site whose share of toxic comments differs will see other rates."
    )
    return lines


def _attribute_head_lines(meta: Mapping[str, Any]) -> list[str]:
    heads = meta.get("attribute_heads")
    if not heads:
        return []
    rules = heads["rules"]
    lines = [
        "",
        "## Attribute heads",
        f"- Each extra attribute is its own logistic regression on the rows of the sets that label it (same "
        f"features, weighting and augmentation). It ships only with at least {rules['min_train_positives']} "
        f"training positives, {rules['min_validation_positives']} validation positives and a validation ROC AUC "
        f"of at least {rules['min_validation_roc_auc']}; at most {rules['max_nonzero_weights'] or 'all'} "
        "coefficients each.",
    ]
    for attribute, summary in heads.get("shipped", {}).items():
        sources = ", ".join(
            f"{name} ({counts['positives']}/{counts['rows']})" for name, counts in summary["training_data"].items()
        )
        lines.append(
            f"- {attribute}: shipped; {summary['train_positives']} of {summary['train_rows']} training rows positive, "
            f"validation ROC AUC {_number(summary['validation_roc_auc'])} on {summary['validation_rows']} rows "
            f"({summary['validation_positives']} positive); labels from {sources}."
        )
    for attribute, reason in heads.get("left_out", {}).items():
        lines.append(f"- {attribute}: left out, {reason}.")
    return lines


def _block_summary(block: Mapping[str, Any]) -> str:
    if block["analyzer"] == "lexicon":
        return (
            f"lexicon {block.get('source') or '(inline)'} v{block.get('version')}: {len(block['terms']):,} terms "
            f"in {', '.join(block['categories'])}"
            + (", and a column for terms inside a short quotation (mentioned, not used)" if block.get("quoted") else "")
        )
    low, high = block["ngram_range"]
    return f"{block['analyzer']} {low}-{high}-grams in {block['n_features']:,} buckets"


def _values(scheme: str) -> str:
    return (
        f"hashing {scheme}; every n-gram occurrence counts 1/sqrt(the block's occurrences in the text), "
        "a lexicon column is 1 when a term of its category occurs"
    )


def render_model_card(meta: Mapping[str, Any]) -> str:
    config = meta.get("config", {})
    blocks = ", ".join(_block_summary(block) for block in meta["features"]["blocks"])
    classifier = meta["classifier"]
    lines = [
        f"# Model card: {meta['version']}",
        "",
        f"{meta.get('description', '')}",
        "",
        "## Model",
        f"- Attributes: {', '.join(meta['attributes'])} (probabilities from 0 to 1).",
        "- Features: text normalised by `ml.normalise.normalise_text` "
        f"(version {meta['features']['normalisation_version']}), "
        f"then {blocks}; {_values(meta['features'].get('hashing', ''))}.",
        f"- Classifier: logistic regression (liblinear, C={classifier['C']}), data sets weighted "
        f"'{classifier['dataset_weighting']}'; the {classifier['max_nonzero_weights'] or 'all'} largest of "
        f"{classifier['nonzero_coefficients_before_pruning']:,} coefficients kept.",
        f"- Trained {meta['created_at']} with Python {meta['libraries']['python']}, scikit-learn "
        f"{meta['libraries']['scikit-learn']}, numpy {meta['libraries']['numpy']}; loading needs NumPy's .npz "
        f"format, hashing {meta['features'].get('hashing')} and normalisation version "
        f"{meta['features']['normalisation_version']}, not scikit-learn.",
        "",
        "## Suggested thresholds",
    ]
    for attribute, values in meta["thresholds"].items():
        reject = values.get("reject")
        rejects = "never reject" if reject is None else f"reject at or above {reject}"
        lines.append(f"- {attribute}: publish below {values.get('publish')}, hold at or above it; {rejects}.")
    rules = meta["threshold_rules"]
    lines += [
        f"- Chosen on {rules['chosen_on']}. publish: {rules['publish']}. reject: {rules['reject']}.",
        "- The validation mix is far richer in positives than real comment traffic, so calibrate on your own.",
        *_calibration_lines(meta),
        *_attribute_head_lines(meta),
        "",
        "## Training data",
        "| data set | licence | train rows | positives | source |",
        "|---|---|---:|---:|---|",
    ]
    for summary in meta["training_data"]:
        note = f" ({summary['note']})" if summary.get("note") else ""
        lines.append(
            f"| {summary['name']}{note} | {summary['licence']} | {summary['train_rows']} "
            f"| {summary['train_positives']} | {summary['source']} |"
        )
    if meta.get("test_only_data"):
        lines += ["", "Test only (not trained on):", ""]
        for summary in meta["test_only_data"]:
            lines.append(f"- {summary['name']}: {summary['licence']}; {summary['source']}")
    lines += [
        "",
        "## Held-out metrics",
        "Test splits as in each set's PROVENANCE.md; the model never saw them during training or threshold choice. "
        "'(obfuscated)': the same rows with the positive ones perturbed by `ml.obfuscation` (one word in three, "
        "fixed seed); 'slice': hand-written rows in `ml/eval/` (all non-toxic, so only false positive rates).",
        "",
        *_metrics_rows(meta["metrics"]),
    ]
    for attribute, metrics in meta.get("attribute_metrics", {}).items():
        lines += ["", f"### {attribute}", "", *_metrics_rows(metrics)]
    caveats = config.get("caveats", [])
    if caveats:
        lines += ["", "## Caveats", *[f"- {caveat}" for caveat in caveats]]
    lines += [
        "",
        "## Reproduce",
        f"`python -m ml train --model {meta['name']} --data <shared data dir> --version {meta['version']}`",
        "",
    ]
    return "\n".join(lines)
