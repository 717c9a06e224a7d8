"""deploy/grafana/callmask.json and deploy/prometheus/alerts.yml name only series /metrics has."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.observability.test_metrics import scrape
from tests.support import Live

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "callmask.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
A, B, C, D, E = (f"+9198123456{n:02d}" for n in range(70, 75))

Samples = dict[str, list[dict[str, str]]]

# PromQL words that look like names but are not series.
_KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or"}
    | {"unless", "offset", "inf", "nan"}
)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_NAME = re.compile(r"(?<![\w.:$])([A-Za-z_:][A-Za-z0-9_:]*)")
_GROUPING = r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"
_MATCHER = re.compile(r'([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')


def selectors(expr: str) -> Iterator[tuple[str, str]]:
    """(metric name, the label matchers after it, or "") for each series an expression reads.

    Names followed by "(" are functions or aggregations; label lists after by/without/on/
    ignoring/group_* are labels; ranges ([5m]), offsets, strings and Grafana's $variables
    are none of them.
    """
    # Grafana's label_values(metric, label): the label is not a series.
    expr = re.sub(r"label_values\(\s*([^,()]+?)\s*,\s*\w+\s*\)", r"\1", expr)
    # Strings blanked (same length), so a "}" or "]" or a word in a label value is none of them.
    blank = _STRING.sub(lambda found: found[0][0] + " " * (len(found[0]) - 2) + found[0][0], expr)
    for pattern in (_GROUPING, r"\[[^\]]*\]", r"\boffset\s+\S+"):
        for found in list(re.finditer(pattern, blank)):
            start, end = found.span()
            expr = expr[:start] + " " * (end - start) + expr[end:]
            blank = blank[:start] + " " * (end - start) + blank[end:]
    position = 0
    while match := _NAME.search(blank, position):
        name, position = match[1], match.end()
        while position < len(blank) and blank[position].isspace():
            position += 1
        matchers = ""
        if blank.startswith("{", position):
            close = blank.index("}", position)
            matchers, position = expr[position + 1 : close], close + 1
        elif blank.startswith("(", position) or name.lower() in _KEYWORDS:
            continue
        yield name, matchers
    # A bare {__name__=...} selector would hide a name from the scan above.
    assert "__name__" not in expr, expr


def unknown(expr: str, samples: Samples) -> list[str]:
    """What in expr names no scraped series: a missing name, label, or exact label value."""
    problems = []
    for name, matchers in selectors(expr):
        if name not in samples:
            problems.append(name)
            continue
        for label, operator, wanted in _MATCHER.findall(matchers):
            values = {labels.get(label) for labels in samples[name]}
            if not any(labels and label in labels for labels in samples[name]):
                problems.append(f"{name}{{{label}}}")
            elif operator == "=" and "$" not in wanted and wanted not in values:
                problems.append(f'{name}{{{label}="{wanted}"}}')
    return problems


def dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    found = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            found.append(target["expr"])
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            found.append(query["query"] if isinstance(query, dict) else query)
    return found


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


@pytest.fixture
def samples(live: Live) -> Samples:
    """The series of a scrape after traffic: sets, a 1505, a route lookup, an error."""
    for other in (B, C, D):
        assert live.set(m1=A, m2=other)["code"] == 200
    assert live.set(m1=A, m2=E)["code"] == 1505
    assert live.route(A, live.pool[0])["action"] == "connect"
    assert live.get("/api/v2/no/such/path").status_code == 404
    found: Samples = {}
    for name, labels in scrape(live.http, live.url):
        found.setdefault(name, []).append(dict(labels))
    return found


def test_every_series_the_dashboard_and_alerts_name_is_scraped(samples: Samples) -> None:
    exprs = dashboard_exprs() + [str(rule["expr"]) for rule in alert_rules()]
    named = {name for expr in exprs for name, _ in selectors(expr)}
    # The scan finds what the files are about, so an empty or broken scan cannot pass.
    assert {
        "callmask_http_requests_total",
        "callmask_http_request_duration_seconds_bucket",
        "callmask_pool_exhausted_total",
        "callmask_busiest_party_pool_ratio",
        "callmask_pool_read_up",
    } <= named
    assert {expr: unknown(expr, samples) for expr in exprs if unknown(expr, samples)} == {}


@pytest.mark.parametrize(
    ("expr", "caught"),
    [
        ("sum(rate(callmask_calls_answered_total[5m]))", ["callmask_calls_answered_total"]),
        # A histogram is read through its _bucket/_sum/_count series, never its family name.
        (
            "histogram_quantile(0.99, rate(callmask_http_request_duration_seconds[5m]))",
            ["callmask_http_request_duration_seconds"],
        ),
        ("rate(callmask_http_requests[5m])", ["callmask_http_requests"]),
        ("rate(callmask_maskings_set_bucket[5m])", ["callmask_maskings_set_bucket"]),
        (
            'callmask_http_requests_total{endpoint="/api/v2/Masking/Route"}',
            ['callmask_http_requests_total{endpoint="/api/v2/Masking/Route"}'],
        ),
        ('callmask_pool_numbers{tenant=~"acme"}', ["callmask_pool_numbers{tenant}"]),
    ],
)
def test_a_series_metrics_does_not_expose_is_caught(
    samples: Samples, expr: str, caught: list[str]
) -> None:
    assert unknown(expr, samples) == caught


def test_the_scan_skips_functions_labels_ranges_and_variables() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (endpoint, le) (rate(x_bucket{endpoint=~"$e",'
        ' code!="a}b", status=~"[45].."}[$__rate_interval] offset 1h)))'
        " / on (endpoint) group_left y_count > bool 0.1"
    )
    assert [name for name, _ in selectors(expr)] == ["x_bucket", "y_count"]
    assert [name for name, _ in selectors("label_values(z, account)")] == ["z"]


def test_alert_rules_have_the_shape_prometheus_loads() -> None:
    document = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    assert set(document) == {"groups"}
    names = [group["name"] for group in document["groups"]]
    assert len(names) == len(set(names))
    rules = alert_rules()
    assert {rule["alert"] for rule in rules} == {
        "CallmaskPoolPressureHigh",
        "CallmaskPoolExhausted",
        "CallmaskRouteLookupSlow",
        "CallmaskWebhookBacklog",
        "CallmaskDatabaseUnavailable",
    }
    for rule in rules:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(rule["alert"]))
        assert re.fullmatch(r"(\d+[smhdwy])+", str(rule["for"])), rule["for"]
        assert rule["labels"] == {"severity": rule["labels"]["severity"]}
        assert rule["labels"]["severity"] in {"warning", "critical"}
        annotations = rule["annotations"]
        assert isinstance(annotations, dict) and set(annotations) == {"summary", "description"}
        assert all(isinstance(text, str) and text.strip() for text in annotations.values())
    promtool = shutil.which("promtool")
    if promtool:
        checked = subprocess.run(
            [promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_dashboard_panels_query_prometheus_through_the_datasource_variable() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["targets"], panel["title"]
        for target in [panel, *panel["targets"]]:
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
