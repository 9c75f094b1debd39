"""Config validation: every mistake is refused with the field and the reason."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from mesh.proxy.config import ConfigError, dump_config, load_config, parse_config


def service(**extra):
    base = {
        "name": "podinfo",
        "port": 8080,
        "backends": {
            "podinfo-primary": {"endpoints": ["127.0.0.1:9001"]},
            "podinfo-canary": {"endpoints": ["127.0.0.1:9002"]},
        },
        "split": {"podinfo-primary": 90, "podinfo-canary": 10},
    }
    base.update(extra)
    return base


def test_a_full_config_parses_with_durations_in_seconds():
    config = parse_config(
        {
            "services": [
                service(
                    routes=[
                        {
                            "name": "ab",
                            "match": [{"headers": {"x-a": {"prefix": "b"}}, "method": ["GET"]}],
                            "split": {"podinfo-canary": 1},
                            "resilience": {"timeout": "1m30s"},
                        }
                    ],
                    mirror={"backend": "podinfo-canary", "percent": 5},
                    sticky={"cookie": "s", "max_age": "2h"},
                    resilience={
                        "timeout": "500ms",
                        "retries": {"attempts": 2, "per_try_timeout": 0.2},
                        "fault": {"delay": {"percent": 1, "duration": "10ms"}},
                    },
                )
            ]
        }
    )
    svc = config.services[0]
    assert svc.namespace == "default" and svc.resilience.timeout == 0.5
    assert svc.routes[0].resilience.timeout == 90.0 and svc.sticky.max_age == 7200.0


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"split": {"podinfo-nope": 1}}, "services[0].split", "podinfo-nope"),
        ({"split": {"podinfo-primary": 0}}, "services[0].split", "more than 0"),
        ({"port": 0}, "services.0.port", "greater than or equal to 1"),
        ({"backends": {"a": {"endpoints": ["localhost"]}}}, "services.0.backends.a.endpoints.0", "HOST:PORT"),
        ({"mirror": {"backend": "x"}}, "services[0].mirror.backend", "'x'"),
        (
            {
                "routes": [
                    {
                        "name": "r",
                        "match": [{"headers": {"a": {"exact": "1", "prefix": "2"}}}],
                        "split": {"podinfo-canary": 1},
                    }
                ]
            },
            "services.0.routes.0.match.0.headers.a",
            "exactly one",
        ),
        (
            {"routes": [{"name": "r", "match": [{"path": {"regex": "("}}], "split": {"podinfo-canary": 1}}]},
            "services.0.routes.0.match.0.path",
            "does not compile",
        ),
        ({"resilience": {"timeout": "soon"}}, "services.0.resilience.timeout", "not a duration"),
        (
            {"resilience": {"fault": {"abort": {"percent": 120}}}},
            "services.0.resilience.fault.abort.percent",
            "less than or equal to 100",
        ),
        (
            {"resilience": {"retries": {"retry_on": ["always"]}}},
            "services.0.resilience.retries.retry_on.0",
            "connect-failure",
        ),
        ({"colour": "blue"}, "services.0.colour", "Extra inputs"),
    ],
)
def test_mistakes_name_the_field(change, field, reason):
    with pytest.raises(ConfigError) as refused:
        parse_config({"services": [service(**change)]})
    assert field in str(refused.value) and reason in str(refused.value)


def test_two_services_on_one_port_need_different_hosts():
    with pytest.raises(ConfigError, match=r"services\[1\]\.hosts: .* 'a.local' is already served by 'one'"):
        parse_config(
            {"services": [service(name="one", hosts=["a.local"]), service(name="two", hosts=["A.local"])]}
        )
    parse_config({"services": [service(name="one", hosts=["a.local"]), service(name="two")]})


def test_load_config_reads_yaml_and_reports_syntax_errors(tmp_path):
    good = tmp_path / "p.yaml"
    good.write_text("services: []\naccess_log: {enabled: true}\n")
    assert load_config(good).access_log.enabled
    bad = tmp_path / "bad.yaml"
    bad.write_text("services: [\n")
    with pytest.raises(ConfigError, match="not valid YAML/JSON"):
        load_config(bad)
    with pytest.raises(ConfigError, match="expected a mapping"):
        parse_config([1, 2])


def test_the_shipped_example_is_valid():
    example = Path(__file__).parents[3] / "examples" / "proxy" / "podinfo.yaml"
    config = load_config(example)
    assert [s.name for s in config.services] == ["podinfo"]
    assert set(config.services[0].backends) == {"podinfo-primary", "podinfo-canary"}


def test_a_parsed_config_is_frozen_and_dumps_back_to_itself():
    config = parse_config(
        {
            "services": [
                service(
                    resilience={"timeout": "2s"},
                    routes=[
                        {
                            "name": "ab",
                            "match": [{"cookies": {"c": {"regex": "^a"}}}],
                            "split": {"podinfo-canary": 1},
                        }
                    ],
                )
            ],
            "tracing": {"collector": "http://otel:4318/v1/traces"},
        }
    )
    dumped = dump_config(config)
    assert dumped["services"][0]["resilience"]["timeout"] == 2.0 and "mirror" not in dumped["services"][0]
    assert parse_config(dumped) == config
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.services[0].port = 1  # type: ignore[misc]


def test_the_proxy_process_does_without_pydantic():
    """pydantic costs the proxy ~13 MB of RSS (issue #3); its config validation is mesh/proxy/schema.py."""
    code = (
        "import sys, controller.cli.proxy, mesh.proxy.app, mesh.proxy.admin\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic'))"
    )
    root = Path(__file__).parents[3]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    assert done.stdout.strip() == "[]"
