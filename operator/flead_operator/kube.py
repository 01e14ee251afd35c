"""The writes the operator makes (trainers, their ServiceAccounts and device ConfigMaps, statuses), counted by verb."""

from __future__ import annotations

import os
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from flead_operator.metrics import OperatorMetrics
from flead_operator.records import GROUP, PLURAL, VERSION

__all__ = ["FIELD_MANAGER", "Kube", "load_configuration"]

FIELD_MANAGER = "flead-operator"


def load_configuration(pool_size: int) -> client.Configuration:
    """In-cluster credentials inside a pod, else $KUBECONFIG / ~/.kube/config."""
    cfg = client.Configuration()
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config(client_configuration=cfg)
    else:
        config.load_kube_config(client_configuration=cfg)
    cfg.connection_pool_maxsize = pool_size
    return cfg


class Kube:
    """Blocking calls (run them in a thread pool); 404 on delete or status patch is not an error."""

    def __init__(self, cfg: client.Configuration, metrics: OperatorMetrics, timeout: float) -> None:
        self._api = client.ApiClient(cfg)
        self._metrics = metrics
        self._timeout = timeout

    def _call(
        self, verb: str, method: str, path: str, body: Any, content_type: str, **query: Any
    ) -> None:
        self._metrics.api_requests.labels(verb=verb).inc()
        self._api.call_api(
            path,
            method,
            query_params=list(query.items()),
            header_params={"Content-Type": content_type, "Accept": "application/json"},
            body=body,
            auth_settings=["BearerToken"],
            _return_http_data_only=True,
            _request_timeout=self._timeout,
        )

    def _apply(self, path: str, body: dict[str, Any]) -> None:
        """Server-side apply: create or update, idempotent, no read needed."""
        self._call(
            "apply",
            "PATCH",
            path,
            body,
            "application/apply-patch+yaml",
            fieldManager=FIELD_MANAGER,
            force="true",
        )

    def _delete(self, path: str, body: dict[str, Any] | None) -> None:
        """Delete; 404 (already gone) is not an error."""
        try:
            self._call("delete", "DELETE", path, body, "application/json")
        except ApiException as error:
            if error.status != 404:
                raise

    def apply_deployment(self, body: dict[str, Any]) -> None:
        """Create or update a trainer Deployment."""
        meta = body["metadata"]
        self._apply(
            f"/apis/apps/v1/namespaces/{meta['namespace']}/deployments/{meta['name']}", body
        )

    def apply_configmap(self, body: dict[str, Any]) -> None:
        """Create or update a trainer's device ConfigMap."""
        meta = body["metadata"]
        self._apply(f"/api/v1/namespaces/{meta['namespace']}/configmaps/{meta['name']}", body)

    def apply_serviceaccount(self, body: dict[str, Any]) -> None:
        """Create or update a trainer's ServiceAccount (its identity at the aggregator)."""
        meta = body["metadata"]
        self._apply(f"/api/v1/namespaces/{meta['namespace']}/serviceaccounts/{meta['name']}", body)

    def delete_deployment(self, namespace: str, name: str) -> None:
        """Delete a trainer Deployment; its ReplicaSets and pods follow in the background."""
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        self._delete(f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}", body)

    def delete_configmap(self, namespace: str, name: str) -> None:
        """Delete a trainer's device ConfigMap."""
        self._delete(f"/api/v1/namespaces/{namespace}/configmaps/{name}", None)

    def delete_serviceaccount(self, namespace: str, name: str) -> None:
        """Delete a trainer's ServiceAccount: its tokens stop authenticating at once."""
        self._delete(f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}", None)

    def patch_device_status(self, namespace: str, name: str, patch: dict[str, Any]) -> None:
        """JSON-merge-patch the status subresource of one FederatedDevice."""
        path = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}/{name}/status"
        try:
            self._call(
                "patch",
                "PATCH",
                path,
                {"status": patch},
                "application/merge-patch+json",
                fieldManager=FIELD_MANAGER,
            )
        except ApiException as error:
            if error.status != 404:
                raise

    def close(self) -> None:
        """Release the connection pool."""
        self._api.close()
