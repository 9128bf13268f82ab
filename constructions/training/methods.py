"""The three optimisers, each one step at a time on the weights U: (m, k, p), W: (m, p).

"margin" -- the default, the fastest to the maximum margin (measured: benchmarks/bench_train.py).
    Minimise the cross-entropy of the normalized network at a fixed logit scale s = T / gamma*,
        L(theta) = CE( s f(theta / ||theta||_{2,k+1}) ),  kept on the sphere ||theta||_{2,k+1} = 1,
    with Adam (betas 0.9, 0.98), a projection back to the sphere after each step and a learning
    rate halved every `lr_half_life` steps, until the logits are confident (CE <= SWITCH_CE_SHARE
    log p, checked every `split_every` steps); from then on, in full-batch runs with `lbfgs`
    (the default; batch_size None), L-BFGS (training.lbfgs): measured at the paper's width,
    seeds 0-2, (31, 3) reaches margin ratio 0.99 at steps 350-500 where Adam alone had 0.986 at
    5400 (seed 0), (101, 2) at 1150-1400 where Adam alone had 0.964 at 6800, (13, 4) at
    1500-1700 (docs/training.md).
    Why the minimiser is a max-margin network, for every s (prime p, m >= the width bound): the pair
    margins g(a, c) = f[y] - f[c] of a unit network have mean E[g] = E_a[g'] <= gamma* (the
    class-weighted bound, Lemmas F.5-F.8 of arXiv 2402.09469); CE is a convex function of the vector
    of all g that is invariant under the affine maps a -> u a + t of Z_p^k (u a unit), which act on
    networks without changing the norm and permute the pairs (a, c) transitively; so by Jensen CE(g)
    >= CE(mean(g) 1) >= CE(gamma* 1), with equality at a max-margin network with every example on
    the margin and all wrong labels tied (App. G). s only sets the conditioning: at the optimum
    every logit gap is T.
    The loss is reported as CE / CE*, CE* = log(1 + (p-1) e^-T) its value at a max-margin
    network, so it is >= 1 and tends to 1 (and its gradient does not shrink like e^-T).
    Birth-death (after Rotskoff, Jelassi, Bruna, Vanden-Eijnden, NeurIPS 2019): every `split_every`
    steps until `split_until`, if the lightest neuron carries less than SPLIT_LIGHT_SHARE of an
    average neuron's ||theta_i||^(k+1), or if the excess loss CE/CE* - 1 is above SPLIT_LOSS_GAP and
    stopped shrinking, the lightest neuron is removed and the heaviest split into two halves (each
    scaled by 2^(-1/(k+1)), which leaves f unchanged by homogeneity) plus a small random
    perturbation; it stops when L-BFGS takes over. At the paper's width the neurons are only just
    enough: without this, descent keeps the random share of neurons per frequency it starts with,
    and a frequency with too few neurons cannot form cos(x_1 + ... + x_k - y) (measured with
    split_every=0: (13, 2) seeds 0 and 1 stop on a plateau at margin ratio 0.958, 0.940).
    Frequency rebalancing (training.rebalance; `rebalance`, on by default): every `split_every`
    steps, also after `split_until`, frequencies with fewer active neurons than the mean (after
    the hand-over to L-BFGS: than rebalance.lbfgs_rebalance_target) get splits of their own
    heaviest neuron (or, when empty, a single cosine obeying the phase-sum rule), the donors
    being light neurons or the most crowded frequency's lightest; without it the counts stay as
    uneven as the initialisation made them ((61, 2): 2..9 neurons against a mean of 8) and the
    margin stops short ((61, 2) seed 0: 0.92 against 0.99 at 3250 steps).
    L-BFGS's initial inverse Hessian is diagonal, per neuron (lbfgs.neuron_scaling): with a
    multiple of the identity, light neurons died in the L-BFGS phase and (13, 4) stopped at 0.95.
"gd" -- Morwani et al. (arXiv 2311.07568): full-batch gradient descent on
        CE( f(theta) ) + lambda ||theta||_{2,k+1}^r    (r = k + 1: lambda sum_i ||theta_i||^(k+1)),
    learning rate lr doubled at steps 1000, 2000, ..., 10000.
"adamw" -- App. J.1 of arXiv 2402.09469: torch.optim.AdamW, betas (0.9, 0.98), decoupled weight
    decay lambda, linear warm-up over the first 10 steps.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch

from fourier_circuits.constructions.training.config import TrainConfig
from fourier_circuits.constructions.training.kernel import ce_gradients
from fourier_circuits.constructions.training.lbfgs import (
    MAX_HALVINGS,
    LBFGSMemory,
    armijo_holds,
    first_step_length,
    flat,
    neuron_scaling,
)
from fourier_circuits.constructions.training.model import Batch, neuron_norms_sq, norm_power
from fourier_circuits.constructions.training.rebalance import (
    lbfgs_rebalance_target,
    rebalance,
    split_into,
)

#: Adam's betas for "margin": the paper's AdamW betas (App. J.1), used unchanged.
BETAS = (0.9, 0.98)
#: Adam's epsilon, in units of the normalized loss CE / CE*. Where the gradient's running RMS
#: falls below it (near the optimum), Adam turns into momentum SGD with step lr / ADAM_EPS, which
#: converges smoothly instead of hovering at Adam's noise floor. Measured at T = 20 on (7, 3) and
#: (11, 3), seeds 0-2 (steps to margin ratio 0.99): 0.03 -> 5000-5850, 0.1 -> 2350-5150,
#: 0.3 -> 2050-3350, 1 -> 2750-14150, 3 -> mostly not within 20000.
ADAM_EPS = 0.3
#: The lr of "margin" never falls below this share of its initial value.
LR_FLOOR = 1e-3
#: Relative size of the perturbation that separates the two halves of a split neuron
#: (measured as for ADAM_EPS: 0.002 and 0.01 slower than 0.05, 0.1 best, 0.2 one slow seed).
SPLIT_NOISE = 0.1
#: Birth-death only when the excess loss CE / CE* - 1 is above this ...
SPLIT_LOSS_GAP = 0.01
#: ... and shrank by less than this share since the previous check.
SPLIT_STALL = 0.1
#: ... or when the lightest neuron carries less than this share of an average neuron (its
#: removal then costs the margin little).
SPLIT_LIGHT_SHARE = 0.25
#: Without birth-death checks (split_every = 0), the switch to L-BFGS is checked this often.
SWITCH_EVERY = 100
#: Adam hands over to L-BFGS once the cross-entropy is below this share of log p (its value at
#: equal logits). Measured: from a random start at (13, 4) the logits are nearly equal (CE 2.4,
#: log 13 = 2.56) and L-BFGS crawls there (CE 1.5e-3 after 2700 steps), while at (31, 3) Adam
#: has CE 6e-4 (a share 2e-4) at step 100 and L-BFGS takes it from there to 0.99 by step 850.
SWITCH_CE_SHARE = 0.01
#: "gd": the steps at which Morwani et al. double the learning rate.
GD_DOUBLING_EVERY = 1000
GD_DOUBLINGS = 10
#: "adamw": linear warm-up steps (App. J.1).
ADAMW_WARMUP = 10


class Method:
    """One optimiser: step(t, batch) updates U and W in place and returns the objective.

    Gradients come from training.kernel (the hand-written backward pass of eq. 2's network),
    never from autograd: U and W are plain tensors."""

    def __init__(self, U: torch.Tensor, W: torch.Tensor, config: TrainConfig) -> None:
        self.U = U.detach()
        self.W = W.detach()
        self.config = config
        self.k = int(U.shape[1])
        # the kernel's Python workers (training.kernel.ce_gradients); make_method sets them
        self.workers = 1

    def lr(self, t: int) -> float:
        raise NotImplementedError

    def step(self, t: int, batch: Batch) -> float:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """The weights and the optimiser's state, copied to the CPU (training.state): after
        load_state_dict of it, steps continue exactly as they would have."""
        return {
            "U": self.U.detach().to("cpu", copy=True),
            "W": self.W.detach().to("cpu", copy=True),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        with torch.no_grad():
            self.U.copy_(state["U"])
            self.W.copy_(state["W"])

    def _norm_power_gradient(self) -> tuple[torch.Tensor, torch.Tensor]:
        """d ||theta||_{2,k+1}^(k+1) / d(U, W): for each neuron (k+1) ||theta_i||^(k-1) theta_i
        (the derivative of (||theta_i||^2)^((k+1)/2))."""
        q = neuron_norms_sq(self.U, self.W).pow((self.k - 1) / 2).mul_(self.k + 1)  # (m,)
        return q[:, None, None] * self.U, q[:, None] * self.W


class MarginMethod(Method):
    """Adam on the unit sphere, cross-entropy at logit scale T / gamma*, birth-death."""

    def __init__(
        self,
        U: torch.Tensor,
        W: torch.Tensor,
        config: TrainConfig,
        *,
        gamma_star: float,
        generator: torch.Generator,
    ) -> None:
        super().__init__(U, W, config)
        self.scale = config.temperature / gamma_star  # s: logit gap T at the max-margin network
        # CE at the max-margin network (every wrong-label gap equal to T): the minimum of the
        # loss on the sphere, so loss / optimum >= 1 (module docstring) and its gradient does
        # not shrink like e^-T (which would put it below Adam's epsilon for large T)
        p = int(U.shape[2])
        self.optimum = math.log1p((p - 1) * math.exp(-config.temperature))
        self.generator = generator
        self.moments = {
            name: (torch.zeros_like(x), torch.zeros_like(x)) for name, x in self.params.items()
        }
        self.last_excess = math.inf  # loss - 1 at the previous birth-death check
        self.phase = "adam"  # then "lbfgs" (step, _may_switch)
        self.lbfgs = LBFGSMemory()
        self._project()

    @property
    def params(self) -> dict[str, torch.Tensor]:
        return {"U": self.U, "W": self.W}

    def state_dict(self) -> dict[str, Any]:
        moments = {
            name: [x.detach().to("cpu", copy=True) for x in pair]
            for name, pair in self.moments.items()
        }
        return {
            **super().state_dict(),
            "moments": moments,
            "last_excess": self.last_excess,
            "phase": self.phase,
            "lbfgs": self.lbfgs.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        with torch.no_grad():
            for name, pair in self.moments.items():
                for moment, saved in zip(pair, state["moments"][name], strict=True):
                    moment.copy_(saved)
        self.last_excess = float(state["last_excess"])
        self.phase = str(state["phase"])
        self.lbfgs.load_state_dict(state["lbfgs"], like=self.U)

    def lr(self, t: int) -> float:
        if self.phase == "lbfgs":  # the step length of the last line search
            return self.lbfgs.step_length
        half_life = self.config.lr_half_life or 1
        assert self.config.lr is not None
        return self.config.lr * max(0.5 ** (t / half_life), LR_FLOOR)

    def objective(self, batch: Batch) -> tuple[float, torch.Tensor, torch.Tensor]:
        """(CE / CE* of the normalized network, its gradient in U, in W) on the batch."""
        # f(theta / ||theta||) = f(theta) / ||theta||^(k+1) by (k+1)-homogeneity, so the loss is
        # CE(c f(theta)) / CE* with c = s / P, P = ||theta||_{2,k+1}^(k+1); by the chain rule
        # dL = (dCE|_c + dCE/dc * dc) / CE*, dc = -(c / P) dP
        P = float(norm_power(self.U, self.W))
        c = self.scale / P
        g = ce_gradients(self.U, self.W, batch.inputs, batch.labels, scale=c, workers=self.workers)
        dPU, dPW = self._norm_power_gradient()
        coef = -g.dscale * c / P
        dU = dPU.mul_(coef).add_(g.dU).div_(self.optimum)
        dW = dPW.mul_(coef).add_(g.dW).div_(self.optimum)
        return g.loss / self.optimum, dU, dW

    def step(self, t: int, batch: Batch) -> float:
        value = self._lbfgs_step(batch) if self.phase == "lbfgs" else self._adam_step(t, batch)
        with torch.no_grad():
            every, until = self.config.split_every or 0, self.config.split_until or 0
            at_check = bool(every) and (t + 1) % every == 0
            changed = False
            if self.phase == "adam" and at_check and t + 1 < until:
                stalled = self._stalled(value)  # called at every check: it tracks the excess
                if stalled or self._lightest_share() < SPLIT_LIGHT_SHARE / self.U.shape[0]:
                    changed = self._split()
            born = 0
            if at_check and self.config.rebalance:
                born = rebalance(
                    self.params,
                    self.moments,
                    split_noise=SPLIT_NOISE,
                    generator=self.generator,
                    target=None if self.phase == "adam" else lbfgs_rebalance_target(self.k),
                )
                if born:
                    self._project()
                    changed = True
            if changed:
                self.lbfgs.reset()  # its memory describes the network before the change
            check = every or SWITCH_EVERY
            if (
                self.phase == "adam"
                and (t + 1) % check == 0
                and not born
                and self._may_switch(value)
            ):
                self.phase = "lbfgs"
        return value

    def _may_switch(self, loss: float) -> bool:
        """Adam -> L-BFGS, in full-batch runs with `lbfgs`, once the cross-entropy (not divided by
        CE*) is below SWITCH_CE_SHARE of log p, its value when every logit is equal."""
        if not self.config.lbfgs or self.config.batch_size is not None:
            return False
        p = int(self.U.shape[2])
        return loss * self.optimum <= SWITCH_CE_SHARE * math.log(p)

    def _adam_step(self, t: int, batch: Batch) -> float:
        value, dU, dW = self.objective(batch)
        grads = {"U": dU, "W": dW}
        b1, b2 = BETAS
        lr = self.lr(t)
        with torch.no_grad():
            for name, x in self.params.items():
                grad = grads[name]
                m1, m2 = self.moments[name]
                m1.lerp_(grad, 1 - b1)
                m2.mul_(b2).addcmul_(grad, grad, value=1 - b2)
                # torch.optim.Adam's update, bias-corrected
                denom = (m2 / (1 - b2 ** (t + 1))).sqrt_().add_(ADAM_EPS)
                x.addcdiv_(m1, denom, value=-lr / (1 - b1 ** (t + 1)))
            self._project()
        return value

    def _lbfgs_step(self, batch: Batch) -> float:
        """One L-BFGS iteration (training.lbfgs): direction, Armijo search, back to the sphere.
        Returns the loss at the new weights (at the old ones when the search failed)."""
        memory = self.lbfgs
        if memory.grad is None or memory.loss is None:
            memory.loss, dU, dW = self.objective(batch)
            memory.grad = flat(dU, dW)
        x0, g0, f0 = flat(self.U, self.W), memory.grad, memory.loss
        scaling = neuron_scaling(self.U, self.W)
        d = memory.direction(g0, scaling)
        slope = float(g0 @ d)
        if not slope < 0:  # not downhill: the pairs forgotten, d = -D g
            memory.forget_pairs()
            d = memory.direction(g0, scaling)
            slope = float(g0 @ d)
        t = first_step_length(memory, g0)
        eps = torch.finfo(self.U.dtype).eps
        for _ in range(MAX_HALVINGS):
            self._set_flat(x0 + t * d)
            value, dU, dW = self.objective(batch)
            if math.isfinite(value) and armijo_holds(value, f0, t, slope, eps):
                break
            t /= 2
        else:  # no decrease found: stay, and start the memory afresh
            self._set_flat(x0)
            memory.reset()
            return f0
        # back on the sphere; the loss is scale-invariant, so its gradient scales as 1/r
        r = self._project()
        g = flat(dU, dW).mul_(r)
        x = flat(self.U, self.W)
        memory.remember(x - x0, g - g0)
        memory.loss, memory.grad, memory.step_length = value, g, t
        return value

    def _set_flat(self, x: torch.Tensor) -> None:
        n = self.U.numel()
        with torch.no_grad():
            self.U.copy_(x[:n].view_as(self.U))
            self.W.copy_(x[n:].view_as(self.W))

    def _lightest_share(self) -> float:
        """min_i ||theta_i||^(k+1) / sum_i ||theta_i||^(k+1): the share of the network that
        removing the lightest neuron loses (by homogeneity)."""
        mass = neuron_norms_sq(self.U, self.W).pow((self.k + 1) / 2)
        return float(mass.min() / mass.sum())

    def _stalled(self, loss: float) -> bool:
        """At a birth-death check: is descent stuck above the optimum? The excess loss - 1 (the
        loss is CE / CE*, 1 at a max-margin network) must exceed SPLIT_LOSS_GAP and have shrunk
        by less than SPLIT_STALL since the previous check; the check after a split never splits
        (the excess jumps when a neuron is removed and needs time to recover)."""
        excess, previous = loss - 1.0, self.last_excess
        self.last_excess = excess
        stalled = excess > SPLIT_LOSS_GAP and excess > (1.0 - SPLIT_STALL) * previous
        if stalled:
            self.last_excess = math.inf
        return stalled

    def _project(self) -> float:
        """theta <- theta / r, r = ||theta||_{2,k+1}; returns r."""
        with torch.no_grad():
            r = norm_power(self.U, self.W) ** (1.0 / (self.k + 1))
            self.U.div_(r)
            self.W.div_(r)
        return float(r)

    def _split(self) -> bool:
        """Birth-death: the lightest neuron becomes a perturbed copy of the heaviest, and both
        halves carry half the heaviest neuron's ||theta_i||^(k+1) (logits unchanged). Whether
        the weights changed."""
        norms = neuron_norms_sq(self.U, self.W)
        heavy, light = int(torch.argmax(norms)), int(torch.argmin(norms))
        if heavy == light:
            return False
        split_into(self.params, self.moments, heavy, light, self.k, SPLIT_NOISE, self.generator)
        self._project()
        return True


class GradientDescent(Method):
    """Full-batch (or mini-batch) gradient descent on CE + lambda ||theta||_{2,k+1}^r with
    Morwani et al.'s doubling schedule."""

    def lr(self, t: int) -> float:
        assert self.config.lr is not None
        return self.config.lr * 2.0 ** min(t // GD_DOUBLING_EVERY, GD_DOUBLINGS)

    def step(self, t: int, batch: Batch) -> float:
        lam = self.config.weight_decay or 0.0
        r = self.config.reg_power or (self.k + 1)
        g = ce_gradients(
            self.U, self.W, batch.inputs, batch.labels, scale=1.0, workers=self.workers
        )
        # ||theta||_{2,k+1}^r = P^(r/(k+1)), P = sum_i ||theta_i||^(k+1);
        # its gradient (r/(k+1)) P^(r/(k+1) - 1) dP
        P = float(norm_power(self.U, self.W))
        value = g.loss + lam * P ** (r / (self.k + 1))
        coef = lam * (r / (self.k + 1)) * P ** (r / (self.k + 1) - 1)
        dPU, dPW = self._norm_power_gradient()
        lr = self.lr(t)
        with torch.no_grad():
            self.U.add_(dPU.mul_(coef).add_(g.dU), alpha=-lr)
            self.W.add_(dPW.mul_(coef).add_(g.dW), alpha=-lr)
        return value


class AdamWMethod(Method):
    """torch.optim.AdamW with the paper's betas and a linear warm-up (App. J.1)."""

    def __init__(self, U: torch.Tensor, W: torch.Tensor, config: TrainConfig) -> None:
        super().__init__(U, W, config)
        assert config.lr is not None
        self.optimizer = torch.optim.AdamW(
            [self.U, self.W],
            lr=config.lr,
            betas=BETAS,
            weight_decay=config.weight_decay or 0.0,
            foreach=False,
        )

    def lr(self, t: int) -> float:
        assert self.config.lr is not None
        return self.config.lr * min(1.0, (t + 1) / ADAMW_WARMUP)

    def state_dict(self) -> dict[str, Any]:
        optimizer = copy.deepcopy(self.optimizer.state_dict())  # its tensors change in place
        for values in optimizer["state"].values():
            for key, value in values.items():
                if isinstance(value, torch.Tensor):
                    values[key] = value.to("cpu")
        return {**super().state_dict(), "optimizer": optimizer}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.optimizer.load_state_dict(state["optimizer"])

    def step(self, t: int, batch: Batch) -> float:
        g = ce_gradients(
            self.U, self.W, batch.inputs, batch.labels, scale=1.0, workers=self.workers
        )
        self.U.grad, self.W.grad = g.dU, g.dW
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr(t)
        self.optimizer.step()
        return g.loss


def make_method(
    U: torch.Tensor,
    W: torch.Tensor,
    config: TrainConfig,
    *,
    gamma_star: float,
    generator: torch.Generator,
    workers: int = 1,
) -> Method:
    """The optimiser named by config.optimizer (config must be resolved); its gradients summed by
    `workers` threads on a CPU (training.kernel), by torch's own on a GPU."""
    method: Method
    if config.optimizer == "margin":
        method = MarginMethod(U, W, config, gamma_star=gamma_star, generator=generator)
    elif config.optimizer == "gd":
        method = GradientDescent(U, W, config)
    else:
        method = AdamWMethod(U, W, config)
    method.workers = workers if U.device.type == "cpu" else 1
    return method
