"""A search's logbook: what LongRoPE's evolutionary search (algorithm1.py, Algorithm 1) keeps as it runs, beside the
loop and not inside it.

After every iteration the state file (`*.state.json`: what the search was run with, every candidate scored, the
population, the curve and the random generator's state) and the candidate log (`*.history.csv`) are rewritten
atomically (write, then rename). `--resume` reads the state back and checks that nothing that decides the result has
changed, so a resumed search ends where an uninterrupted one with the same seed would.
"""

import json
import math
import os
from contextlib import contextmanager

import numpy as np
from tqdm import tqdm

import common


def perplexity(loss):
    return math.exp(loss) if loss < 700 else math.inf




class Logbook:
    """What a search keeps as it runs: its state file (`*.state.json`: what the search was run with, every candidate
    scored, the population, the curve and the RNG's state) and candidate log (`*.history.csv`), both rewritten
    atomically after every iteration, and the progress bar.

    `config` (what must not change between a run and its resumption, with the settings and the space) is stored with
    the state and checked on `resume`. `write=False` (processes other than the first of a launched run, which
    compute the same state) reads a saved state but never writes."""

    def __init__(self, path=None, resume=False, write=True, config=None):
        self.path, self.resume, self.write, self.config = path, resume, write, config or {}
        self.resumed_at = -1  # the last iteration of the state it started from (-1: a new search)

    @contextmanager
    def open(self, settings, space):
        shape = [space.n_factors, space.upper, list(space.n_hat_choices)]
        if space.critical_dim is not None:  # LongRoPE2's space; a 2024 search's state keeps its old form
            shape += [space.lower, space.critical_dim]
        config = dict(self.config, **settings.fingerprint(), space=shape)
        if self.resume and self.path and os.path.exists(self.path):
            state = load_state(self.path, config)
        else:
            if self.resume:
                print(f"no saved search at {self.path}; starting a new one")
            state = {"config": config, "iteration": -1, "history": [], "population": [], "curve": [],
                     "rng": np.random.default_rng(settings.seed).bit_generator.state}
        self.resumed_at = state["iteration"]
        quiet = {} if self.write else {"disable": True}  # one bar for a launched run
        with tqdm(total=settings.iterations + 1, initial=state["iteration"] + 1, desc="search", unit="iter",
                  **quiet) as bar:
            self.bar = bar
            yield state

    def save(self, state):
        if self.path and self.write:
            common.save_json(self.path, state)
            common.save_csv(history_csv_path(self.path), history_rows(state["history"]))
        self.bar.set_postfix(best_ppl=f"{perplexity(state['curve'][-1]):.3f}", evaluated=len(state["history"]))
        self.bar.update(1)


def load_state(path, config):
    with open(path) as f:
        state = json.load(f)
    for key in dict(config, **state["config"]):  # an option set in one run and not the other differs too
        if key != "iterations" and state["config"].get(key) != config.get(key):
            raise ValueError(f"--resume: {key} is {config.get(key)!r} but the saved search {path} used "
                             f"{state['config'].get(key)!r}")
    state["config"] = config  # more iterations than before extend the search
    return state


def history_csv_path(state_path):
    return state_path.replace(".state.json", "") + ".history.csv"


def history_rows(history):
    rows = [{"index": i, "iteration": h["iteration"], "origin": h["origin"], "n_hat": h["n_hat"],
             "loss": f"{h['loss']:.6f}", "ppl": f"{h['ppl']:.4f}",
             "factors": " ".join(f"{s / 100:.2f}" for s in h["steps"])}  # steps: hundredths (algorithm1.GRID)
            for i, h in enumerate(history)]
    for row, h in zip(rows, history):
        if "losses" in h:  # early rejection: the documents each was scored on (a dropped one's loss is inf)
            row.update(documents=len(h["losses"]), dropped=int(h["dropped"]),
                       loss_so_far=f"{sum(h['losses']) / len(h['losses']):.6f}")
    return rows
