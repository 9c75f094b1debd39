"""Prometheus as a metric provider, on prometheus-api-client.

Behaves like Flagger's provider (GET /api/v1/query, 5 s timeout, whitespace collapsed so multi-line YAML
queries work, `token` or `username`/`password` from the template's Secret, custom headers, `vector(1)`
as the liveness probe), with two differences: no retries inside a query (the next tick is the retry, and a
down Prometheus must turn into an error quickly, not after a backoff), and TLS can be given a CA bundle
and a client certificate besides `insecureSkipVerify`.

`samples` is the canary-vs-primary judge's read (analysis/judge.py): GET /api/v1/query_range over the
last N seconds at a step, one series, NaN points dropped (a step with no traffic is no sample).
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable, Mapping
from typing import Any

import requests
from prometheus_api_client import PrometheusApiClientException, PrometheusConnect
from requests.adapters import Retry

from analysis.errors import MetricConfigError
from analysis.providers.base import MultipleValues, NoValues, ProviderError
from analysis.providers.secrets import SecretLookup
from controller.api.metric_template import MetricProvider as ProviderSpec

DEFAULT_TIMEOUT = 5.0


class PrometheusProvider:
    dialect = "promql"

    def __init__(
        self,
        address: str,
        *,
        headers: Mapping[str, str] | None = None,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        insecure_skip_verify: bool = False,
        ca_file: str | None = None,
        client_cert: tuple[str, str] | None = None,
    ) -> None:
        if not address:
            raise MetricConfigError("prometheus provider: address is empty")
        if (username is None) != (password is None):
            raise MetricConfigError("prometheus provider: basic auth needs both username and password")
        self.address = address.rstrip("/")
        all_headers = dict(headers or {})
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        session = requests.Session()
        session.verify = False if insecure_skip_verify else (ca_file or True)
        session.cert = client_cert
        self._client = PrometheusConnect(
            url=self.address,
            headers=all_headers or None,
            auth=(username, password) if username is not None else None,
            session=session,
            retry=Retry(total=0),
            timeout=timeout,
        )

    @classmethod
    def from_spec(
        cls,
        spec: ProviderSpec,
        *,
        namespace: str,
        secrets: SecretLookup | None = None,
        default_address: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> PrometheusProvider:
        """A provider for a MetricTemplate's `spec.provider`; credentials from its `secretRef`."""
        address = spec.address or default_address
        if not address:
            raise MetricConfigError("provider.address: empty, and no default metrics server is configured")
        credentials: Mapping[str, str] = {}
        if spec.secret_ref is not None:
            name = spec.secret_ref.name
            if secrets is None:
                raise MetricConfigError(f"provider.secretRef {name!r}: no secret source is configured")
            try:
                credentials = secrets(name, namespace)
            except KeyError as exc:
                raise MetricConfigError(f"provider.secretRef {name!r}: {exc.args[0]}") from None
            if "token" not in credentials and not {"username", "password"} <= set(credentials):
                raise MetricConfigError(
                    f"provider.secretRef {name!r}: needs key 'token', or 'username' and 'password'"
                )
        return cls(
            address,
            headers=spec.headers,
            token=credentials.get("token"),
            username=credentials.get("username") if "token" not in credentials else None,
            password=credentials.get("password") if "token" not in credentials else None,
            timeout=timeout,
            insecure_skip_verify=spec.insecure_skip_verify,
        )

    def query(self, text: str) -> float:
        promql = " ".join(text.split())
        return single_value(self._ask(lambda: self._client.custom_query(promql)), promql)

    def samples(self, text: str, seconds: int, step: int = 15) -> list[float]:
        """The values of one series over the last `seconds`, every `step` seconds, oldest first; empty when
        nothing matched. Several series raise MultipleValues, as for `query`."""
        promql = " ".join(text.split())
        end = datetime.datetime.now(datetime.UTC)
        start = end - datetime.timedelta(seconds=seconds)
        result = self._ask(
            lambda: self._client.custom_query_range(promql, start_time=start, end_time=end, step=f"{step}s")
        )
        if not isinstance(result, list) or not all(isinstance(item, dict) for item in result):
            raise ProviderError(f"unexpected Prometheus result shape for query {promql!r}: {result!r:.200}")
        if len(result) > 1:
            raise MultipleValues(f"query returned {len(result)} series, expected one: {promql!r}")
        values = []
        for _, raw in result[0].get("values", []) if result else []:
            try:
                value = float(raw)
            except (TypeError, ValueError):
                raise ProviderError(f"non-numeric result {raw!r} for query {promql!r}") from None
            if math.isfinite(value):
                values.append(value)
        return values

    def _ask(self, call: Callable[[], Any]) -> Any:
        """`call`'s answer; a refusal or an outage becomes ProviderError naming this Prometheus."""
        try:
            return call()
        except PrometheusApiClientException as exc:
            raise ProviderError(f"prometheus {self.address} rejected the query: {exc}") from None
        except (requests.RequestException, ValueError, KeyError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
            raise ProviderError(f"prometheus {self.address} unreachable: {reason}") from None

    def is_online(self) -> bool:
        try:
            return self.query("vector(1)") == 1.0
        except (ProviderError, NoValues, MultipleValues):
            return False


def single_value(result: Any, promql: str) -> float:
    """The one number in a /api/v1/query `data.result`: a scalar, or a vector with one sample."""
    if isinstance(result, list) and len(result) == 2 and not isinstance(result[0], dict):
        raw = result[1]  # a scalar: [timestamp, "value"]
    elif isinstance(result, list) and all(isinstance(item, dict) for item in result):
        if not result:
            raise NoValues(f"no values found for query {promql!r}")
        if len(result) > 1:
            raise MultipleValues(f"query returned {len(result)} series, expected one: {promql!r}")
        if "value" not in result[0]:
            raise MultipleValues(f"query returned a range of samples, expected one value: {promql!r}")
        raw = result[0]["value"][1]
    else:
        raise ProviderError(f"unexpected Prometheus result shape for query {promql!r}: {result!r:.200}")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ProviderError(f"non-numeric result {raw!r} for query {promql!r}") from None
    if math.isnan(value):
        raise NoValues(f"query returned NaN (no samples to divide): {promql!r}")
    return value
