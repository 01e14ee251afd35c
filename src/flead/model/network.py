"""Batched per-device MLP: pure forward, backward and Adam over a leading device axis."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

__all__ = ["Params", "adam_step", "backward", "forward", "init_params", "layer_shapes"]

Params = list[np.ndarray]  # [W1, b1, W2, b2, ...]; stacked: each with a leading device axis


def layer_shapes(sizes: Sequence[int]) -> list[tuple[int, ...]]:
    """Shapes of W and b of each dense layer for layer widths `sizes` (input first)."""
    shapes: list[tuple[int, ...]] = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        shapes += [(fan_in, fan_out), (fan_out,)]
    return shapes


def init_params(rng: np.random.Generator, sizes: Sequence[int], out_scale: float = 0.1) -> Params:
    """Glorot-uniform weights, zero biases; the output layer is scaled by `out_scale`."""
    params: Params = []
    last = len(sizes) - 2
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        limit = np.sqrt(6.0 / (fan_in + fan_out)) * (out_scale if i == last else 1.0)
        params.append(rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32))
        params.append(np.zeros(fan_out, dtype=np.float32))
    return params


def forward(params: Params, x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Output [G, m, out] of tanh hidden layers and a linear output for x [G, m, in].

    `params` are stacked ([G, in, out] and [G, out]); the cache holds each layer's input.
    """
    cache = [x]
    h = x
    n_layers = len(params) // 2
    for i in range(n_layers):
        h = np.matmul(h, params[2 * i])
        h += params[2 * i + 1][:, None, :]
        if i < n_layers - 1:
            np.tanh(h, out=h)
            cache.append(h)
    return h, cache


def backward(params: Params, cache: list[np.ndarray], dout: np.ndarray) -> Params:
    """Gradients (stacked like `params`) of sum(dout * output) given the forward cache."""
    grads: Params = [np.empty(0)] * len(params)
    delta = dout
    for i in range(len(params) // 2 - 1, -1, -1):
        h_in = cache[i]
        grads[2 * i] = np.matmul(h_in.transpose(0, 2, 1), delta)
        grads[2 * i + 1] = delta.sum(axis=1)
        if i > 0:
            delta = np.matmul(delta, params[2 * i].transpose(0, 2, 1))
            delta *= 1.0 - h_in * h_in
    return grads


def adam_step(
    params: Params,
    grads: Params,
    m: Params,
    v: Params,
    step: np.ndarray,
    lr: float,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
) -> None:
    """One Adam step in place on stacked arrays; `step` [G] is each device's step count after it."""
    c1 = (lr / (1.0 - beta1**step)).astype(np.float32)
    c2 = (1.0 / (1.0 - beta2**step)).astype(np.float32)
    for p, g, mi, vi in zip(params, grads, m, v, strict=True):
        shape = (-1,) + (1,) * (p.ndim - 1)
        mi *= beta1
        mi += (1.0 - beta1) * g
        vi *= beta2
        vi += (1.0 - beta2) * g * g
        p -= c1.reshape(shape) * mi / (np.sqrt(c2.reshape(shape) * vi) + eps)
