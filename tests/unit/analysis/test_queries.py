import pytest

from analysis.errors import MetricConfigError
from analysis.queries import query_variables, render
from tests.unit.analysis.canaries import canary

# Flagger's Linkerd e2e template, verbatim (Go text/template syntax).
FLAGGER_LINKERD = """
    sum(
        rate(
            response_total{
                namespace="{{ namespace }}",
                deployment=~"{{ target }}",
                classification!="failure",
                direction="{{ variables.direction }}"
            }[{{ interval }}]
        )
    )
"""


def variables(metric: dict, **spec):
    c = canary([{"templateRef": {"name": "t"}, **metric}], **spec)
    return query_variables(c, c.spec.get_analysis().metrics[0])


def test_flagger_template_renders_unchanged():
    values = variables({"name": "errors", "interval": "30s", "templateVariables": {"direction": "inbound"}})
    text = " ".join(render(FLAGGER_LINKERD, values, "MetricTemplate test/errors").split())
    assert text == (
        'sum( rate( response_total{ namespace="test", deployment=~"podinfo", classification!="failure", '
        'direction="inbound" }[30s] ) )'
    )


def test_variables_follow_flagger():
    values = variables(
        {"name": "m"},
        ingressRef={"name": "web", "kind": "Ingress"},
        service={"port": 80, "name": "front"},
    )
    assert {k: values[k] for k in ("name", "namespace", "target", "service", "ingress", "interval")} == {
        "name": "podinfo",
        "namespace": "test",
        "target": "podinfo",
        "service": "front",
        "ingress": "web",
        "interval": "1m",
    }
    assert "route" not in values


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{ variables.direction }}", "undefined template variable 'variables.direction'"),
        ("{{ variables['direction'] }}", "undefined template variable 'variables.direction'"),
        ("{{ variables.items }}", "undefined template variable 'variables.items'"),
        ("{{ nmespace }}", "undefined template variable 'nmespace'"),
        ("{{ ingress }}", "undefined template variable 'ingress' (the canary has no spec.ingressRef)"),
    ],
)
def test_undefined_variable_is_an_error_naming_it(text, message):
    with pytest.raises(MetricConfigError) as error:
        render(text, variables({"name": "m", "templateVariables": {"other": "x"}}), "MetricTemplate test/t")
    assert str(error.value).startswith(f"MetricTemplate test/t: {message}; defined: ")
    assert "variables.other" in str(error.value)


def test_syntax_error_names_the_template_and_line():
    with pytest.raises(MetricConfigError, match=r"MetricTemplate test/t: syntax error on line 2"):
        render("up\n{{ namespace ", variables({"name": "m"}), "MetricTemplate test/t")
