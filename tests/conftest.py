"""Shared pytest configuration: markers are declared in pyproject.toml.

Test bed fixtures live in tests/support/testbed.py: every ``integration`` / ``cluster``
test gets a running bed (brought up by testbed/up.sh when needed) and its variables in
os.environ; ``pytest -m unit`` never starts it.
"""

from tests.support.testbed import (  # noqa: F401  (fixtures, re-exported for pytest)
    _testbed_for_marked_tests,
    bed_component_down,
    k8s_namespace,
    mint_sa_kubeconfig,
    read_testbed_env,
    register_prometheus_target,
)
