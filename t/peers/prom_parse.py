#!/usr/bin/env python3
"""Reads a Prometheus text exposition on stdin with the official client's
parser (python3-prometheus-client, a third-party peer) and prints its
samples as JSON: [[name, {labels}, value], ...]. A document the parser
refuses exits non-zero with its error.

    curl -s http://.../metrics | prom_parse.py
"""

import json
import sys

from prometheus_client.parser import text_string_to_metric_families

samples = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        samples.append([s.name, s.labels, s.value])
print(json.dumps(samples))
