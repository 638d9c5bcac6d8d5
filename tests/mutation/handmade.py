"""Hand-written mutations where mutmut cannot reach: the roll-up's SQL (module-level strings), the policy's C#
template (run under Mono), and the named bugs of issue 20, each a small realistic source patch.

Each mutation is applied, one at a time, to a throw-away copy of the repository, and only the tests that protect
its rule are run there; a mutation is killed when they fail. The repository itself is never modified.

    python -m tests.mutation.handmade             # all, prints a Markdown table; exit 1 if any survived
    python -m tests.mutation.handmade -k ptu      # those whose name contains "ptu"
    python -m tests.mutation.handmade --list
    python -m tests.mutation.handmade --baseline  # against the stage's tests without the test_rules_* files
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The mutmut virtualenv holds the project's dependencies without the project: the copy's sources are imported.
PYTHON = ROOT / ".cache" / "mutmut-venv" / "bin" / "python"
TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]
    rule: str


PRICES = "tests/unit/aggregator/test_rules_prices.py"
ROLLUP_RULES = "tests/unit/aggregator/test_rules_rollup.py"
PTU_RULES = "tests/unit/aggregator/test_rules_ptu.py"
FOCUS_RULES = "tests/unit/aggregator/test_rules_focus.py"
POLICY = "tests/integration/policy/test_rules_policy.py"
POLICY_ALL = "tests/integration/policy"
CS = "producer_policy/templates/usage-record.cs"
PARTITION_RULES = "tests/unit/consumer/test_rules_exactly_once.py"
COLUMNAR_RULES = "tests/unit/consumer/test_rules_columnar.py"
REASSEMBLER_RULES = "tests/unit/schemas/test_rules_reassembler.py"

MUTATIONS: tuple[Mutation, ...] = (
    # -- price selection and costing (aggregator/queries/priced.sql, final.sql; grouping in aggregator/rollup.py) -
    Mutation(
        "sql-effective-to-inclusive",
        "aggregator/queries/priced.sql",
        "AND (p.effective_to IS NULL OR $day < p.effective_to)",
        "AND (p.effective_to IS NULL OR $day <= p.effective_to)",
        (PRICES,),
        "a price row is no longer in force on its effective_to day",
    ),
    Mutation(
        "sql-effective-from-exclusive",
        "aggregator/queries/priced.sql",
        "AND (p.effective_from IS NULL OR p.effective_from <= $day)",
        "AND (p.effective_from IS NULL OR p.effective_from < $day)",
        (PRICES,),
        "a price row is in force on its effective_from day",
    ),
    Mutation(
        "sql-star-region-preferred",
        "aggregator/queries/priced.sql",
        "(p.region <> '*') DESC",
        "(p.region <> '*') ASC",
        (PRICES,),
        "an exact region price beats the `*` price",
    ),
    Mutation(
        "sql-undated-model-preferred",
        "aggregator/queries/priced.sql",
        "ORDER BY (p.model = r.model) DESC",
        "ORDER BY (p.model = r.model) ASC",
        (PRICES,),
        "a dated model price beats the undated model price",
    ),
    Mutation(
        "sql-reported-region-beats-map",
        "aggregator/queries/priced.sql",
        "coalesce(d.region, CASE WHEN d.deployment IS NULL THEN star.region END, g.reported_region) AS region",
        "coalesce(g.reported_region, d.region, CASE WHEN d.deployment IS NULL THEN star.region END) AS region",
        (PRICES,),
        "the deployments map region beats the reported region",
    ),
    Mutation(
        "sql-no-output-price-billed-at-zero",
        "aggregator/queries/priced.sql",
        "            WHEN r.completion_tokens > 0 AND c.output_per_1m IS NULL THEN 'no_output_price'\n",
        "",
        (PRICES,),
        "completion tokens with no output price are unpriced, not billed at 0",
    ),
    Mutation(
        "sql-cached-billed-as-input-twice",
        "aggregator/queries/priced.sql",
        "THEN (prompt_tokens - cached_tokens)::DECIMAL(38,0) * input_per_1m * per_token",
        "THEN prompt_tokens::DECIMAL(38,0) * input_per_1m * per_token",
        (ROLLUP_RULES,),
        "prompt tokens include cached tokens: input cost is (prompt - cached) x input price",
    ),
    Mutation(
        "sql-cached-price-falls-back-to-zero",
        "aggregator/queries/priced.sql",
        "THEN cached_tokens::DECIMAL(38,0) * coalesce(cached_input_per_1m, input_per_1m) * per_token",
        "THEN cached_tokens::DECIMAL(38,0) * coalesce(cached_input_per_1m, 0) * per_token",
        (ROLLUP_RULES,),
        "a model without a cached price bills cached tokens at the input price",
    ),
    Mutation(
        "sql-reasoning-added-to-total",
        "aggregator/queries/final.sql",
        "(p.input_cost + p.cached_input_cost + p.output_cost)::{{COST}} AS token_cost",
        "(p.input_cost + p.cached_input_cost + p.output_cost + p.reasoning_cost)::{{COST}} AS token_cost",
        (ROLLUP_RULES,),
        "reasoning cost is part of output cost: shown, never added again",
    ),
    Mutation(
        "sql-failed-counts-4xx-as-success",
        "aggregator/rollup.py",
        "count(*) FILTER (WHERE r.status_code < 400) AS successful",
        "count(*) FILTER (WHERE r.status_code <= 400) AS successful",
        (ROLLUP_RULES,),
        "a 400 is a failed request",
    ),
    Mutation(
        "sql-unsplit-tokens-priced",
        "aggregator/queries/priced.sql",
        "            WHEN r.unsplit_tokens > 0 THEN 'tokens_not_split'\n",
        "",
        (ROLLUP_RULES,),
        "tokens reported only as a total cannot be priced: unpriced `tokens_not_split`",
    ),
    Mutation(
        "sql-ptu-deployment-priced-per-token",
        "aggregator/queries/priced.sql",
        "CASE WHEN ptu.deployment IS NOT NULL THEN 'provisioned'",
        "CASE WHEN false THEN 'provisioned'",
        (ROLLUP_RULES,),
        "a deployment in the PTU config is provisioned: its tokens are priced 0, its cost is the PTU cost",
    ),
    # -- PTU (aggregator/ptu.py) ------------------------------------------------------------------------------
    Mutation(
        "ptu-leftover-to-smallest-remainders",
        "aggregator/ptu.py",
        "key=lambda k: (exact[k] - floored[k], exact[k], -k), reverse=True)[:leftover]",
        "key=lambda k: (exact[k] - floored[k], exact[k], -k))[:leftover]",
        (PTU_RULES,),
        "leftover quanta go to the largest remainders",
    ),
    Mutation(
        "ptu-period-in-force-on-end-day",
        "aggregator/ptu.py",
        "return self.effective_from <= day and (self.effective_to is None or day < self.effective_to)",
        "return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)",
        (PTU_RULES,),
        "a PTU period is not in force on its effective_to day",
    ),
    Mutation(
        "ptu-empty-period-accepted",
        "aggregator/ptu.py",
        "if self.effective_to is not None and self.effective_to <= self.effective_from:",
        "if self.effective_to is not None and self.effective_to < self.effective_from:",
        (PTU_RULES,),
        "an empty PTU period (effective_to = effective_from) is refused",
    ),
    Mutation(
        "ptu-overlap-accepted",
        "aggregator/ptu.py",
        "                if item.deployment in result:\n",
        "                if False:\n",
        (PTU_RULES,),
        "overlapping PTU periods of one deployment are refused",
    ),
    # -- FOCUS (aggregator/focus.py) ---------------------------------------------------------------------------
    Mutation(
        "sql-focus-includes-next-months-first-day",
        "aggregator/focus.py",
        "WHERE d.date >= $first AND d.date < $end",
        "WHERE d.date >= $first AND d.date <= $end",
        (FOCUS_RULES,),
        "a month's FOCUS export excludes the next month's first day",
    ),
    Mutation(
        "py-focus-sub-account-id-from-name",
        "aggregator/focus.py",
        '"SubAccountId": row["subscription_id"]',
        '"SubAccountId": row["subscription_name"]',
        (FOCUS_RULES,),
        "SubAccountId is the subscription id",
    ),
    Mutation(
        "py-focus-region-id-from-resource",
        "aggregator/focus.py",
        '"RegionId": row["region"]',
        '"RegionId": row["deployment"]',
        (FOCUS_RULES,),
        "RegionId is the deployment's region",
    ),
    Mutation(
        "py-focus-charge-period-empty",
        "aggregator/focus.py",
        '"ChargePeriodEnd": start + timedelta(days=1)',
        '"ChargePeriodEnd": start',
        (FOCUS_RULES,),
        "a charge period is the UTC day",
    ),
    Mutation(
        "py-focus-ptu-hours-not-divided-by-rate",
        "aggregator/focus.py",
        "hours = (cost / hourly).quantize(QUANTITY_SCALE) if hourly else None",
        "hours = cost.quantize(QUANTITY_SCALE) if hourly else None",
        (FOCUS_RULES,),
        "a PTU share's consumed quantity is its PTU-hours at the hourly rate",
    ),
    # -- exactly once (consumer/partition.py, consumer/flush_state.py, schemas/reassembler.py) -------------------
    Mutation(
        "py-checkpoint-past-flushed-through",
        "consumer/partition.py",
        "        if target is None or target.sequence_number > flushed:\n",
        "        if target is None:\n",
        (PARTITION_RULES,),
        "THE data-loss rule: the checkpoint never passes flushed_through",
    ),
    Mutation(
        "py-replay-ignores-pending-through",
        "consumer/partition.py",
        "if (pending is not None and seq >= pending) or should_cut(batch):",
        "if should_cut(batch):",
        (PARTITION_RULES,),
        "a replay cuts its batch at the announced pending_through",
    ),
    Mutation(
        "py-replay-rewrites-flushed-events",
        "consumer/partition.py",
        "            if flushed is not None and seq <= flushed:\n",
        "            if flushed is not None and seq < flushed:\n",
        (PARTITION_RULES,),
        "output of events up to flushed_through is not written again",
    ),
    Mutation(
        "py-no-write-ahead",
        "consumer/partition.py",
        "        if self.state.pending_through != last:\n",
        "        if False:\n",
        (PARTITION_RULES,),
        "pending_through is written before a batch's files",
    ),
    Mutation(
        "py-empty-flush-state-is-no-state",
        "consumer/flush_state.py",
        'raise OSError(f"flush state of partition {partition} is being written: retrying")',
        "return FlushState()",
        (PARTITION_RULES,),
        "an empty flush-state file is not 'no state'",
    ),
    Mutation(
        "py-consumer-groups-share-flush-state",
        "consumer/flush_state.py",
        'location.path("flushstate", namespace.lower(), hub.lower(), consumer_group.lower())',
        'location.path("flushstate", namespace.lower(), hub.lower())',
        (PARTITION_RULES,),
        "two consumer groups never share one flush state",
    ),
    Mutation(
        "py-forget-keeps-completed-memory",
        "schemas/reassembler.py",
        "        for key in [k for k in self._recent if k[0] == partition]:\n            del self._recent[key]\n",
        "",
        (REASSEMBLER_RULES,),
        "forget_partition drops the completed-record memory",
    ),
    Mutation(
        "py-expiry-at-exactly-ttl",
        "schemas/reassembler.py",
        "if rec.first_enqueued is None or rec.first_enqueued >= deadline:",
        "if rec.first_enqueued is None or rec.first_enqueued > deadline:",
        (REASSEMBLER_RULES,),
        "an incomplete record expires only when older than the TTL",
    ),
    Mutation(
        "py-out-of-order-first-is-chunk-zero",
        "schemas/reassembler.py",
        "                metas[0],\n                metas[-1].sequence_number,",
        "                ordered[0][1],\n                metas[-1].sequence_number,",
        (REASSEMBLER_RULES,),
        "out-of-order chunks report the earliest event",
    ),
    # -- the columnar fast path (consumer/columnar.py) ----------------------------------------------------------
    Mutation(
        "py-fast-path-takes-status-600",
        "consumer/columnar.py",
        'pc.less_equal(col("status_code"), 599)',
        'pc.less_equal(col("status_code"), 600)',
        (COLUMNAR_RULES,),
        "the fast path refuses status 600 like pydantic",
    ),
    Mutation(
        "py-fast-path-takes-cached-over-prompt",
        "consumer/columnar.py",
        'pc.less_equal(col("cached_tokens"), col("prompt_tokens"))',
        'pc.less_equal(col("cached_tokens"), pc.add(col("prompt_tokens"), 1))',
        (COLUMNAR_RULES,),
        "the fast path refuses cached > prompt like pydantic",
    ),
    Mutation(
        "py-fast-path-takes-reasoning-over-completion",
        "consumer/columnar.py",
        'pc.less_equal(col("reasoning_tokens"), col("completion_tokens"))',
        'pc.is_valid(col("reasoning_tokens"))',
        (COLUMNAR_RULES,),
        "the fast path refuses reasoning > completion like pydantic",
    ),
    Mutation(
        "py-fast-path-takes-long-names",
        "consumer/columnar.py",
        "pc.less_equal(pc.utf8_length(col(name)), 256)",
        "pc.less_equal(pc.utf8_length(col(name)), 257)",
        (COLUMNAR_RULES,),
        "the fast path refuses over-long names like pydantic",
    ),
    Mutation(
        "py-fast-path-takes-33-tags",
        "consumer/columnar.py",
        "ok &= counts <= MAX_TAGS",
        "ok &= counts <= MAX_TAGS + 1",
        (COLUMNAR_RULES,),
        "the fast path refuses more than 32 tags like pydantic",
    ),
    Mutation(
        "py-fast-path-declines-everything",
        "consumer/columnar.py",
        "    return 0 if parsed is None else int(parsed[2].sum())",
        "    return 0",
        (COLUMNAR_RULES,),
        "ordinary rows are taken by the fast path (counted)",
    ),
    # -- the policy's C# ---------------------------------------------------------------------------------------
    Mutation(
        "cs-status-599-becomes-500",
        CS,
        "if (status < 100 || status > 599) { status = 500; }",
        "if (status < 100 || status >= 599) { status = 500; }",
        (POLICY,),
        "status codes 100..599 are kept",
    ),
    Mutation(
        "cs-status-600-kept",
        CS,
        "if (status < 100 || status > 599) { status = 500; }",
        "if (status < 100 || status > 600) { status = 500; }",
        (POLICY,),
        "a status above 599 is recorded as 500",
    ),
    Mutation(
        "cs-33-tags",
        CS,
        "i < names.Length && tags.Count < 32; i++",
        "i < names.Length && tags.Count <= 32; i++",
        (POLICY,),
        "at most 32 tags",
    ),
    Mutation(
        "cs-tag-name-not-cut",
        CS,
        "tags[key.Length > 64 ? key.Substring(0, 64) : key]",
        "tags[key]",
        (POLICY,),
        "tag names are cut to 64 characters",
    ),
    Mutation(
        "cs-tag-value-cut-at-255",
        CS,
        "value.Length > 256 ? value.Substring(0, 256) : value;",
        "value.Length > 255 ? value.Substring(0, 255) : value;",
        (POLICY,),
        "tag values are cut to 256 characters",
    ),
    Mutation(
        "cs-names-cut-at-255",
        CS,
        "new JValue(s.Length > 256 ? s.Substring(0, 256) : s)",
        "new JValue(s.Length > 255 ? s.Substring(0, 255) : s)",
        (POLICY,),
        "names are cut to 256 characters",
    ),
    Mutation(
        "cs-names-not-cut",
        CS,
        "new JValue(s.Length > 256 ? s.Substring(0, 256) : s)",
        "new JValue(s)",
        (POLICY,),
        "names are bounded at 256 characters",
    ),
    Mutation(
        "cs-details-only-usage-reported",
        CS,
        "if (prompt.Type == JTokenType.Null && completion.Type == JTokenType.Null && total.Type == JTokenType.Null) {",
        "if (false) {",
        (POLICY,),
        "usage with only detail objects is missing usage",
    ),
    Mutation(
        "cs-details-only-keeps-details",
        CS,
        "                    cached = JValue.CreateNull();\n                    reasoning = JValue.CreateNull();\n",
        "",
        (POLICY,),
        "usage with only detail objects records no detail counts",
    ),
    Mutation(
        "cs-secret-header-as-tag",
        CS,
        '|| lower.Contains("token") ',
        "",
        (POLICY_ALL,),
        "a header whose name says token is never a tag",
    ),
)


def copy_repository(target: Path) -> None:
    """The tracked and new (not ignored) files of the working tree, as they are now."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for raw in listed:
        if not raw:
            continue
        source = ROOT / raw.decode()
        if not source.is_file():
            continue
        destination = target / raw.decode()
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)
    (target / "node_modules").symlink_to(ROOT / "node_modules")


STAGE_TESTS = {
    "aggregator": ("tests/unit/aggregator", "--ignore=tests/unit/aggregator/test_report_browser.py"),
    "consumer": ("tests/unit/consumer",),
    "schemas": ("tests/unit/schemas",),
    "producer_policy": ("tests/integration/policy",),
}


def baseline_tests(mutation: Mutation) -> tuple[str, ...]:
    """The whole stage's tests as they were before the rule tests (issue 20's "before")."""
    return (*STAGE_TESTS[mutation.file.split("/")[0]], "--ignore-glob=*test_rules_*")


def run_tests(copy: Path, tests: tuple[str, ...]) -> tuple[bool, str]:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONPATH", None)
    command = [str(PYTHON), "-m", "pytest", "-x", "-q", "-p", "no:randomly", "-p", "no:cacheprovider", *tests]
    try:
        done = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        return True, "timeout"
    tail = (done.stdout.strip().splitlines() or [""])[-1]
    return done.returncode != 0, tail


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-k", default="", help="only mutations whose name contains this")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--baseline", action="store_true", help="run the stage's other tests instead of the rule's")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if args.k in m.name]
    if args.list:
        for m in chosen:
            print(f"{m.name}: {m.file}: {m.rule}")
        return 0
    survived = 0
    print("| mutation | file | rule | verdict |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="handmade-mutation-") as scratch:
        copy = Path(scratch)
        copy_repository(copy)
        for mutation in chosen:
            path = copy / mutation.file
            original = path.read_text(encoding="utf-8")
            if original.count(mutation.old) != 1:
                stale = "STALE: the patched text is not there once"
                print(f"| {mutation.name} | {mutation.file} | {mutation.rule} | {stale} |")
                survived += 1
                continue
            path.write_text(original.replace(mutation.old, mutation.new), encoding="utf-8")
            started = time.monotonic()
            try:
                killed, tail = run_tests(copy, baseline_tests(mutation) if args.baseline else mutation.tests)
            finally:
                path.write_text(original, encoding="utf-8")
            verdict = "killed" if killed else f"SURVIVED ({tail})"
            survived += not killed
            print(
                f"| {mutation.name} | {mutation.file} | {mutation.rule} | {verdict} "
                f"({time.monotonic() - started:.0f}s) |",
                flush=True,
            )
    print(f"\n{len(chosen) - survived} of {len(chosen)} killed")
    return 1 if survived else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
