#!/usr/bin/env python3
"""Writes Tests/ImbalanceLossTests/Fixtures/BinarySoftTargetsReference.swift:
values and gradients of the peer libraries themselves, for issue 14's points
4 and 5.

    python3 Scripts/binary_soft_targets_reference.py

Installs torch, torchvision, jax and optax with pip if they are missing (CPU
wheels are enough). Everything runs in float64 (torch.float64, jax x64).

- focal: torchvision.ops.sigmoid_focal_loss (reduction "none" for the
  per-sample terms, "mean" for the value) on soft and hard targets, alpha
  -1 (none) and 0.25, several gamma; the gradient of the mean by torch
  autograd. The library's BinaryFocalLoss with
  softTargetFocusing = .blendedProbability must reproduce it. optax's
  sigmoid_focal_loss is evaluated on the same inputs as a cross-check (it is
  the same blended form; the script asserts the two agree to 1e-12).
- label smoothing: optax.smooth_labels on the two-class one-hot [1 - y, y]
  (its second column is Keras' y (1 - eps) + 0.5 eps, which the script also
  asserts), then optax.sigmoid_binary_cross_entropy (BinaryCrossEntropy) and
  optax.sigmoid_focal_loss (BinaryFocalLoss, blended form), means and
  jax.grad gradients.
"""

import subprocess
import sys
from pathlib import Path


def ensure(module, package):
    try:
        __import__(module)
    except ImportError:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", package])


ensure("torch", "torch")
ensure("PIL", "pillow")
ensure("torchvision", "torchvision")
ensure("jax", "jax")
ensure("optax", "optax")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402
from torchvision.ops import sigmoid_focal_loss  # noqa: E402

LOGITS = [-30.0, -5.0, -1.5, -0.2, 0.0, 0.3, 1.0, 2.5, 6.0, 30.0, -0.7, 4.0]
SOFT = [0.3, 0.7, 0.5, 0.05, 0.95, 1.0, 0.0, 0.2, 0.9, 0.6, 0.35, 0.999]
HARD = [0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0]
GAMMAS = [0.5, 1.0, 2.0, 3.3]
ALPHAS = [None, 0.25]
EPSILONS = [0.1, 0.5, 1.0]


def swift(x):
    return repr(float(x)) if x == x else ".nan"


def array(xs):
    return "[" + ", ".join(swift(x) for x in xs) + "]"


def torchvision_focal(targets, gamma, alpha):
    z = torch.tensor(LOGITS, dtype=torch.float64, requires_grad=True)
    y = torch.tensor(targets, dtype=torch.float64)
    a = -1.0 if alpha is None else alpha
    terms = sigmoid_focal_loss(z, y, alpha=a, gamma=gamma, reduction="none")
    mean = sigmoid_focal_loss(z, y, alpha=a, gamma=gamma, reduction="mean")
    (grad,) = torch.autograd.grad(mean, z)
    return terms.detach().tolist(), mean.item(), grad.tolist()


def optax_focal(labels, gamma, alpha):
    z = jnp.array(LOGITS, dtype=jnp.float64)
    y = jnp.array(labels, dtype=jnp.float64)

    def mean(zz):
        return jnp.mean(optax.sigmoid_focal_loss(zz, y, alpha=alpha, gamma=gamma))

    terms = optax.sigmoid_focal_loss(z, y, alpha=alpha, gamma=gamma)
    return [float(t) for t in terms], float(mean(z)), [float(g) for g in jax.grad(mean)(z)]


def smoothed(eps):
    y = jnp.array(SOFT, dtype=jnp.float64)
    onehot = jnp.stack([1 - y, y], axis=-1)
    s = optax.smooth_labels(onehot, eps)[..., 1]
    keras = [t * (1.0 - eps) + 0.5 * eps for t in SOFT]
    assert max(abs(float(a) - b) for a, b in zip(s, keras)) < 1e-15
    return s


def optax_bce(labels):
    z = jnp.array(LOGITS, dtype=jnp.float64)

    def mean(zz):
        return jnp.mean(optax.sigmoid_binary_cross_entropy(zz, labels))

    terms = optax.sigmoid_binary_cross_entropy(z, labels)
    return [float(t) for t in terms], float(mean(z)), [float(g) for g in jax.grad(mean)(z)]


def case(name, terms, mean, grad, **fields):
    parts = [f"{k}: {v}" for k, v in fields.items()]
    return (
        f'  "{name}": PeerCase(\n    '
        + ", ".join(parts)
        + f",\n    terms: {array(terms)},\n    value: {swift(mean)},\n"
        + f"    gradient: {array(grad)}),"
    )


def main():
    lines = []
    for kind, targets in [("soft", SOFT), ("hard", HARD)]:
        for gamma in GAMMAS:
            for alpha in ALPHAS:
                terms, mean, grad = torchvision_focal(targets, gamma, alpha)
                oterms, omean, ograd = optax_focal(targets, gamma, alpha)
                assert max(abs(a - b) for a, b in zip(terms, oterms)) < 1e-12 * max(1, max(terms))
                assert max(abs(a - b) for a, b in zip(grad, ograd)) < 1e-12
                name = f"torchvision focal {kind} gamma {gamma} alpha {alpha}"
                lines.append(case(
                    name, terms, mean, grad, targets="soft" if kind == "soft" else "hard",
                    gamma=swift(gamma), alpha="nil" if alpha is None else swift(alpha),
                    labelSmoothing="0"))
    for eps in EPSILONS:
        labels = smoothed(eps)
        terms, mean, grad = optax_bce(labels)
        lines.append(case(
            f"optax bce eps {eps}", terms, mean, grad, targets='"soft"', gamma="0",
            alpha="nil", labelSmoothing=swift(eps)))
        for gamma, alpha in [(2.0, None), (0.5, 0.25)]:
            terms, mean, grad = optax_focal(labels, gamma, alpha)
            tterms, tmean, tgrad = torchvision_focal(list(map(float, labels)), gamma, alpha)
            assert abs(mean - tmean) < 1e-12 * max(1, mean)
            lines.append(case(
                f"optax focal eps {eps} gamma {gamma} alpha {alpha}", terms, mean, grad,
                targets='"soft"', gamma=swift(gamma),
                alpha="nil" if alpha is None else swift(alpha), labelSmoothing=swift(eps)))
    lines = [line.replace('targets: soft', 'targets: "soft"').replace(
        'targets: hard', 'targets: "hard"') for line in lines]
    header = f"""// Generated by Scripts/binary_soft_targets_reference.py (torch {torch.__version__}, \
torchvision {torchvision.__version__}, jax {jax.__version__}, optax {optax.__version__}); do not edit.

/// The logits of every peer case.
let peerLogits: [Double] = {array(LOGITS)}
/// The soft targets (the hard ones are `peerHardTargets`).
let peerSoftTargets: [Double] = {array(SOFT)}
/// Hard targets for the same logits.
let peerHardTargets: [Double] = {array(HARD)}

/// One peer-library case on `peerLogits`: which targets (`"soft"` or
/// `"hard"`), the loss options, the per-sample terms (reduction "none"), the
/// mean and the gradient of the mean.
struct PeerCase: Sendable {{
  let targets: String
  let gamma: Double
  let alpha: Double?
  let labelSmoothing: Double
  let terms: [Double]
  let value: Double
  let gradient: [Double]
}}

/// torchvision's sigmoid_focal_loss (gamma > 0 cases; `labelSmoothing` 0),
/// optax's sigmoid_binary_cross_entropy ("optax bce", gamma 0) and
/// sigmoid_focal_loss on optax.smooth_labels targets.
let peerReference: [String: PeerCase] = [
"""
    out = header + "\n".join(lines) + "\n]\n"
    path = Path(__file__).resolve().parent.parent / "Tests/ImbalanceLossTests/Fixtures/BinarySoftTargetsReference.swift"
    path.write_text(out)
    print("wrote", path, len(lines), "cases")


main()
