"""The simulator bench's M/M/c model in SimPy, for the speed comparison in BENCHMARKS.md.

Same model as `cargo bench -p switchboard-sim --bench simulate`: Poisson arrivals at 1,000
calls per 30 minutes, exponential service of mean 180 s, 110 agents, FIFO, no abandonment;
it records the same per-call measures (wait, answered within 20 s). SimPy is needed for this
measurement only (`pip install simpy`); nothing in the Rust build or tests uses it.

    python3 benches/python/mmc_simpy.py --calls 1000000
"""

import argparse
import random
import time

import simpy

ARRIVAL_RATE_PER_S = 1000 / 1800
MEAN_SERVICE_S = 180.0
AGENTS = 110
THRESHOLD_S = 20.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    env = simpy.Environment()
    agents = simpy.Resource(env, capacity=AGENTS)
    stats = {"answered": 0, "within": 0, "wait": 0.0, "waited": 0}

    def call(env):
        arrived = env.now
        with agents.request() as request:
            yield request
            wait = env.now - arrived
            stats["answered"] += 1
            stats["wait"] += wait
            stats["within"] += wait <= THRESHOLD_S
            stats["waited"] += wait > 0
            yield env.timeout(rng.expovariate(1 / MEAN_SERVICE_S))

    def source(env):
        for _ in range(args.calls):
            yield env.timeout(rng.expovariate(ARRIVAL_RATE_PER_S))
            env.process(call(env))

    env.process(source(env))
    started = time.perf_counter()
    env.run()
    elapsed = time.perf_counter() - started
    n = stats["answered"]
    print(
        f"simpy {simpy.__version__}: {n} calls in {elapsed:.2f} s ({n / elapsed:.0f} calls/s); "
        f"SL(20 s) {stats['within'] / n:.4f}, ASA {stats['wait'] / n:.2f} s, "
        f"P(wait) {stats['waited'] / n:.4f}"
    )


if __name__ == "__main__":
    main()
