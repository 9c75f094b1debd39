import pytest

from analysis.errors import MetricConfigError
from analysis.providers.base import MultipleValues, NoValues, ProviderError
from analysis.providers.prometheus import single_value
from analysis.providers.registry import builtin_provider, provider_for_template
from analysis.providers.secrets import secrets_from_env, secrets_from_files
from tests.unit.analysis.canaries import canary, template


@pytest.mark.parametrize(
    ("result", "value"),
    [
        ([{"metric": {}, "value": [1.0, "99.5"]}], 99.5),
        ([1.0, "3"], 3.0),
        ([{"metric": {}, "value": [1.0, "+Inf"]}], float("inf")),
    ],
)
def test_one_value(result, value):
    assert single_value(result, "q") == value


@pytest.mark.parametrize(
    ("result", "error", "message"),
    [
        ([], NoValues, "no values found for query 'q'"),
        ([{"metric": {}, "value": [1.0, "NaN"]}], NoValues, "query returned NaN"),
        (
            [{"metric": {"a": "1"}, "value": [1, "1"]}, {"metric": {"a": "2"}, "value": [1, "2"]}],
            MultipleValues,
            "query returned 2 series, expected one",
        ),
        ([{"metric": {}, "values": [[1, "1"], [2, "2"]]}], MultipleValues, "range of samples"),
        ([1.0, "abc"], ProviderError, "non-numeric result 'abc'"),
        ({"weird": 1}, ProviderError, "unexpected Prometheus result shape"),
    ],
)
def test_not_one_value(result, error, message):
    with pytest.raises(error, match=message):
        single_value(result, "q")


def test_token_from_a_secret_becomes_a_bearer_header():
    secrets = secrets_from_env({"SLUICE_SECRET_PROM_AUTH_TOKEN": "s3cret"})
    provider = provider_for_template(
        template("t", "up", secretRef={"name": "prom-auth"}, headers={"X-Org": "1"}), secrets=secrets
    )
    assert provider._client.headers == {"X-Org": "1", "Authorization": "Bearer s3cret"}
    assert provider._client.auth is None


def test_basic_auth_from_secret_files(tmp_path):
    folder = tmp_path / "test" / "prom-auth"
    folder.mkdir(parents=True)
    (folder / "username").write_text("admin\n")
    (folder / "password").write_text("pw\n")
    provider = provider_for_template(
        template("t", "up", secretRef={"name": "prom-auth"}, insecureSkipVerify=True),
        secrets=secrets_from_files(tmp_path),
    )
    assert provider._client.auth == ("admin", "pw")
    assert provider._client._session.verify is False


@pytest.mark.parametrize(
    ("secrets", "message"),
    [
        (None, "MetricTemplate test/t: provider.secretRef 'prom-auth': no secret source is configured"),
        (secrets_from_env({}), "SLUICE_SECRET_PROM_AUTH_TOKEN"),
        (secrets_from_env({"SLUICE_SECRET_PROM_AUTH_USERNAME": "u"}), "needs key 'token', or 'username' and"),
    ],
)
def test_secret_problems_name_the_template_and_secret(secrets, message):
    with pytest.raises(MetricConfigError, match=message):
        provider_for_template(template("t", "up", secretRef={"name": "prom-auth"}), secrets=secrets)


def test_template_without_address_uses_the_default_or_says_so():
    bare = template("t", "up", address=None)
    assert (
        provider_for_template(bare, default_address="http://127.0.0.1:9090").address
        == "http://127.0.0.1:9090"
    )
    with pytest.raises(MetricConfigError, match=r"MetricTemplate test/t: provider.address: empty"):
        provider_for_template(bare)


def test_unsupported_provider_type_is_named():
    with pytest.raises(
        MetricConfigError, match=r"MetricTemplate test/t: provider.type 'datadog' is not supported"
    ):
        provider_for_template(template("t", "up", type="datadog"))


def test_builtin_provider_choice():
    local = canary([{"name": "request-success-rate"}])
    assert builtin_provider(local, proxy_admin_url="http://127.0.0.1:1").dialect == "proxy-window"
    assert (
        builtin_provider(local, metrics_server="http://p:9090", proxy_admin_url="http://x").dialect
        == "promql"
    )
    own = canary([{"name": "request-success-rate"}], metricsServer="http://mine:9090")
    assert builtin_provider(own, metrics_server="http://p:9090").address == "http://mine:9090"
    with pytest.raises(MetricConfigError, match=r"canary test/podinfo: spec\.metricsServer is not set"):
        builtin_provider(local)
