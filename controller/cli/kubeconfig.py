"""One way to reach the API server from the CLI: a kubeconfig (and context), else the in-cluster config."""

from __future__ import annotations

import os

from kubernetes import client, config


def api_client(kubeconfig: str | None = None, context: str | None = None) -> client.ApiClient:
    """Kubeconfig when one is named (or we are not in a pod: ~/.kube/config, $KUBECONFIG), else in-cluster."""
    if kubeconfig or context or not os.environ.get("KUBERNETES_SERVICE_HOST"):
        return config.new_client_from_config(config_file=kubeconfig, context=context)
    configuration = client.Configuration()
    config.load_incluster_config(client_configuration=configuration)
    return client.ApiClient(configuration)
