#!/usr/bin/env python3
"""Generates a dark-inventory scale test: a catalog and one discovery run.

    benches/inventory-gen.py OUTDIR [RESOURCES] [CATALOG] [ROGUE]

- catalog.json: CATALOG `data-stores` entries (owned and classified), keyed by
  bucket ARN;
- run.json: one `aws-config` run of RESOURCES resources: the CATALOG registered
  buckets, ROGUE buckets nobody registered (findings), and the rest EC2
  instances and security groups no rule is about (as an account's inventory
  mostly is).

Written as a stream, so it never holds the run in memory.
"""
import json
import sys

out = sys.argv[1]
resources = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
catalog = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000
rogue = int(sys.argv[4]) if len(sys.argv) > 4 else 10_000

with open(f"{out}/catalog.json", "w") as f:
    f.write('{"facts": {"sandbox_accounts": ["999900001111"]}, "entries": [\n')
    for i in range(catalog):
        sep = ",\n" if i + 1 < catalog else "\n"
        f.write(
            '{"catalog": "data-stores", "id": "ds-%d", "keys": ["arn:aws:s3:::acme-data-%d"], '
            '"owner": "team-%d", "classification": "internal"}%s' % (i, i, i % 40, sep)
        )
    f.write("]}\n")

with open(f"{out}/run.json", "w") as f:
    f.write('{"source": "aws-config", "run": "scale-1", "at": "2026-12-01T00:00:00Z", "resources": [\n')
    for i in range(resources):
        if i < catalog:
            r = {"type": "aws:s3:bucket", "attributes": {"arn": f"arn:aws:s3:::acme-data-{i}", "name": f"acme-data-{i}", "account_id": "444455556666", "public": False}}
        elif i < catalog + rogue:
            r = {"type": "aws:s3:bucket", "attributes": {"arn": f"arn:aws:s3:::shadow-{i}", "name": f"shadow-{i}", "account_id": "444455556666", "public": i % 10 == 0}, "where": "444455556666/eu-west-1"}
        elif i % 2:
            r = {"type": "aws:ec2:instance", "attributes": {"arn": f"arn:aws:ec2:eu-west-1:444455556666:instance/i-{i:017x}", "account_id": "444455556666"}}
        else:
            r = {"type": "aws:ec2:security-group", "attributes": {"arn": f"arn:aws:ec2:eu-west-1:444455556666:security-group/sg-{i:017x}", "account_id": "444455556666"}}
        f.write(json.dumps(r))
        f.write(",\n" if i + 1 < resources else "\n")
    f.write("]}\n")
