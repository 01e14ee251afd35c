"""An API server that goes away and comes back (every connection cut, new ones refused) is survived.

The operator reaches the bed's API server through a TCP forwarder the test can cut, which is what
a kube-apiserver restart looks like from the client side, without disturbing the shared bed.
"""

from __future__ import annotations

import time
import urllib.parse
from typing import Any

import pytest
import yaml

from flead_operator.samples import mote
from tests.cluster.operator.conftest import apply_docs, wait_ready
from tests.cluster.operator.proxy import CuttableProxy
from tests.support.testbed import wait_until

pytestmark = pytest.mark.cluster


def test_operator_survives_an_api_server_outage(
    operator_factory: Any, device_namespace: str, tmp_path: Any
) -> None:
    """Devices added during a 15 s outage become Ready after it; the operator never exits."""
    config = yaml.safe_load(operator_factory.kubeconfig.read_text())
    server = urllib.parse.urlsplit(config["clusters"][0]["cluster"]["server"])
    proxy = CuttableProxy((server.hostname or "127.0.0.1", server.port or 443)).restore()
    config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{proxy.port}"
    kubeconfig = tmp_path / "via-proxy.kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    operator = operator_factory([device_namespace], kubeconfig_path=kubeconfig).start()
    apply_docs(device_namespace, [mote(i) for i in range(1, 11)])
    wait_ready(device_namespace, 10)

    proxy.cut()
    apply_docs(device_namespace, [mote(i) for i in range(11, 21)])  # admin, not via the proxy
    time.sleep(15)  # the outage's length, not a synchronisation: nothing waits on it
    assert operator.proc is not None
    assert operator.proc.poll() is None, operator.log_tail()
    proxy.restore()

    wait_ready(device_namespace, 20, timeout=120)
    assert operator.healthz() == 200
    # Devices known are counted before the statuses of the same plan are written; Ready ones once
    # the operator has seen its own writes (the next reconcile), so that gauge is waited for.
    assert operator.metric("flead_operator_devices") == 20
    wait_until(
        "flead_operator_devices_ready == 20",
        lambda: operator.metric("flead_operator_devices_ready") == 20,
        timeout=60,
    )
