#!/usr/bin/env python3
"""The 100-rule pack and the request body of benches/serve-load.sh.

    benches/serve-pack.py DIR [--version 1.0.N]   # write DIR/bench.tenet (a good pack)
    benches/serve-pack.py DIR --broken            # the same pack with a syntax error in rule 50
    benches/serve-pack.py --out FILE [--version V] [--broken]   # write FILE instead
    benches/serve-pack.py --body                  # print the POST /v1/evaluate body (JSON)
    benches/serve-pack.py --print [--broken]      # print the pack instead of writing it

The pack (`pack bench`) has 100 decided blocks: 60 `action`s, 30 `rule`s
(`on action`) and 10 `threshold`s, over an input with an action, an actor
and a context. Conditions mix comparisons, `in`/`not in`, regex `matches`,
quantifiers (`any`, `all`, `count`), arithmetic, sizes, durations, string
builtins and `if`, in ten shapes with varied constants; most rules fail on
a later conjunct than the first, so deciding the bench input is not a
string of one-comparison misses. Exactly the blocks in MATCHING match the
bench input; the pack carries a `test` that says so (`tenet test DIR`).

`--kind one` writes a single rule that does not match the body (the cost
of the server around a decision). `--kind typical` writes instead the 100-rule pack of `benches/dsl.rs`
(`generated_pack(100)`, the pack the language's decision target was set
on: five comparisons per rule over a nested fact, 7 of 100 match) and its
fact as the body.

The text is the same for a given version, so rewriting it with a new
version changes the bundle fingerprint and nothing else. Files are written
atomically (a temporary file beside the target, then a rename): the server's
watcher sees one finished file, as after an editor's save. `--in-place`
truncates and rewrites the file instead.
"""

import argparse
import json
import os
import random
import sys

RULES = 100
PACK = "bench"
FILE = "bench.tenet"
# The rules that match the bench input (indexes into the 100).
MATCHING = (7, 23, 38, 54, 81)
# The rule whose condition --broken breaks.
BROKEN_AT = 50

INPUT = {
    "action": {
        "verb": "delete",
        "rows": 25000,
        "tenant": "acme",
        "region": "eu-west-1",
        "env": "prod",
        "table": "orders_2026",
        "tags": ["pii", "finance", "batch"],
        "volume": "750MB",
        "window": "45m",
        "ticket": "INC-4821",
        "targets": [
            {"tenant": "acme", "rows": 12000},
            {"tenant": "acme", "rows": 9000},
            {"tenant": "globex", "rows": 4000},
        ],
    },
    "actor": {
        "id": "alice",
        "role": "operator",
        "mfa": True,
        "groups": ["dba", "oncall"],
        "email": "Alice@Acme.example",
        "tenure_days": 420,
    },
    "context": {"source": "console", "hour": 14, "freeze": False, "client": "2.4.1"},
}

OTHER_VERBS = ["export", "copy", "override", "update", "grant", "restore", "truncate", "purge"]
OTHER_REGIONS = ["us", "ap", "sa", "me", "af"]
TABLES = ["invoices", "users", "events", "ledger", "sessions", "payments"]
DOMAINS = ["globex.example", "initech.example", "umbrella.example", "hooli.example"]
ROLES = ["admin", "dba", "sre", "analyst", "support"]
LEVELS = ["critical", "high", "medium", "low"]


def q(s):
    """A tenet string literal (no interpolation)."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("{", "\\{").replace("}", "\\}") + '"'


def lit(v):
    """A JSON value as a tenet literal (for the test's input)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return q(v)
    if isinstance(v, list):
        return "[" + ", ".join(lit(x) for x in v) + "]"
    return "{" + ", ".join(f"{k}: {lit(x)}" for k, x in v.items()) + "}"


def qlist(xs):
    return "[" + ", ".join(q(x) for x in xs) + "]"


def block(i, hit, rng):
    """Rule i: (kind, name, fields), the condition holding on INPUT iff `hit`."""
    shape = i % 10
    pick = rng.choice
    name = f"r{i:03d}"
    risk = pick(LEVELS)
    if shape == 0:
        # Comparisons and a membership; misses on the verb, read last.
        verb = "delete" if hit else pick(OTHER_VERBS)
        n = rng.randrange(1_000, 20_000, 500)
        return "action", name, [
            ("match", f'action.rows >= {n} and action.env in ["prod", "staging"] and action.verb == {q(verb)}'),
            ("risk", risk),
            ("require", "[dual_control, justification]"),
            ("because", f'"{{action.verb}} of {{action.rows}} rows (limit {n}) in {{action.env}}"'),
        ]
    if shape == 1:
        # Arithmetic; misses on the role, read last.
        k, c = rng.randint(2, 5), rng.randint(0, 999)
        lim = rng.randrange(10_000, 40_000, 1_000)
        role = "admin" if hit else "operator"
        return "action", name, [
            ("match", f"action.rows * {k} + {c} > {lim} and actor.mfa and actor.role != {q(role)}"),
            ("risk", risk),
            ("hold", f"{rng.choice([5, 10, 15, 30])}m"),
            ("because", f'"{{action.rows * {k} + {c}}} weighted rows by {{actor.id}}"'),
        ]
    if shape == 2:
        # A regex literal and a list membership.
        table = "orders" if hit else pick(TABLES)
        return "rule", name, [
            ("on", "action"),
            ("when", f'action.table matches /^{table}_\\d{{4}}$/ and "pii" in action.tags and action.env != "dev"'),
            ("severity", risk),
            ("because", f'"{{action.table}} holds personal data ({{join(action.tags, ", ")}})"'),
        ]
    if shape == 3:
        # A quantifier over objects comparing two fields.
        n = rng.randrange(500, 3_500, 100) if hit else rng.randrange(50_000, 90_000, 1_000)
        return "action", name, [
            ("match", f"any(t in action.targets: t.tenant != action.tenant and t.rows > {n})"),
            ("risk", risk),
            ("require", "[dual_control, ticket]"),
            ("because", f'"rows of another tenant than {{action.tenant}} (over {n})"'),
        ]
    if shape == 4:
        # count() over a list, a string pattern built from a constant.
        region = "eu" if hit else pick(OTHER_REGIONS)
        k = rng.randint(1, 2)
        return "rule", name, [
            ("on", "action"),
            ("when", f'count(t in action.tags: t in sensitive_tags) >= {k} and action.region matches "^{region}-"'),
            ("severity", risk),
            ("because", f'"sensitive data leaving {{action.region}}"'),
        ]
    if shape == 5:
        # A threshold: scope, then a computed metric against a constant.
        verb = "delete" if hit else pick(OTHER_VERBS)
        div = rng.choice([10, 25, 50, 100])
        above = rng.randrange(50, 25_000 // div, 10) if hit else 10 ** 6
        return "threshold", name, [
            ("when", f'action.verb == {q(verb)} and not context.freeze'),
            ("metric", f"action.rows / {div}"),
            ("above", str(above)),
            ("risk", risk),
            ("because", f'"{{action.rows / {div}}} batches of {div} rows, over {above}"'),
        ]
    if shape == 6:
        # Strings read as sizes and durations; a builtin call.
        prefix = "eu" if hit else pick(OTHER_REGIONS)
        size = pick(["100MB", "250MB", "500MB"])
        return "action", name, [
            ("match", f'starts_with(action.region, {q(prefix)}) and action.volume > {size} and action.window >= 30m'),
            ("risk", risk),
            ("approvers", qlist(["data-owner", "sec-oncall"])),
            ("approvals", "2"),
            ("because", f'"{{action.volume}} from {{action.region}} over {{action.window}}"'),
        ]
    if shape == 7:
        # Case mapping, ends_with, a comparison through input.
        domain = "acme.example" if hit else pick(DOMAINS)
        days = rng.randrange(500, 2_000, 50)
        return "rule", name, [
            ("on", "action"),
            ("when", f'ends_with(lower(input.actor.email), "@{domain}") and input.actor.tenure_days < {days} and action.verb in ["delete", "purge", "truncate"]'),
            ("severity", risk),
            ("because", f'"{{input.actor.id}} has been here {{input.actor.tenure_days}} days (under {days})"'),
        ]
    if shape == 8:
        # all() over the actor's groups, a semver-like string and an hour range.
        allowed = ["dba", "oncall", "sre"] if hit else ["sre", "analyst"]
        lo = rng.randint(6, 12)
        return "action", name, [
            ("match", f"all(g in actor.groups: g in {qlist(allowed)}) and context.hour >= {lo} and context.hour < 20 and context.client >= 2.0.0"),
            ("risk", risk),
            ("require", "[justification]"),
            ("enforcement", "soft_mandatory"),
            ("because", f'"{{actor.id}} ({{join(actor.groups, "/")}}) at {{context.hour}}h"'),
        ]
    # shape 9: if-then-else, a negated regex and a verb list.
    prefix = "CHG" if hit else "INC"
    a, b = rng.randrange(1_000, 20_000, 1_000), rng.randrange(50_000, 100_000, 5_000)
    verbs = ["delete", pick(OTHER_VERBS)] if hit else rng.sample(OTHER_VERBS, 3)
    return "action", name, [
        ("match", f"(if action.env == \"prod\" then action.rows > {a} else action.rows > {b}) and not (action.ticket matches /^{prefix}-\\d+$/) and action.verb in {qlist(verbs)}"),
        ("risk", risk),
        ("require", "[ticket]"),
        ("because", f'"{{action.verb}} in {{action.env}} under {{action.ticket}}, not a {prefix} ticket"'),
    ]


def pack(version, broken=False):
    rng = random.Random(5)  # the same rules for every version
    out = [
        "tenet 1",
        f'pack {PACK} version "{version}"',
        "",
        "# Generated by benches/serve-pack.py for benches/serve-load.sh: 100 decided",
        "# blocks over {action, actor, context}; see that script. Do not edit.",
        "",
        "taxonomy risk {",
        "  levels [critical, high, medium, low, info]",
        "}",
        "",
        'const sensitive_tags = ["pii", "phi", "finance", "secret"]',
        "",
    ]
    names = []
    for i in range(RULES):
        kind, name, fields = block(i, i in MATCHING, rng)
        names.append(name)
        if broken and i == BROKEN_AT:
            # A half-typed condition: a syntax error, as a save mid-edit leaves it.
            fields = [(k, v.replace(" and ", " and action.rows >= and ", 1) if k in ("match", "when") else v)
                      for k, v in fields]
        width = max(len(k) for k, _ in fields)
        out.append(f"{kind} {name} {{")
        out.extend(f"  {k.ljust(width)} {v}" for k, v in fields)
        out.append("}")
        out.append("")
    out += [
        "waiver retention-job {",
        f'  rules         ["{names[MATCHING[0]]}", "{names[MATCHING[1]]}"]',
        '  when          actor.id == "svc-retention"',
        '  owner         "data-platform"',
        '  justification "the retention job deletes expired rows every night"',
        '  expires       "2099-12-31"',
        "}",
        "",
        "test bench-input {",
        f"  input      {lit(INPUT)}",
        "  expect     " + qlist([names[i] for i in MATCHING]),
        "  expect_not " + qlist([n for i, n in enumerate(names) if i not in MATCHING]),
        '  now        "2026-12-01"',
        "}",
        "",
        "test retention-job-is-waived {",
        f"  input  {lit(dict(INPUT, actor=dict(INPUT['actor'], id='svc-retention')))}",
        "  expect " + qlist([names[i] for i in MATCHING[2:]]),
        '  now    "2026-12-01"',
        "}",
        "",
    ]
    return "\n".join(out)


TYPICAL_INPUT = {
    "action": {"verb": "delete", "rows": 25000, "target": {"env": "prod", "region": "eu-west-1"},
               "tenant": {"id": "acme", "tier": "gold"}, "requested_at": "2026-11-25T10:00:00Z"},
    "actor": {"id": "alice", "role": "operator", "mfa": True},
}


def typical_pack(version, broken):
    """benches/dsl.rs `generated_pack(100)`, with a version and a test."""
    verbs = ["delete", "export", "copy", "override", "update"]
    envs = ["prod", "staging", "dev"]
    out = [f'tenet 1\npack {PACK} version "{version}"\n\nconst big = 10_000\n']
    for i in range(100):
        cond = (f'action.verb == "{verbs[i % 5]}" and action.target.env == "{envs[i % 3]}" '
                f'and action.rows >= big + {i * 10} and actor.role != "admin" '
                'and action.tenant.tier in ["gold", "platinum"]')
        if broken and i == 50:
            cond += " and"
        out.append(f"\naction rule-{i} {{\n  match   {cond}\n  risk    high\n"
                   f"  require [justification]\n  because \"rule {i}: {{action.rows}} rows of {{action.tenant.id}}\"\n}}\n")
    return "".join(out)


def write(path, text, in_place):
    if in_place:
        with open(path, "w") as f:
            f.write(text)
        return
    tmp = os.path.join(os.path.dirname(path) or ".", f".{os.path.basename(path)}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", nargs="?", help="rules directory to write bench.tenet into")
    ap.add_argument("--version", default="1.0.0", help="pack version (semver); default 1.0.0")
    ap.add_argument("--broken", action="store_true", help="write a pack with a syntax error")
    ap.add_argument("--in-place", action="store_true", help="truncate and rewrite instead of rename")
    ap.add_argument("--out", help="write to this file instead of DIR/bench.tenet")
    ap.add_argument("--body", action="store_true", help="print the POST /v1/evaluate body")
    ap.add_argument("--print", action="store_true", help="print the pack")
    ap.add_argument("--kind", choices=["rich", "typical", "one"], default="rich",
                    help="rich (default): the varied pack above; typical: benches/dsl.rs's; "
                    "one: a single rule that does not match (the cost of the server around a decision)")
    a = ap.parse_args()
    typical = a.kind == "typical"
    if a.body:
        body = {"pack": PACK, "input": TYPICAL_INPUT if typical else INPUT}
        print(json.dumps(body, separators=(",", ":")))
        return
    if a.kind == "one":
        cond = "input.action.verb == \"vacuum\"" + (" and" if a.broken else "")
        text = f'tenet 1\npack {PACK} version "{a.version}"\n\nrule one {{\n  when {cond}\n}}\n'
    elif typical:
        text = typical_pack(a.version, a.broken)
    else:
        text = pack(a.version, a.broken)
    if a.print:
        sys.stdout.write(text)
        return
    if not a.dir and not a.out:
        ap.error("name a rules directory (or --out FILE, --body, --print)")
    if not a.out:
        os.makedirs(a.dir, exist_ok=True)
    path = a.out or os.path.join(a.dir, FILE)
    write(path, text, a.in_place)


if __name__ == "__main__":
    main()
