#!/usr/bin/env python3
"""Times peers on the inputs of imbalance-bench: numpy (hand-vectorised value
and gradient, the way one would write it), PyTorch autograd when `torch` is
importable and JAX (`jax.jit(jax.value_and_grad(loss))`) when `jax` is.
Prints ns per logit, a table or --json.

    python3 Benchmarks/peers.py [--json] [--quick] [--max-logits N] [--min] [--values]

Inputs are the same SplitMix64 streams as Sources/imbalance-bench/main.swift,
bit for bit: logits uniform in [-4, 4), binary targets 1 with probability
0.1, class labels uniform, Zipf priors, tau = 1. Float64 throughout. One
thread: numpy's elementwise functions are single-threaded; torch is pinned
with torch.set_num_threads(1); JAX runs on the CPU with XLA's Eigen thread
pool off and one intra-op thread (XLA_FLAGS, set before jax is imported).
JAX's inputs are converted to device arrays once, outside the timed call
(torch.from_numpy inside it shares the numpy buffer); each timed JAX call
waits for its results (block_until_ready).

--values prints each loss's value at 10^4 logits (numpy's, the lines that
`imbalance-bench --values` and `fused-c --values` print), then, for torch and
JAX, their values and gradients against numpy's: the relative difference of
the value and the largest gradient difference over the largest |gradient|.
"""
import json
import os
import statistics
import sys
import time

import numpy as np

GAMMA = np.uint64(0x9E3779B97F4A7C15)


def uniform(seed, count):
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + (np.arange(1, count + 1, dtype=np.uint64) * GAMMA)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


def logits(n):
    return -4 + 8 * uniform(1, n)


def targets(n):
    return (uniform(2, n) < 0.1).astype(np.float64)


def labels(n, k):
    return np.minimum(k - 1, (uniform(3, n) * k).astype(np.int64))


def priors(k):
    return 1 / np.arange(1, k + 1, dtype=np.float64)


# numpy: value and gradient, stable forms (softplus via log1p(exp(-|z|))).

def logistic(z):
    e = np.exp(-np.abs(z))
    r = 1 / (1 + e)
    p = np.where(z >= 0, r, e * r)
    return e, p, 1 - p


def np_smooth_accuracy(z, y):
    _, p, q = logistic(z)
    n = z.size
    return np.sum(y * q + (1 - y) * p) / n, -(2 * y - 1) * p * q / n


def np_bce(z, y):
    e, p, _ = logistic(z)
    l = np.log1p(e)
    loss = np.sum(y * (np.maximum(-z, 0) + l) + (1 - y) * (np.maximum(z, 0) + l)) / z.size
    return loss, (p - y) / z.size


def np_smooth_f1(z, y):
    _, p, q = logistic(z)
    t = np.sum(y * p)
    s = np.sum(y + p)
    f = 2 * t / s
    return 1 - f, -(2 / s) * (y - f / 2) * p * q


def np_f1_ce(z, y):
    e, p, q = logistic(z)
    f = 2 * np.sum(y * p) / np.sum(y + p)
    a_pos, a_neg = 1 - f / 2, f / 2
    l = np.log1p(e)
    loss = np.sum(a_pos * y * (np.maximum(-z, 0) + l)
                  + a_neg * (1 - y) * (np.maximum(z, 0) + l)) / z.size
    return loss, (a_neg * (1 - y) * p - a_pos * y * q) / z.size


def np_logit_adjusted(z, c, offsets):
    n = c.size
    a = z.reshape(n, -1) + offsets
    m = a.max(axis=1, keepdims=True)
    e = np.exp(a - m)
    s = e.sum(axis=1, keepdims=True)
    rows = np.arange(n)
    loss = np.sum(m[:, 0] + np.log(s[:, 0]) - a[rows, c]) / n
    g = e / s
    g[rows, c] -= 1
    return loss, g / n


def torch_functions():
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    F = torch.nn.functional

    def binary(loss_of):
        def run(z, y):
            zt = torch.from_numpy(z).requires_grad_()
            yt = torch.from_numpy(y)
            loss = loss_of(zt, yt)
            loss.backward()
            return loss.item(), zt.grad
        return run

    def f1(zt, yt):
        p = torch.sigmoid(zt)
        return 1 - 2 * (yt * p).sum() / (yt + p).sum()

    def f1_ce(zt, yt):
        with torch.no_grad():
            p = torch.sigmoid(zt)
            f = 2 * (yt * p).sum() / (yt + p).sum()
        w = (1 - f / 2) * yt + (f / 2) * (1 - yt)
        return F.binary_cross_entropy_with_logits(zt, yt, weight=w)

    def softmax(z, c, offsets):
        n = c.size
        zt = torch.from_numpy(z.reshape(n, -1)).requires_grad_()
        loss = F.cross_entropy(zt + torch.from_numpy(offsets), torch.from_numpy(c))
        loss.backward()
        return loss.item(), zt.grad

    return {
        "version": torch.__version__,
        "smooth-accuracy": binary(lambda z, y: (y * (1 - torch.sigmoid(z))
                                                + (1 - y) * torch.sigmoid(z)).mean()),
        "binary-cross-entropy": binary(F.binary_cross_entropy_with_logits),
        "smooth-f1": binary(f1),
        "f1-weighted-ce": binary(f1_ce),
        "logit-adjusted-ce": softmax,
    }


def jax_functions():
    # One CPU thread, set before jax is imported (the flags are read once).
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    flags = os.environ.get("XLA_FLAGS", "")
    for flag in ("--xla_cpu_multi_thread_eigen=false", "intra_op_parallelism_threads=1"):
        if flag.split("=")[0] not in flags:
            flags = f"{flags} {flag}".strip()
    os.environ["XLA_FLAGS"] = flags
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)

    def logistic(z):
        e = jnp.exp(-jnp.abs(z))
        r = 1 / (1 + e)
        p = jnp.where(z >= 0, r, e * r)
        return e, p, 1 - p

    def smooth_accuracy(z, y):
        _, p, q = logistic(z)
        return jnp.sum(y * q + (1 - y) * p) / z.size

    def bce(z, y):
        e, _, _ = logistic(z)
        l = jnp.log1p(e)
        return jnp.sum(y * (jnp.maximum(-z, 0) + l)
                       + (1 - y) * (jnp.maximum(z, 0) + l)) / z.size

    def smooth_f1(z, y):
        _, p, _ = logistic(z)
        return 1 - 2 * jnp.sum(y * p) / jnp.sum(y + p)

    def f1_ce(z, y):
        e, p, _ = logistic(z)
        f = jax.lax.stop_gradient(2 * jnp.sum(y * p) / jnp.sum(y + p))
        l = jnp.log1p(e)
        return jnp.sum((1 - f / 2) * y * (jnp.maximum(-z, 0) + l)
                       + (f / 2) * (1 - y) * (jnp.maximum(z, 0) + l)) / z.size

    def logit_adjusted(z, c, offsets):
        n = c.size
        a = z.reshape(n, -1) + offsets
        logp = jax.nn.log_softmax(a, axis=1)
        return -jnp.mean(jnp.take_along_axis(logp, c[:, None], axis=1))

    def timed(loss):
        step = jax.jit(jax.value_and_grad(loss))

        def run(*args):
            value, grad = step(*args)
            grad.block_until_ready()
            return float(value), grad
        return run

    fns = {name: timed(loss) for name, loss in (
        ("smooth-accuracy", smooth_accuracy), ("binary-cross-entropy", bce),
        ("smooth-f1", smooth_f1), ("f1-weighted-ce", f1_ce),
        ("logit-adjusted-ce", logit_adjusted))}
    fns["inputs"] = lambda *arrays: tuple(jnp.asarray(a) for a in arrays)
    fns["version"] = jax.__version__
    return fns


def median_time(fn, budget, minimum=False):
    fn()
    t = time.perf_counter()
    fn()
    first = time.perf_counter() - t
    runs = max(5, min(41, int(budget / max(first, 1e-9))))
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times) if minimum else statistics.median(times)


def main():
    args = sys.argv[1:]
    quick = "--quick" in args
    max_logits = 100_000 if quick else 10_000_000
    if "--max-logits" in args:
        max_logits = int(args[args.index("--max-logits") + 1])
    budget = 0.05 if quick else 0.25
    minimum = "--min" in args
    sizes = [n for n in (10_000, 100_000, 1_000_000, 10_000_000, 100_000_000) if n <= max_logits]
    peers = {"numpy": {
        "smooth-accuracy": np_smooth_accuracy, "binary-cross-entropy": np_bce,
        "smooth-f1": np_smooth_f1, "f1-weighted-ce": np_f1_ce,
        "logit-adjusted-ce": np_logit_adjusted}}
    for name, functions in (("torch", torch_functions), ("jax", jax_functions)):
        fns = functions()
        if fns:
            peers[name] = fns
    binary = ("smooth-accuracy", "binary-cross-entropy", "smooth-f1", "f1-weighted-ce")

    def inputs(fns, *arrays):
        return fns["inputs"](*arrays) if "inputs" in fns else arrays

    if "--values" in args:  # compare with `imbalance-bench --values`
        z, y = logits(10_000), targets(10_000)
        cases = [(name, name, (z, y)) for name in binary]
        for k in (10, 100, 1000):
            offsets = np.log(priors(k) / priors(k).sum())
            cases.append((f"logit-adjusted-ce K={k}", "logit-adjusted-ce",
                          (logits(10_000), labels(10_000 // k, k), offsets)))
        reference = {}
        for label, name, arrays in cases:
            reference[label] = peers["numpy"][name](*arrays)
            print(label, reference[label][0])
        for peer, fns in peers.items():
            if peer == "numpy":
                continue
            print(f"# {peer} {fns['version']}: value, relative difference from numpy's, "
                  "largest gradient difference / largest |gradient|")
            for label, name, arrays in cases:
                value, grad = fns[name](*inputs(fns, *arrays))
                v0, g0 = reference[label]
                g = np.asarray(grad).reshape(g0.shape)
                print(f"{peer} {label} {value!r} {abs(value - v0) / abs(v0):.1e} "
                      f"{np.max(np.abs(g - g0)) / np.max(np.abs(g0)):.1e}")
        return
    print("peers: " + ", ".join(
        p + (f" {fns['version']}" if "version" in fns else f" {np.__version__}")
        for p, fns in peers.items()), file=sys.stderr)
    rows = []
    for n in sizes:
        z, y = logits(n), targets(n)
        for peer, fns in peers.items():
            args_ = inputs(fns, z, y)
            for name in binary:
                t = median_time(lambda: fns[name](*args_), budget, minimum)
                rows.append({"peer": peer, "loss": name, "samples": n, "classes": 1,
                             "ns_per_logit": t / n * 1e9})
    for k in (10, 100, 1000):
        for total in sizes:
            if total < 10 * k:
                continue
            n = total // k
            z, c = logits(n * k), labels(n, k)
            offsets = np.log(priors(k) / priors(k).sum())
            for peer, fns in peers.items():
                args_ = inputs(fns, z, c, offsets)
                t = median_time(lambda: fns["logit-adjusted-ce"](*args_), budget, minimum)
                rows.append({"peer": peer, "loss": "logit-adjusted-ce", "samples": n,
                             "classes": k, "ns_per_logit": t / (n * k) * 1e9})
    if "--json" in args:
        print(json.dumps(rows, indent=1))
        return
    print("ns per logit (value + gradient), median, one thread")
    print("| peer | loss | N | K | ns/logit |")
    print("|---|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['peer']} | {r['loss']} | {r['samples']} | {r['classes']} | "
              f"{r['ns_per_logit']:.2f} |")


if __name__ == "__main__":
    main()
