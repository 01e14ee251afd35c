"""The batched MLP: gradients match finite differences, stacking equals a per-device loop."""

from __future__ import annotations

import numpy as np
import pytest

from flead.model import network as nn

pytestmark = pytest.mark.unit

SIZES = (6, 5, 4, 3)


def _stacked(rng: np.random.Generator, g: int) -> list[np.ndarray]:
    """G independent float64 parameter sets, stacked per layer."""
    sets = [nn.init_params(rng, SIZES, out_scale=1.0) for _ in range(g)]
    return [np.stack([s[i] for s in sets]).astype(np.float64) for i in range(len(sets[0]))]


def _loss(params: list[np.ndarray], x: np.ndarray, w: np.ndarray) -> float:
    out, _ = nn.forward(params, x)
    return float((out * w).sum())


def test_gradients_match_finite_differences() -> None:
    """backward() is the exact gradient of sum(w * forward()) for every stacked parameter."""
    rng = np.random.default_rng(0)
    g, m = 3, 5
    params = [p + rng.normal(0, 0.1, p.shape) for p in _stacked(rng, g)]
    x = rng.normal(size=(g, m, SIZES[0]))
    w = rng.normal(size=(g, m, SIZES[-1]))
    _, cache = nn.forward(params, x)
    grads = nn.backward(params, cache, w)
    eps = 1e-6
    for p, grad in zip(params, grads, strict=True):
        assert grad.shape == p.shape
        for idx in list(np.ndindex(p.shape))[:: max(1, p.size // 25)]:
            old = p[idx]
            p[idx] = old + eps
            up = _loss(params, x, w)
            p[idx] = old - eps
            down = _loss(params, x, w)
            p[idx] = old
            assert grad[idx] == pytest.approx((up - down) / (2 * eps), rel=1e-5, abs=1e-7)


def test_stacked_forward_backward_equal_per_device_loop() -> None:
    """Running G devices stacked gives each device exactly what it gets alone."""
    rng = np.random.default_rng(1)
    g, m = 4, 7
    params = [p + rng.normal(0, 0.1, p.shape) for p in _stacked(rng, g)]
    x = rng.normal(size=(g, m, SIZES[0]))
    dout = rng.normal(size=(g, m, SIZES[-1]))
    out, cache = nn.forward(params, x)
    grads = nn.backward(params, cache, dout)
    for i in range(g):
        one = [p[i : i + 1] for p in params]
        out_i, cache_i = nn.forward(one, x[i : i + 1])
        np.testing.assert_allclose(out[i], out_i[0], rtol=1e-12)
        for a, b in zip(grads, nn.backward(one, cache_i, dout[i : i + 1]), strict=True):
            np.testing.assert_allclose(a[i], b[0], rtol=1e-10, atol=1e-12)


def test_adam_steps_reduce_a_regression_loss() -> None:
    """A few hundred Adam steps fit a linear target per device (each device its own target)."""
    rng = np.random.default_rng(2)
    g, m = 3, 64
    params = [np.stack([p] * g) for p in nn.init_params(rng, (2, 8, 1))]
    mom = [np.zeros_like(p) for p in params]
    vel = [np.zeros_like(p) for p in params]
    x = rng.normal(size=(g, m, 2)).astype(np.float32)
    target = (x @ rng.normal(size=(g, 2, 1))).astype(np.float32)
    first = None
    for step in range(1, 301):
        out, cache = nn.forward(params, x)
        err = out - target
        loss = float((err**2).mean())
        first = loss if first is None else first
        grads = nn.backward(params, cache, 2 * err / err[0].size)
        nn.adam_step(params, grads, mom, vel, np.full(g, step), lr=0.02)
    assert loss < 0.05 * first


def test_layer_shapes_match_init() -> None:
    """layer_shapes() names the shapes init_params() creates."""
    params = nn.init_params(np.random.default_rng(0), SIZES)
    assert [p.shape for p in params] == nn.layer_shapes(SIZES)
