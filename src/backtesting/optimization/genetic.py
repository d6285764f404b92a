"""A genetic search over the sweep's parameter space (the grid's values per key), deterministic from a seed.

Each generation: the population's settings not evaluated yet run as one batch on the executor;
then tournament selection (size 2), uniform crossover and per-key mutation to a random value of the
key build the next population; the best ``elite`` settings survive unchanged. A setting is never run
twice (results are cached by setting). Failed or infeasible settings score -inf.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from src.backtesting.optimization.objective import Objective
from src.backtesting.optimization.space import ParameterSpace
from src.backtesting.optimization.worker import TaskResult

Setting = tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class GeneticSettings:
    population: int = 8
    generations: int = 4
    mutation: float = 0.2
    elite: int = 1
    seed: int = 1


def genetic_search(space: ParameterSpace, objective: Objective, settings: GeneticSettings,
                   evaluate: Callable[[Sequence[Setting]], list[TaskResult]],
                   on_generation: Callable[[int, TaskResult | None], None] | None = None) -> list[TaskResult]:
    """All evaluated results, in evaluation order. ``evaluate`` runs a batch of new settings."""
    rng = random.Random(settings.seed)
    keys = space.keys
    values = dict(space.parameters)
    cache: dict[Setting, TaskResult] = {}
    order: list[TaskResult] = []

    def random_setting() -> Setting:
        return tuple((key, rng.choice(values[key])) for key in keys)

    population_size = min(settings.population, space.size)
    population: list[Setting] = []
    seen: set[Setting] = set()
    for _ in range(population_size * 50):
        if len(population) == population_size:
            break
        candidate = random_setting()
        if candidate not in seen:
            seen.add(candidate)
            population.append(candidate)

    def score(setting: Setting) -> float:
        return objective.score(cache[setting].summary)

    for generation in range(settings.generations):
        fresh = list(dict.fromkeys(s for s in population if s not in cache))
        for result in evaluate(fresh):
            cache[tuple(result.assignments)] = result
            order.append(result)
        ranked = sorted(population, key=score, reverse=True)
        if on_generation is not None:
            on_generation(generation, cache.get(ranked[0]) if ranked else None)
        if generation == settings.generations - 1:
            break
        next_population = ranked[:settings.elite]
        while len(next_population) < population_size:
            first = _tournament(rng, population, score)
            second = _tournament(rng, population, score)
            child = tuple((key, (a if rng.random() < 0.5 else b))
                          for (key, a), (_, b) in zip(first, second))
            child = tuple((key, rng.choice(values[key]) if rng.random() < settings.mutation else value)
                          for key, value in child)
            next_population.append(child)
        population = next_population
    return order


def _tournament(rng: random.Random, population: Sequence[Setting], score) -> Setting:
    a, b = rng.choice(population), rng.choice(population)
    return a if score(a) >= score(b) else b
