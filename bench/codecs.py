"""Encode and decode speed of every content format, on one 50-resource instance.

The instance mixes the types a real device has (floats, integers, strings, booleans, a multiple
resource). Figures are the median of 7 runs of ``--count`` operations, per format.

    .venv/bin/python bench/codecs.py [--count 5000]
"""

from __future__ import annotations

import argparse
import statistics
import time

from agent.core.codecs import encoder_for
from agent.core.formats import ContentFormat
from agent.core.model import ModelRegistry, ObjectModel, Operations, ResourceModel, ResourceType
from agent.core.path import Path
from agent.core.values import ResourceValue

TYPES = [ResourceType.FLOAT, ResourceType.INTEGER, ResourceType.STRING, ResourceType.BOOLEAN]


def instance() -> tuple[ModelRegistry, list[ResourceValue]]:
    resources = {}
    values = []
    for rid in range(50):
        rtype = TYPES[rid % len(TYPES)]
        multiple = rid == 49
        resources[rid] = ResourceModel(rid, f"r{rid}", Operations.RW, rtype, multiple=multiple)
        sample = {ResourceType.FLOAT: 21.5 + rid, ResourceType.INTEGER: 1000 * rid, ResourceType.STRING: f"value {rid}",
                  ResourceType.BOOLEAN: rid % 2 == 0}[rtype]
        if multiple:
            values += [ResourceValue(Path(30000, 0, rid, i), sample) for i in range(3)]
        else:
            values.append(ResourceValue(Path(30000, 0, rid), sample))
    registry = ModelRegistry()
    registry.add(ObjectModel(30000, "Bench", resources))
    return registry, values


def rate(operation, count: int) -> float:  # type: ignore[no-untyped-def]
    runs = []
    for _ in range(7):
        started = time.perf_counter()
        for _ in range(count):
            operation()
        runs.append(count / (time.perf_counter() - started))
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=5000)
    args = parser.parse_args()
    models, values = instance()
    base = Path(30000, 0)
    print(f"one instance of 50 resources ({len(values)} values), median of 7 runs of {args.count}")
    for fmt in (ContentFormat.SENML_CBOR, ContentFormat.SENML_JSON, ContentFormat.LWM2M_JSON, ContentFormat.TLV):
        codec = encoder_for(fmt)
        payload = codec.encode(base, values, models)
        assert sorted(codec.decode(payload, base, models)) == sorted(values)
        enc = rate(lambda c=codec: c.encode(base, values, models), args.count)
        dec = rate(lambda c=codec, p=payload: c.decode(p, base, models), args.count)
        print(f"{fmt.label:>11}: encode {enc:>8,.0f}/s   decode {dec:>8,.0f}/s   ({len(payload)} bytes)")


if __name__ == "__main__":
    main()
