"""ABC-SMC: population Monte Carlo with adaptive tolerances, run on the simulator itself.

The algorithm (Beaumont et al. 2009; Del Moral et al. 2012 for the adaptive tolerances):
generation 0 draws parameter vectors from the uniform priors and simulates one run for each.
Generation g proposes by picking a particle of generation g-1 by its weight and perturbing each
parameter with its own Gaussian of twice its weighted variance (Beaumont et al. 2009), truncated
to the parameter's prior range, so nothing outside the priors is proposed and the proposal density
is known exactly (``Kernel``). (A multivariate kernel redrawn until inside the box stalled at
twenty parameters; a logit transform to an unbounded scale collapsed the effective sample size.)
A proposal is accepted when its runs lie
within the tolerance epsilon_g of the observations (for a calibration, ``Config.simulate``: one
run per episode and their combined distance, at most 1 when every target of every episode is
within its tolerance). Accepted particles get importance weights
prior / (sum_j w_j K(theta | theta_j)); the uniform prior is constant inside the box. The
tolerance of the next generation is the ``quantile`` of the current distances, never below the
final tolerance; the fit stops at the first generation whose tolerance is the final one.

The loop knows nothing of the simulator: it takes a ``Problem`` (priors, a ``simulate`` function
returning statistics and a distance, an identity for the saved work), so a toy model with a known
posterior runs through the same code as the calibration (``tests/test_episodes.py``).

Reproducibility: proposal ``i`` of generation ``g`` uses only ``Streams(seed, i).get("abc",
"generation-g")`` and simulates replication ``i`` on a seed derived from ``(seed, g)``; a
generation keeps the first N accepted proposals in index order. So the result is the same for any
number of workers, any executor and any chunk size. Every chunk of proposals and every complete
generation is saved atomically under the config's hash: an interrupted fit resumes from what is
on disk and ends with the same posterior.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from scipy.special import logsumexp, ndtr, ndtri

from sim.errors import CalibrationError
from sim.model.rng import Streams

DISTANCE = "distance"
"""The column of a proposal's distance (the ``simulate`` function returns it)."""
REFERENCE = 2**31 - 1
"""The stage number of the reference table of prior simulations (``reference_table``): its
streams and seed are those of no generation."""


class Problem(Protocol):
    """What ABC-SMC needs of a model: uniform priors, one simulation, and what identifies both.

    ``simulate(theta, replication, seed)`` returns the statistics of the runs of one parameter
    vector with their distance from the observations under the key ``distance``;
    ``identity()`` is text that changes whenever the runs or the distances would.
    ``sim.calibration.config.Config`` is one; a toy model with a known posterior is another.
    """

    seed: int
    smc: Mapping[str, float]
    source: Any

    @property
    def paths(self) -> list[str]: ...

    def bounds(self) -> tuple[np.ndarray, np.ndarray]: ...

    def draw_prior(self, rng: np.random.Generator) -> np.ndarray: ...

    def simulate(self, theta: np.ndarray, replication: int, seed: int) -> dict[str, float]: ...

    def identity(self) -> str: ...


@dataclass(frozen=True)
class Kernel:
    """The previous generation as a proposal: particles, weights (and their cumulative sums, to
    pick a particle by one uniform draw), each parameter's kernel scale, and the prior box.

    Each parameter is perturbed by its own Gaussian of twice its weighted variance (Beaumont et
    al. 2009), truncated to its prior range and renormalised there, so every proposal lies inside
    the box and the proposal density is known exactly. A multivariate kernel redrawn until inside
    the box lands there with chance about 0.7 per weakly identified parameter (0.7**20 ~ 1e-3 for
    twenty) and stalls; a logit transform keeps proposals inside but collapses the importance
    weights of parameters the data leave near their uniform prior.
    """

    theta: np.ndarray
    weights: np.ndarray
    scale: np.ndarray
    cumulative: np.ndarray
    low: np.ndarray
    high: np.ndarray

    @classmethod
    def of(cls, theta: np.ndarray, weights: np.ndarray, low: np.ndarray, high: np.ndarray):
        """The kernel of a weighted population within the prior box ``[low, high]``."""
        variance = np.atleast_1d(np.cov(theta.T, aweights=weights)).diagonal()
        scale = np.sqrt(np.maximum(2.0 * variance, 1e-12 * (high - low) ** 2))
        return cls(theta, weights, scale, np.cumsum(weights), low, high)

    def _edges(self, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The standard-normal CDF at the prior bounds, for kernels centred at ``centre``."""
        return ndtr((self.low - centre) / self.scale), ndtr((self.high - centre) / self.scale)

    def propose(self, rng: np.random.Generator) -> np.ndarray:
        """A particle picked by weight, each parameter moved by its truncated Gaussian (drawn by
        inverting its CDF between the bounds)."""
        pick = rng.random() * self.cumulative[-1]
        j = min(int(np.searchsorted(self.cumulative, pick, side="right")), len(self.theta) - 1)
        below, above = self._edges(self.theta[j])
        u = below + rng.random(self.theta.shape[1]) * (above - below)
        step = ndtri(np.clip(u, 1e-300, 1.0 - 1e-16)) * self.scale
        return np.clip(self.theta[j] + step, self.low, self.high)

    def log_density(self, theta: np.ndarray) -> np.ndarray:
        """log sum_j w_j prod_k TN(theta_ik | theta_jk, scale_k, [low_k, high_k]) for each row
        of ``theta``, up to a constant."""
        below, above = self._edges(self.theta)  # (particles, parameters)
        mass = np.log(np.maximum(above - below, 1e-300)).sum(axis=1)
        gap = (theta[:, None, :] - self.theta[None, :, :]) / self.scale
        log_k = -0.5 * (gap**2).sum(axis=2) - mass[None, :]
        return logsumexp(log_k + np.log(self.weights)[None, :], axis=1)


def generation_seed(seed: int, generation: int) -> int:
    """The simulation seed of one generation, derived from the calibration seed."""
    state = np.random.SeedSequence(seed, spawn_key=(generation,)).generate_state(1)
    return int(state[0])


def simulate_proposals(
    problem: Problem, generation: int, epsilon: float, kernel: Kernel | None, start: int, stop: int
) -> pd.DataFrame:
    """Proposals ``start`` to ``stop`` of one generation: parameters, statistics, distance.

    Generation ``REFERENCE`` is the reference table: prior draws on streams of their own."""
    low, high = problem.bounds()
    stage = "reference" if generation == REFERENCE else f"generation-{generation}"
    seed = generation_seed(problem.seed, generation)
    rows = []
    for i in range(start, stop):
        rng = Streams(problem.seed, i).get("abc", stage)
        theta = problem.draw_prior(rng) if kernel is None else kernel.propose(rng)
        row: dict[str, Any] = {"proposal": i, **dict(zip(problem.paths, theta, strict=True))}
        inside = bool(np.all((theta >= low) & (theta <= high)))
        if inside:
            row |= problem.simulate(theta, i, seed)
        row["inside"] = inside
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame["accepted"] = frame["inside"] & (frame.get(DISTANCE, np.inf) <= epsilon)
    return frame


BUDGET_FIELDS = ("max_generations", "max_proposals")
"""SMC settings that only cap the work: a generation or proposal is the same whatever the cap
(the caps decide when to give up, never what is drawn), so raising one after a budget error
reuses everything finished."""


def config_hash(problem: Problem) -> str:
    """Identifies the proposals a problem produces (its ``identity()``: for a calibration the
    episodes' scenarios, priors, targets and seed) with the SMC settings other than the
    ``BUDGET_FIELDS``.

    Saved chunks and generations live under it, so a config that would draw differently never
    reuses old ones.
    """
    settings = sorted((k, v) for k, v in problem.smc.items() if k not in BUDGET_FIELDS)
    identity = repr((problem.identity(), settings))
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]


def next_epsilon(distances: np.ndarray, previous: float, final: float, quantile: float) -> float:
    """The next tolerance: the ``quantile`` of the distances, strictly below the previous one when
    the quantile sits on a plateau (binary targets give ties), and never below ``final``."""
    epsilon = float(np.quantile(distances, quantile))
    if epsilon >= previous:
        below = distances[distances < previous]
        epsilon = float(below.max()) if len(below) else previous
    return max(epsilon, final)


def importance_weights(theta: np.ndarray, kernel: Kernel | None) -> np.ndarray:
    """Normalised weights: uniform prior density (constant in the box) over the proposal's."""
    if kernel is None:
        return np.full(len(theta), 1.0 / len(theta))
    log_w = -kernel.log_density(theta)
    w = np.exp(log_w - log_w.max())
    return w / w.sum()


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective sample size of normalised weights."""
    return float(1.0 / np.sum(weights**2))


def _generation(
    problem: Problem, g: int, epsilon: float, kernel: Kernel | None, folder: Path, pool, progress
) -> pd.DataFrame:
    """Run (or resume) generation ``g``: chunks of proposals until N are accepted, in index order."""
    from sim.study.results import atomic_write_bytes

    n, chunk = int(problem.smc["particles"]), int(problem.smc["chunk"])
    limit, rate = int(problem.smc["max_proposals"]), 1.0
    parts: list[pd.DataFrame] = []
    done = 0
    while sum(int(p.accepted.sum()) for p in parts) < n:
        if done >= limit:
            raise CalibrationError(
                f"{problem.source}: smc.max_proposals: generation {g} accepted fewer than {n} "
                f"particles in {limit:,} proposals; raise max_proposals or widen the targets' "
                "tolerances, then run again (finished chunks are reused)"
            )
        need = n - sum(int(p.accepted.sum()) for p in parts)
        count = min(limit - done, max(2 * chunk, math.ceil(1.2 * need / max(rate, 1e-3))))
        ranges = [(a, min(a + chunk, done + count)) for a in range(done, done + count, chunk)]
        files = {
            r: folder / f"gen-{g:02d}" / f"chunk-{r[0]:09d}-{r[1]:09d}.parquet" for r in ranges
        }
        todo = [(problem, g, epsilon, kernel, *r) for r in ranges if not files[r].exists()]
        for part in pool.imap(simulate_proposals, todo):
            first, last = int(part.proposal.iloc[0]), int(part.proposal.iloc[-1]) + 1
            atomic_write_bytes(files[(first, last)], part.to_parquet(index=False))
            if progress:
                progress.advance(len(part))
        parts += [pd.read_parquet(files[r]) for r in ranges]
        done += count
        rate = sum(int(p.accepted.sum()) for p in parts) / done
    return pd.concat(parts, ignore_index=True)


def run_smc(problem: Problem, folder: Path, *, pool, progress: Any = None) -> list[pd.DataFrame]:
    """All generations (each a population with weights and its tolerance), resuming from disk."""
    from sim.study.results import atomic_write_bytes

    folder.mkdir(parents=True, exist_ok=True)
    final, quantile = float(problem.smc["final_epsilon"]), float(problem.smc["quantile"])
    epsilon, kernel, populations = math.inf, None, []
    for g in range(int(problem.smc["max_generations"])):
        saved = folder / f"gen-{g:02d}.parquet"
        if saved.exists():
            population = pd.read_parquet(saved)
        else:
            proposals = _generation(problem, g, epsilon, kernel, folder, pool, progress)
            population = _population(problem, proposals, kernel, epsilon)
            atomic_write_bytes(saved, population.to_parquet(index=False))
        populations.append(population)
        if epsilon <= final:
            return populations
        theta = population[problem.paths].to_numpy(float)
        kernel = Kernel.of(theta, population.weight.to_numpy(float), *problem.bounds())
        epsilon = next_epsilon(population.distance.to_numpy(float), epsilon, final, quantile)
    raise CalibrationError(
        f"{problem.source}: smc.max_generations: all {len(populations)} generations ran and the "
        f"tolerance ({epsilon:.3f}) is still above final_epsilon ({final}); raise "
        "max_generations and run again (finished generations are reused)"
    )


def reference_table(
    problem: Problem, runs: int, folder: Path, *, pool, progress: Any = None
) -> pd.DataFrame:
    """``runs`` prior draws, each simulated once (its statistics and distances), in chunks saved
    under ``folder/reference/`` as the generations are: resumed after an interruption, and the
    same for any number of workers (draw ``i`` uses only its own streams, stage ``REFERENCE``)."""
    from sim.study.results import atomic_write_bytes

    chunk = int(problem.smc["chunk"])
    ranges = [(a, min(a + chunk, runs)) for a in range(0, runs, chunk)]
    files = {r: folder / "reference" / f"chunk-{r[0]:09d}-{r[1]:09d}.parquet" for r in ranges}
    todo = [(problem, REFERENCE, math.inf, None, *r) for r in ranges if not files[r].exists()]
    for part in pool.imap(simulate_proposals, todo):
        first, last = int(part.proposal.iloc[0]), int(part.proposal.iloc[-1]) + 1
        atomic_write_bytes(files[(first, last)], part.to_parquet(index=False))
        if progress:
            progress.advance(len(part))
    table = pd.concat([pd.read_parquet(files[r]) for r in ranges], ignore_index=True)
    return table.drop(columns=["accepted", "inside"])


def _population(
    problem: Problem, proposals: pd.DataFrame, kernel: Kernel | None, epsilon: float
) -> pd.DataFrame:
    """The first N accepted proposals with their weights, and the generation's bookkeeping."""
    n = int(problem.smc["particles"])
    accepted = proposals[proposals.accepted].sort_values("proposal").head(n).copy()
    last = int(accepted.proposal.iloc[-1])
    used = proposals[proposals.proposal <= last]
    accepted["weight"] = importance_weights(accepted[problem.paths].to_numpy(float), kernel)
    accepted["epsilon"] = epsilon
    accepted["proposed"] = len(used)
    accepted["simulated"] = int(used.inside.sum())
    return accepted.drop(columns=["accepted", "inside"]).reset_index(drop=True)


def generations_table(populations: list[pd.DataFrame]) -> pd.DataFrame:
    """One row per generation: tolerance, proposals, runs, acceptance rate and ESS."""
    rows = []
    for g, pop in enumerate(populations):
        simulated = int(pop.simulated.iloc[0])
        rows.append({
            "generation": g, "epsilon": float(pop.epsilon.iloc[0]),
            "proposed": int(pop.proposed.iloc[0]), "simulated": simulated,
            "accepted": len(pop), "acceptance_rate": len(pop) / simulated,
            "ess": effective_sample_size(pop.weight.to_numpy(float)),
        })  # fmt: skip
    return pd.DataFrame(rows)


def resample(particles: pd.DataFrame, paths: list[str], rng: np.random.Generator) -> pd.DataFrame:
    """Systematic resampling to as many equally weighted rows as there are particles, so any
    consumer may draw rows uniformly (as ``sim.scenario.parameters`` does)."""
    weights = particles.weight.to_numpy(float)
    n = len(weights)
    positions = (rng.random() + np.arange(n)) / n
    rows = np.minimum(np.searchsorted(np.cumsum(weights), positions), n - 1)
    return particles.iloc[rows][[*paths, "distance"]].reset_index(drop=True)
