"""A /metrics page as Prometheus's own text-format parser reads it (Debian's
python3-prometheus-client), for the suites that scrape the gateway's admin endpoint and
iotgw-hub. Each suite puts this folder on sys.path."""

from prometheus_client.parser import text_string_to_metric_families


def samples(text):
    """{(name, frozenset(labels)): value} for every sample."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(all_samples, name, **labels):
    return all_samples.get((name, frozenset(labels.items())), 0.0)
