"""The calibration report (``report.md``) in Markdown, from the tables a fit writes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.calibration.checks import ALL_TARGETS, EVERY_EPISODE
from sim.calibration.config import Config
from sim.calibration.evidence import narrowing_wide


def table(frame: pd.DataFrame) -> str:
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


def report(config: Config, tables: dict[str, pd.DataFrame]) -> str:
    """The report: method, generations, posterior, narrowing, predictive checks, variance."""
    gens, summary = tables["generations"], tables["summary"]
    last = gens.iloc[-1]
    flat = summary[summary.width_ratio > 0.8].parameter.tolist()
    return "\n".join([
        "# Calibration report", "",
        f"Config `{config.source}`; seed {config.seed}; ABC-SMC (population Monte Carlo, adaptive "
        f"tolerances, per-parameter Gaussian kernels of twice the weighted variance truncated to the "
        f"prior ranges) with "
        f"{int(config.smc['particles']):,} particles on {len(config.episodes)} episode(s); each "
        "proposal runs every episode once over its observation window. " + _distance_words(config),
        "",
        *_findings(tables),
        *_episodes(config),
        f"**Final generation:** acceptance rate {last.acceptance_rate:.3f} "
        f"({int(last.accepted):,} of {int(last.simulated):,} proposals, each one run per "
        f"episode), effective sample size {last.ess:.0f} of {int(last.accepted):,}; "
        f"{int(gens.simulated.sum()):,} proposals in all. `posterior.parquet` holds as many "
        "equally weighted rows resampled from the weighted particles (`particles.parquet`); "
        "shared parameters are columns by path, episode-specific ones `EPISODE:PATH` (a scenario "
        "draws them with `parameters_from: FILE#EPISODE`).", "",
        "## Generations", "", table(gens), "",
        "## Posterior against prior (uniform priors)", "",
        "`width_ratio`: posterior 5-95% width over the prior's (near 1: the episodes say little); "
        "`shift`: posterior mean minus prior mean, in units of the prior range; `episode`: blank "
        "for a parameter shared by every episode whose scenario has it.", "",
        table(summary.drop(columns="reason")), "",
        "Close to the prior (width ratio above 0.8): "
        + (", ".join(f"`{p}`" for p in flat) or "none") + ".", "",
        *_narrowing(config, tables["narrowing"]),
        *_predictive(config, tables),
        *_variance(config, tables["variance"]),
    ])  # fmt: skip


def _findings(tables: dict[str, pd.DataFrame]) -> list[str]:
    """What the fit shows, in plain words, from its tables: the targets the posterior fails to
    reproduce, the parameters the episodes narrow, and the joint reproduction against the prior."""
    check, summary = tables["predictive"], tables["summary"]
    targets = check.dropna(subset=["passes"])
    failing = targets[~targets.passes.astype(bool)]
    narrowed = summary[summary.width_ratio < 0.8]
    every = check[check.target == EVERY_EPISODE].iloc[0]
    prior = tables["prior_predictive"]
    prior_every = prior[prior.target == EVERY_EPISODE].share_matching.iloc[0]
    fails = "; ".join(
        f"{row.episode}: `{row.target}` ({row.share_matching:.0%} of runs)"
        for row in failing.itertuples()
    )
    return [
        "## What the fit shows", "",
        f"- The posterior passes the predictive check for {len(targets) - len(failing)} of "
        f"{len(targets)} targets" + (f"; it fails {len(failing)}: {fails}." if fails else "."),
        f"- {len(narrowed)} of {len(summary)} parameters are narrowed to less than 0.8 of their "
        "prior's 5-95% width"
        + (": " + ", ".join(f"`{p}` ({w:.2f})" for p, w in
                            zip(narrowed.parameter, narrowed.width_ratio, strict=True))
           if len(narrowed) else "")
        + "; the others stay close to their prior, so their spread passes into every forecast.",
        f"- Every target of every episode at once: {every.share_matching:.1%} of posterior runs "
        f"against {prior_every:.1%} under the prior.", "",
    ]  # fmt: skip


def _distance_words(config: Config) -> str:
    weights = ", ".join(f"{e.name} {e.weight:g}" for e in config.episodes)
    return (
        "Distances: a target's is 0 at the observed value and 1 at the edge of its range; an "
        "episode combines its targets' (each times the episode's weight; weights: "
        f"{weights}) and a proposal its episodes' by the same rule: the maximum when it is at "
        "most 1, else 1 plus the mean excess over 1, so that at most 1 means every target of "
        "every episode is reproduced and the tolerances can still fall one target at a time; "
        f"the fit ends at tolerance {config.smc['final_epsilon']}."
    )


def _episodes(config: Config) -> list[str]:
    rows = pd.DataFrame([
        {"episode": e.name, "horizon_days": float(e.scenario.horizon_days), "weight": e.weight,
         "targets": len(e.targets), "parameters": len(e.columns), "description": e.description}
        for e in config.episodes
    ])  # fmt: skip
    return ["## Episodes", "", table(rows), ""]


def _narrowing(config: Config, narrowing: pd.DataFrame) -> list[str]:
    steps = narrowing.drop_duplicates("step")
    took = "; ".join(
        f"+{r.added}: {int(r.accepted):,} rows at tolerance {r.tolerance:.3f}"
        for r in steps.itertuples()
    )
    runs, accept = int(config.check["reference_runs"]), int(config.check["accept"])
    return [
        "## How much each episode narrows each parameter", "",
        f"Width ratio (5-95% width over the prior's) of each parameter as the episodes are added "
        f"one at a time, in config order. Affordable by rejection ABC on one reference table of "
        f"{runs:,} prior simulations (each run in every episode, the distance to each episode "
        f"stored): a column accepts the rows whose combined distance over the episodes "
        f"added so far is within the final tolerance ({config.smc['final_epsilon']}), or, when "
        f"fewer than {accept:,} rows are, the {accept:,} nearest. A rejection posterior on "
        f"{runs:,} prior draws is coarser than the SMC one above; read the change between "
        f"columns, not the last column against the posterior table. Accepted: {took}.", "",
        table(narrowing_wide(narrowing)), "",
    ]  # fmt: skip


def _predictive(config: Config, tables: dict[str, pd.DataFrame]) -> list[str]:
    post, prior = tables["predictive"], tables["prior_predictive"]
    check = post.drop(columns=["share_defined"]).assign(
        prior_share=prior.share_matching,
        scenario_share=tables["scenario_predictive"].share_matching,
    )
    lines = [
        "## Posterior predictive check, per episode", "",
        f"{int(config.checks['predictive_runs']):,} parameter sets (seed {config.checks['seed']}) "
        "drawn from the posterior, each run once in every episode. `share_matching`: runs "
        "reproducing the observation within [low, high]; beside it the same share under the "
        "prior (`prior_share`) and under each episode scenario's own written values "
        "(`scenario_share`). A target passes when at least "
        f"{float(config.checks['plausible_share']):.0%} of posterior runs reproduce it and the "
        "observed value lies inside the simulated 5-95% range widened by the tolerance. "
        f"`{ALL_TARGETS}`: runs reproducing every target of the episode.", "",
    ]  # fmt: skip
    for episode in config.episodes:
        rows = check[check.episode == episode.name].drop(columns="episode")
        lines += [f"### {episode.name}", "", table(rows), ""]
    every = check[check.target == EVERY_EPISODE].iloc[0]
    lines += [
        f"Every target of every episode at once: {every.share_matching:.1%} of posterior runs, "
        f"{every.prior_share:.1%} under the prior, {every.scenario_share:.1%} under the "
        "scenarios' own values.", "",
    ]  # fmt: skip
    return lines


def _variance(config: Config, variance: pd.DataFrame) -> list[str]:
    v, first = config.checks["variance"], config.episodes[0]
    return [
        "## Where the spread of the headline probabilities comes from", "",
        f"Episode `{first.name}` (the first in the config), {int(v['parameter_sets'])} posterior "
        f"draws x {int(v['replications'])} runs each, {first.full_scenario.horizon_days:g}-day "
        "horizon; law of total variance: Var(Y) = E[Var(Y | theta)] (chance) + Var(E[Y | theta]) "
        "(parameters).", "",
        table(variance), "",
        "For one run's outcome chance dominates; but `between_draws_sd` is how much the "
        "probability itself, P(outcome | theta), varies across the posterior: parameter "
        "uncertainty that no number of replications removes.", "",
    ]  # fmt: skip
