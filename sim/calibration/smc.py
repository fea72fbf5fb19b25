"""ABC-SMC: population Monte Carlo with adaptive tolerances, run on the simulator itself.

The algorithm (Beaumont et al. 2009; Del Moral et al. 2012 for the adaptive tolerances):
generation 0 draws parameter vectors from the uniform priors and simulates one run for each.
Generation g proposes by picking a particle of generation g-1 by its weight and perturbing it with a
Gaussian kernel of twice the population's weighted covariance; a pick and step that leaves the
prior box is drawn again (particle and step both), so the proposal density is the kernel mixture
restricted to the box up to a constant, and nothing outside the priors is simulated. (A logit
transform to an unbounded scale was tried and rejected: in ten dimensions its importance weights
collapsed the effective sample size to a few particles.) A proposal is accepted when its run lies
within the tolerance epsilon_g of the observations (``Config.distance``: the largest target
distance, 1 = every target within its tolerance). Accepted particles get importance weights
prior / (sum_j w_j K(theta | theta_j)); the uniform prior is constant inside the box. The
tolerance of the next generation is the ``quantile`` of the current distances, never below the
final tolerance; the fit stops at the first generation whose tolerance is the final one.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from sim.calibration.targets import Config, target_statistics
from sim.errors import CalibrationError
from sim.model.rng import Streams
from sim.scenario.parameters import scenario_with
from sim.study.tables import write_csv_safely

MAX_REDRAWS = 100_000


@dataclass(frozen=True)
class Kernel:
    """The previous generation as a proposal: particles, weights, kernel Cholesky factor."""

    theta: np.ndarray
    weights: np.ndarray
    chol: np.ndarray

    @classmethod
    def of(cls, theta: np.ndarray, weights: np.ndarray) -> Kernel:
        """Gaussian kernel with twice the weighted covariance (Beaumont et al. 2009)."""
        cov = 2.0 * np.atleast_2d(np.cov(theta.T, aweights=weights))
        cov += np.eye(len(cov)) * 1e-12 * max(1.0, float(np.trace(cov)))
        return cls(theta, weights, np.linalg.cholesky(cov))

    def propose(self, rng: np.random.Generator, low: np.ndarray, high: np.ndarray) -> np.ndarray:
        """A particle picked by weight and perturbed by the kernel, again until inside the box."""
        for _ in range(MAX_REDRAWS):
            j = int(rng.choice(len(self.theta), p=self.weights))
            theta = self.theta[j] + self.chol @ rng.standard_normal(self.theta.shape[1])
            if np.all((theta >= low) & (theta <= high)):
                return theta
        raise RuntimeError(f"no proposal inside the priors in {MAX_REDRAWS} tries")

    def log_density(self, theta: np.ndarray) -> np.ndarray:
        """log sum_j w_j K(theta_i | theta_j), up to a constant, for each row of ``theta``."""
        diff = theta[:, None, :] - self.theta[None, :, :]
        z = np.linalg.solve(self.chol, diff.reshape(-1, diff.shape[2]).T).T
        log_k = -0.5 * (z**2).sum(axis=1).reshape(len(theta), len(self.theta))
        return logsumexp(log_k + np.log(self.weights)[None, :], axis=1)


def generation_seed(seed: int, generation: int) -> int:
    """The simulation seed of one generation, derived from the calibration seed."""
    state = np.random.SeedSequence(seed, spawn_key=(generation,)).generate_state(1)
    return int(state[0])


def simulate_proposals(
    config: Config, generation: int, epsilon: float, kernel: Kernel | None, start: int, stop: int
) -> pd.DataFrame:
    """Proposals ``start`` to ``stop`` of one generation: parameters, statistics, distance."""
    low, high = config.bounds()
    rows = []
    for i in range(start, stop):
        rng = Streams(config.seed, i).get("abc", f"generation-{generation}")
        theta = config.draw_prior(rng) if kernel is None else kernel.propose(rng, low, high)
        row: dict[str, Any] = {"proposal": i, **dict(zip(config.paths, theta, strict=True))}
        inside = bool(np.all((theta >= low) & (theta <= high)))
        if inside:
            values = dict(zip(config.paths, map(float, theta), strict=True))
            events = _run(config, values, i, generation_seed(config.seed, generation))
            stats = target_statistics(events)
            row |= stats | {"distance": config.distance(stats)}
        row["inside"] = inside
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame["accepted"] = frame["inside"] & (frame.get("distance", np.inf) <= epsilon)
    return frame


def _run(config: Config, values: dict[str, float], replication: int, seed: int) -> list:
    from sim.model.world import run_replication

    return run_replication(scenario_with(config.scenario, values), replication, seed)


BUDGET_FIELDS = ("max_generations", "max_proposals")
"""SMC settings that only cap the work: a generation or proposal is the same whatever the cap
(the caps decide when to give up, never what is drawn), so raising one after a budget error
reuses everything finished."""


def config_hash(config: Config) -> str:
    """Identifies the proposals a config produces (scenario, priors, targets, seed, and the SMC
    settings other than the ``BUDGET_FIELDS``).

    Saved chunks and generations live under it, so a config that would draw differently never
    reuses old ones.
    """
    from sim.study.montecarlo import canonical_text

    settings = sorted((k, v) for k, v in config.smc.items() if k not in BUDGET_FIELDS)
    identity = repr((
        canonical_text(config.scenario),
        [(p.path, p.low, p.high) for p in config.priors],
        [(t.name, t.observed, t.low, t.high, t.binary) for t in config.targets],
        config.seed, settings,
    ))  # fmt: skip
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
    config: Config, g: int, epsilon: float, kernel: Kernel | None, folder: Path, pool, progress
) -> pd.DataFrame:
    """Run (or resume) generation ``g``: chunks of proposals until N are accepted, in index order."""
    from sim.study.results import atomic_write_bytes

    n, chunk = int(config.smc["particles"]), int(config.smc["chunk"])
    limit, rate = int(config.smc["max_proposals"]), 1.0
    parts: list[pd.DataFrame] = []
    done = 0
    while sum(int(p.accepted.sum()) for p in parts) < n:
        if done >= limit:
            raise CalibrationError(
                f"{config.source}: smc.max_proposals: generation {g} accepted fewer than {n} "
                f"particles in {limit:,} proposals; raise max_proposals or widen the targets' "
                "tolerances, then run again (finished chunks are reused)"
            )
        need = n - sum(int(p.accepted.sum()) for p in parts)
        count = min(limit - done, max(2 * chunk, math.ceil(1.2 * need / max(rate, 1e-3))))
        ranges = [(a, min(a + chunk, done + count)) for a in range(done, done + count, chunk)]
        files = {
            r: folder / f"gen-{g:02d}" / f"chunk-{r[0]:09d}-{r[1]:09d}.parquet" for r in ranges
        }
        todo = [(config, g, epsilon, kernel, *r) for r in ranges if not files[r].exists()]
        for part in pool.imap(simulate_proposals, todo):
            first, last = int(part.proposal.iloc[0]), int(part.proposal.iloc[-1]) + 1
            atomic_write_bytes(files[(first, last)], part.to_parquet(index=False))
            if progress:
                progress.advance(len(part))
        parts += [pd.read_parquet(files[r]) for r in ranges]
        done += count
        rate = sum(int(p.accepted.sum()) for p in parts) / done
    return pd.concat(parts, ignore_index=True)


def run_smc(config: Config, folder: Path, *, pool, progress: Any = None) -> list[pd.DataFrame]:
    """All generations (each a population with weights and its tolerance), resuming from disk."""
    from sim.study.results import atomic_write_bytes

    folder.mkdir(parents=True, exist_ok=True)
    final, quantile = float(config.smc["final_epsilon"]), float(config.smc["quantile"])
    epsilon, kernel, populations = math.inf, None, []
    for g in range(int(config.smc["max_generations"])):
        saved = folder / f"gen-{g:02d}.parquet"
        if saved.exists():
            population = pd.read_parquet(saved)
        else:
            proposals = _generation(config, g, epsilon, kernel, folder, pool, progress)
            population = _population(config, proposals, kernel, epsilon)
            atomic_write_bytes(saved, population.to_parquet(index=False))
        populations.append(population)
        if epsilon <= final:
            return populations
        theta = population[config.paths].to_numpy(float)
        kernel = Kernel.of(theta, population.weight.to_numpy(float))
        epsilon = next_epsilon(population.distance.to_numpy(float), epsilon, final, quantile)
    raise CalibrationError(
        f"{config.source}: smc.max_generations: all {len(populations)} generations ran and the "
        f"tolerance ({epsilon:.3f}) is still above final_epsilon ({final}); raise "
        "max_generations and run again (finished generations are reused)"
    )


def _population(
    config: Config, proposals: pd.DataFrame, kernel: Kernel | None, epsilon: float
) -> pd.DataFrame:
    """The first N accepted proposals with their weights, and the generation's bookkeeping."""
    n = int(config.smc["particles"])
    accepted = proposals[proposals.accepted].sort_values("proposal").head(n).copy()
    last = int(accepted.proposal.iloc[-1])
    used = proposals[proposals.proposal <= last]
    accepted["weight"] = importance_weights(accepted[config.paths].to_numpy(float), kernel)
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


def run_calibration(
    config: Config,
    out: str | Path,
    *,
    workers: int = 1,
    executor: str = "process",
    progress: Any = None,
    checks: bool = True,
) -> dict[str, pd.DataFrame]:
    """Fit by ABC-SMC, then write the posterior, the checks and a report to ``out``.

    Writes ``particles.parquet`` (the final weighted population), ``posterior.parquet`` (as many
    equally weighted rows, resampled from it), ``generations.csv``, ``summary.csv`` and, with
    ``checks``, the predictive checks, the variance decomposition and ``report.md``.
    """
    from sim.calibration.targets import posterior_summary
    from sim.scenario.parameters import PosteriorSample
    from sim.study.executors import make_executor
    from sim.study.results import atomic_write_bytes

    folder = Path(out)
    if progress:
        progress.start(int(config.smc["particles"]) * 10, 0)
    with make_executor(executor, workers) as pool:
        populations = run_smc(
            config, folder / "draws" / config_hash(config), pool=pool, progress=progress
        )
    particles = populations[-1]
    rng = Streams(config.seed, 0).get("abc", "resample")
    posterior = resample(particles, config.paths, rng)
    tables = {
        "generations": generations_table(populations),
        "summary": posterior_summary(config, particles),
    }
    atomic_write_bytes(folder / "particles.parquet", particles.to_parquet(index=False))
    atomic_write_bytes(folder / "posterior.parquet", posterior.to_parquet(index=False))
    if checks:
        tables |= _checks(config, PosteriorSample.from_columns(posterior[config.paths]), folder)
    for name, table in tables.items():
        write_csv_safely(table, folder / f"{name}.csv")
    if checks:
        atomic_write_bytes(folder / "report.md", _report(config, tables).encode("utf-8"))
    return tables


def _checks(config: Config, posterior, folder: Path) -> dict[str, pd.DataFrame]:
    """Predictive checks (posterior, prior, shipped scenario) and the variance decomposition."""
    from sim.calibration.targets import (
        predictive_check,
        simulate_statistics,
        variance_decomposition,
    )
    from sim.study.results import atomic_write_bytes

    n, seed = int(config.checks["predictive_runs"]), int(config.checks["seed"])
    stats = {
        source: simulate_statistics(config, n, seed, source, posterior)
        for source in ("posterior", "prior", "scenario")
    }
    sample = pd.concat(
        pd.DataFrame({"target": t.name, "observed": t.observed, "simulated": stats["posterior"][t.name]})
        for t in config.targets
    ).dropna()  # fmt: skip
    atomic_write_bytes(folder / "predictive_sample.parquet", sample.to_parquet(index=False))
    variance = config.checks["variance"]
    return {
        "predictive": predictive_check(config, stats["posterior"]),
        "prior_predictive": predictive_check(config, stats["prior"]),
        "scenario_predictive": predictive_check(config, stats["scenario"]),
        "variance": variance_decomposition(
            config.full_scenario,
            posterior,
            int(variance["parameter_sets"]),
            int(variance["replications"]),
            seed,
        ),
    }


def _table(frame: pd.DataFrame) -> str:
    """Markdown with three decimals for floats, thousands separators for counts, yes/no verdicts."""
    shown = frame.copy()
    for column in shown.columns:
        if pd.api.types.is_integer_dtype(shown[column]):
            shown[column] = shown[column].map("{:,}".format)
        elif pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: "" if np.isnan(v) else f"{v:.3f}")
    if "passes" in shown:
        shown["passes"] = shown["passes"].map({True: "yes", False: "no"}).fillna("")
    return shown.to_markdown(index=False, disable_numparse=True)


def _report(config: Config, tables: dict[str, pd.DataFrame]) -> str:
    """The calibration report in Markdown: method, generations, posterior, checks, variance."""
    gens, summary = tables["generations"], tables["summary"]
    last = gens.iloc[-1]
    post, prior = tables["predictive"], tables["prior_predictive"]
    check = post.drop(columns=["share_defined"]).assign(
        prior_share=prior.share_matching,
        scenario_share=tables["scenario_predictive"].share_matching,
    )
    flat = summary[summary.width_ratio > 0.8].parameter.tolist()
    v = config.checks["variance"]
    return "\n".join([
        "# Calibration report", "",
        f"Config `{config.source}`; seed {config.seed}; ABC-SMC (population Monte Carlo, adaptive "
        f"tolerances, Gaussian kernel of twice the weighted covariance) with "
        f"{int(config.smc['particles']):,} particles, one simulated run of "
        f"{config.scenario.horizon_days:g} days per proposal (the targets concern the first three "
        f"weeks). Distance: the largest target distance, 1 = every target within its tolerance; "
        f"the fit ends at tolerance {config.smc['final_epsilon']}.", "",
        f"**Final generation:** acceptance rate {last.acceptance_rate:.3f} "
        f"({int(last.accepted):,} of {int(last.simulated):,} runs), effective sample size "
        f"{last.ess:.0f} of {int(last.accepted):,}; {int(gens.simulated.sum()):,} runs in all. "
        "`posterior.parquet` holds as many equally weighted rows resampled from the weighted "
        "particles (`particles.parquet`).", "",
        "## Generations", "", _table(gens), "",
        "## Posterior against prior (uniform priors)", "",
        "`width_ratio`: posterior 5-95% width over the prior's (near 1: the episode says little); "
        "`shift`: posterior mean minus prior mean, in units of the prior range.", "",
        _table(summary.drop(columns="reason")), "",
        "Close to the prior (width ratio above 0.8): "
        + (", ".join(f"`{p}`" for p in flat) or "none") + ".", "",
        "## Posterior predictive check", "",
        f"{int(config.checks['predictive_runs']):,} runs (seed {config.checks['seed']}), each "
        "drawing its parameters from the posterior. `share_matching`: runs reproducing the "
        "observation within [low, high]; beside it the same share under the prior and under the "
        "shipped scenario's own values. A target passes when at least "
        f"{float(config.checks['plausible_share']):.0%} of posterior runs reproduce it and the "
        "observed value lies inside the simulated 5-95% range widened by the tolerance. The last "
        "row is the share of runs reproducing every target at once.", "",
        _table(check), "",
        "## Where the spread of the headline probabilities comes from", "",
        f"{int(v['parameter_sets'])} posterior draws x {int(v['replications'])} runs each, "
        f"{config.full_scenario.horizon_days:g}-day horizon; law of total variance: "
        "Var(Y) = E[Var(Y | theta)] (chance) + Var(E[Y | theta]) (parameters).", "",
        _table(tables["variance"]), "",
        "For one run's outcome chance dominates; but `between_draws_sd` is how much the "
        "probability itself, P(outcome | theta), varies across the posterior: parameter "
        "uncertainty that no number of replications removes.", "",
    ])  # fmt: skip
