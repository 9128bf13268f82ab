"""L-BFGS for the endgame of the "margin" optimiser: the memory, the direction, the line search.

Why. Once the logits are confident (methods.SWITCH_CE_SHARE), what is left is a smooth, full-batch,
deterministic minimisation towards a minimum whose Hessian is badly conditioned: the min margin is
set by the worst of N (p - 1) pairs, and the cross-entropy, an average, sees a pair 1% below the
others with weight e^(0.01 T) ~ 1.2 at T = 20. Adam (momentum SGD with step lr / ADAM_EPS once the
gradient is small) converges linearly there, at a rate set by the smallest curvature; L-BFGS
(Nocedal 1980; Nocedal & Wright, Numerical Optimization, Alg. 7.4 and 7.5) builds a curvature model
from its last HISTORY steps. Measured from the same networks (float64, one thread): (31, 3) at step
2500 (ratio 0.937), Adam needs about 3000 more steps to 0.986, L-BFGS 160 iterations (170 gradient
evaluations) to 0.99; (101, 2) at step 2500 (0.863): Adam 0.964 after 4300 more, L-BFGS 0.98 after
700 (docs/training.md).

How. The loss L(theta) = CE(s f(theta / ||theta||_{2,k+1})) / CE* does not change when theta is
scaled, so it needs no constraint: after each accepted step theta is put back on the sphere
(theta / r) and the gradient, which scales as 1/r, is multiplied by r -- exactly the gradient at
the projected point, so no evaluation is spent on it. The direction is the two-loop recursion's
-H g, H built from the pairs (s, y) with s . y > CURVATURE_FLOOR |s| |y| (others are skipped,
which keeps H positive definite) and H_0 = (s . y / y . D y) D from the newest pair, D a
positive diagonal the caller passes (the "margin" optimiser passes neuron_scaling; the identity
when none). The step length: 1, or after a reset min(1, 1 / |g|_1) (as torch.optim.LBFGS),
halved until the Armijo condition L(x + t d) <= L(x) + ARMIJO t g . d holds within the dtype's
rounding of L; a direction that is not downhill, or a search that fails, resets the memory (the
next step is -D g). A change of the weights from outside (birth-death, rebalancing) must call
reset(): the memory describes the old network.
"""

from __future__ import annotations

from typing import Any

import torch

from fourier_circuits.constructions.training.model import neuron_norms_sq

#: Pairs (s, y) kept.
HISTORY = 20
#: Sufficient decrease of the Armijo condition.
ARMIJO = 1e-4
#: Halvings of the step length before the search gives up.
MAX_HALVINGS = 30
#: A pair is kept only when s . y > CURVATURE_FLOOR |s| |y|.
CURVATURE_FLOOR = 1e-10
#: The Armijo condition holds within this many units of rounding of the loss (float32 losses
#: near their minimum 1 differ from each other by little more than their rounding).
ROUNDING_UNITS = 16
#: neuron_scaling treats a neuron lighter than 1 / SCALING_CAP of the RMS neuron norm as that
#: light (its factor is at most SCALING_CAP^(k-1) times an RMS neuron's).
SCALING_CAP = 10.0


class LBFGSMemory:
    """The last HISTORY steps s and gradient changes y (flat tensors of the training dtype), and
    the loss and gradient at the current weights (None until evaluated)."""

    def __init__(self) -> None:
        self.s: list[torch.Tensor] = []
        self.y: list[torch.Tensor] = []
        self.loss: float | None = None
        self.grad: torch.Tensor | None = None
        self.step_length = 0.0  # of the last accepted step (reported as the run's "lr")

    def forget_pairs(self) -> None:
        """Drop the curvature model; the loss and gradient at the current weights stay."""
        self.s.clear()
        self.y.clear()

    def reset(self) -> None:
        """Forget everything: the weights changed from outside."""
        self.forget_pairs()
        self.loss = None
        self.grad = None

    def direction(self, g: torch.Tensor, scaling: torch.Tensor | None = None) -> torch.Tensor:
        """-H g by the two-loop recursion; H_0 = gamma D with D = diag(scaling) (the identity when
        None) and gamma = s . y / (y . D y) from the newest pair (1 without pairs, when the
        direction is -D g)."""
        q = g.neg()
        alphas = []
        for s, y in zip(reversed(self.s), reversed(self.y), strict=True):
            alpha = float(s @ q) / float(s @ y)
            q.sub_(y, alpha=alpha)
            alphas.append(alpha)
        if self.s:
            s, y = self.s[-1], self.y[-1]
            dy = y if scaling is None else scaling * y
            q.mul_(float(s @ y) / float(y @ dy))
        if scaling is not None:
            q.mul_(scaling)
        for s, y, alpha in zip(self.s, self.y, reversed(alphas), strict=True):
            beta = float(y @ q) / float(s @ y)
            q.add_(s, alpha=alpha - beta)
        return q

    def remember(self, s: torch.Tensor, y: torch.Tensor) -> None:
        sy = float(s @ y)
        if sy > CURVATURE_FLOOR * float(s.norm()) * float(y.norm()):
            self.s.append(s)
            self.y.append(y)
            if len(self.s) > HISTORY:
                del self.s[0], self.y[0]

    def state_dict(self) -> dict[str, Any]:
        def cpu(x: torch.Tensor) -> torch.Tensor:
            return x.detach().to("cpu", copy=True)

        return {
            "s": [cpu(x) for x in self.s],
            "y": [cpu(x) for x in self.y],
            "loss": self.loss,
            "grad": None if self.grad is None else cpu(self.grad),
            "step_length": self.step_length,
        }

    def load_state_dict(self, state: dict[str, Any], like: torch.Tensor) -> None:
        """Restore onto `like`'s device and dtype."""

        def put(x: torch.Tensor) -> torch.Tensor:
            return x.to(like.device, like.dtype)

        self.s = [put(x) for x in state["s"]]
        self.y = [put(x) for x in state["y"]]
        self.loss = None if state["loss"] is None else float(state["loss"])
        self.grad = None if state["grad"] is None else put(state["grad"])
        self.step_length = float(state["step_length"])


def armijo_holds(new: float, old: float, t: float, slope: float, eps: float) -> bool:
    """L(x + t d) <= L(x) + ARMIJO t (g . d), within ROUNDING_UNITS of the loss's rounding."""
    return new <= old + ARMIJO * t * slope + ROUNDING_UNITS * eps * abs(old)


def first_step_length(memory: LBFGSMemory, g: torch.Tensor) -> float:
    """1 with a curvature model; min(1, 1 / |g|_1) without one (torch.optim.LBFGS's choice)."""
    if memory.s:
        return 1.0
    return min(1.0, 1.0 / max(float(g.abs().sum()), 1e-300))


def neuron_scaling(U: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """L-BFGS's initial inverse Hessian, up to its scale: neuron i's coordinates get
    (n_i / n)^-(k-1) (U: (m, k, p), W: (m, p)), n_i = ||theta_i|| clamped to at least
    n / SCALING_CAP, n the RMS of the n_i; normalized to mean 1, as one flat vector
    (LBFGSMemory.direction's scaling). Why: the network is (k+1)-homogeneous in each theta_i, so
    the curvature along neuron i scales as n_i^(k-1); with H_0 a multiple of the identity a light
    neuron turns n_i^(k-1) times too slowly, and the rescaling back to the sphere, driven by the
    heavy ones, kills it (docs/training.md)."""
    norms = neuron_norms_sq(U, W).sqrt()
    rms = float(norms.pow(2).mean().sqrt())
    per_neuron = norms.clamp_min(rms / SCALING_CAP).div_(rms).pow_(-(U.shape[1] - 1))
    per_neuron.div_(per_neuron.mean())
    return flat(per_neuron[:, None, None].expand_as(U), per_neuron[:, None].expand_as(W))


def flat(U: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """U (m, k, p) and W (m, p), or their gradients, as one vector (L-BFGS's theta)."""
    return torch.cat([U.flatten(), W.flatten()])
