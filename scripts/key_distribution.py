"""How hot does the hottest partition key of the table and of each index run? A simulation of the case
writes of a company (20 business units, 500 agents, 5,000 accounts, the shipped case types) and of what
follows each of them, against the table's key layout (casework.adapters.dynamo: the very functions that key
the items), printing per index the hottest key's share of that index's writes and what it means at 1,000
case writes/s. The budget (issue 9): no key above 10% (a partition takes about 1,000 writes/s; a throttled
index throttles the table).

    PYTHONPATH=shared python scripts/key_distribution.py [--writes 200000] [--skew 0.8] [--seed 7]

``--skew`` is the Zipf exponent of unit sizes, agents' loads and accounts' activity (0: all equal; 1: the
biggest of 20 units has 28% of the cases). Every case write is a commit: the case item and its history item
on the table, and one write on each index that holds the case (each projects the list row, which a commit
changes). Then the consumers: notify's ledger item per email (its claim, written twice: sending, sent; one
partition per event), an approval link's token; and
the sparse pending_approvals index while a case waits for a decision. The directory index (customers by name,
a customer's contacts) takes the directory's writes (imports, the ERP), not the case mix: not simulated here.
"""

from __future__ import annotations

import argparse
import random
import uuid
from collections import Counter
from dataclasses import dataclass

from casework.adapters.dynamo import (
    ACCOUNT_SHARDS,
    APPROVAL_SHARDS,
    UNIT_SHARDS,
    account_key,
    account_shard,
    approval_shard,
    open_key,
    unit_key,
    unit_shard,
)

INDEXES = ("table", "gsi1", "gsi2v2", "gsi3v2", "gsi4", "pending_approvals")
# per case write: the share whose event notify acts on (an email to somebody), and of those the emails sent
NOTIFIED, EMAILS_PER_NOTIFIED = 0.5, 1.2
APPROVAL_TYPES = {"csr": 0.3, "customer_request": 0.2}  # share of a type's writes that request/decide one

# the shipped case types and their share of new cases, and how many writes a case takes in its life
TYPES = {  # type: (share of new cases, writes over its life, share of its life spent open)
    "service_request": (0.40, 8, 0.8),
    "activity": (0.25, 4, 0.7),
    "lead": (0.15, 6, 0.8),
    "customer_request": (0.10, 6, 0.8),
    "sample_request": (0.05, 4, 0.7),
    "csr": (0.05, 10, 0.9),
}


def zipf_weights(n: int, skew: float) -> list[float]:
    raw = [1 / (rank**skew) for rank in range(1, n + 1)]
    total = sum(raw)
    return [w / total for w in raw]


def cumulative(weights: list[float]) -> list[float]:
    out, running = [], 0.0
    for w in weights:
        running += w
        out.append(running)
    return out


@dataclass
class Company:
    units: list[str]
    unit_weights: list[float]
    agents: dict[str, list[str]]  # unit -> its agents
    accounts: list[str]
    account_weights: list[float]


def company(rng: random.Random, skew: float, n_units: int = 20, n_agents: int = 500) -> Company:
    units = [f"U{n:02d}" for n in range(n_units)]
    unit_weights = zipf_weights(n_units, skew)
    agents: dict[str, list[str]] = {u: [] for u in units}
    for n in range(n_agents):  # agents in proportion to the unit's work, at least one each
        unit = units[n] if n < n_units else rng.choices(units, unit_weights)[0]
        agents[unit].append(f"agent{n:03d}")
    accounts = [f"ACC-{n:05d}" for n in range(5000)]
    return Company(units, unit_weights, agents, accounts, zipf_weights(len(accounts), skew))


def simulate(writes: int, skew: float, seed: int) -> dict[str, Counter[str]]:
    rng = random.Random(seed)
    c = company(rng, skew)
    types = list(TYPES)
    type_cum = cumulative([TYPES[t][0] * TYPES[t][1] for t in TYPES])  # writes, not cases
    unit_cum, account_cum = cumulative(c.unit_weights), cumulative(c.account_weights)
    agent_cum = {u: cumulative(zipf_weights(len(m), skew)) for u, m in c.agents.items()}
    keys: dict[str, Counter[str]] = {name: Counter() for name in INDEXES}
    for n in range(writes):
        case_type = rng.choices(types, cum_weights=type_cum)[0]
        unit = rng.choices(c.units, cum_weights=unit_cum)[0]
        case_id = uuid.UUID(int=rng.getrandbits(128)).hex
        keys["table"][f"CASE#{case_id}"] += 2  # the case and its history item, one transaction
        keys["gsi1"][unit_key(unit, unit_shard(case_id))] += 1
        if rng.random() < 0.85:  # most writes are to an assigned case
            keys["gsi2v2"][f"ASSIGNEE#{rng.choices(c.agents[unit], cum_weights=agent_cum[unit])[0]}"] += 1
        if rng.random() < 0.9:
            account = rng.choices(c.accounts, cum_weights=account_cum)[0]
            keys["gsi3v2"][account_key(account, account_shard(case_id))] += 1
        if rng.random() < TYPES[case_type][2]:
            keys["gsi4"][open_key(case_type, unit, unit_shard(case_id))] += 1
        if rng.random() < APPROVAL_TYPES.get(case_type, 0):
            keys["pending_approvals"][approval_shard(case_id)] += 1
            keys["table"][f"TOKEN#{uuid.UUID(int=rng.getrandbits(128)).hex}"] += 1  # the link, one email
        event_id = f"{case_id}:{n}"
        if rng.random() < NOTIFIED:
            for _ in range(1 + (rng.random() < EMAILS_PER_NOTIFIED - 1)):
                keys["table"][f"SENT#{event_id}"] += 2  # the claim, then marked sent
    return keys


def report(keys: dict[str, Counter[str]], rate: int = 1000) -> list[tuple[str, str, float]]:
    rows = []
    for index, counter in keys.items():
        total = sum(counter.values())
        key, hottest = counter.most_common(1)[0]
        rows.append((index, key, hottest / total))
        share = hottest / total
        print(
            f"{index:17} {len(counter):7} keys  hottest {key:32} {share:6.2%} of the index's writes"
            f"  ~{share * rate:5.0f}/s at {rate}/s  {'OK' if share <= 0.10 else 'OVER 10%'}"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writes", type=int, default=200_000)
    parser.add_argument("--skew", type=float, default=None, help="one Zipf exponent (default: 0.8 and 1.0)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(
        f"{UNIT_SHARDS} shards per unit on gsi1 and gsi4, {ACCOUNT_SHARDS} per account on gsi3v2, "
        f"{APPROVAL_SHARDS} on pending_approvals; {args.writes} case writes"
    )
    for skew in [args.skew] if args.skew is not None else [0.8, 1.0]:
        biggest = zipf_weights(20, skew)[0]
        print(f"\nskew {skew}: the biggest of 20 units has {biggest:.1%} of the cases")
        report(simulate(args.writes, skew, args.seed))


if __name__ == "__main__":
    main()
