"""bench/peers/asyncio/bench.py - boucle's benchmark workloads on asyncio.

    asyncio-bench WORKLOAD WORKERS [quick]

Prints one rate (operations per second) on stdout.  Exit 1: the workload's
own check failed; exit 2: the workload cannot be expressed (see
../README.md for the contract).

asyncio is the model boucle follows, but its event loop is single-threaded:
it cannot spread tasks over more cores, so WORKERS > 1 exits 2.

Mapping: task = asyncio.create_task, yield = await asyncio.sleep(0),
queue = asyncio.Queue(maxsize=...), join = awaiting the task or a future,
sleep = asyncio.sleep.

Reduced sizes (CPython is far slower per operation; the driver compares
rates, not times).  README size -> size used here (quick mode in brackets):
    spawn_many     1,000,000 -> 10,000 [1,000]   (N/100: all tasks are alive
                                                  at once, ~1 KiB each)
    fib            fib(30)   -> fib(20) [fib(15)], spawned = fib(n+1) - 1
    skynet         depth 6   -> depth 4 (11,111 tasks) [depth 3, 1,111]
    mpmc_PxC       10,000,000 items -> 100,000 [10,000]
    timers         100,000 tasks -> 10,000 [1,000], 10 sleeps each
yield_many, ping_pong and chained_spawn keep the README's sizes.
"""

import asyncio
import sys
import time

QUICK = False


def scaled(n):
    """n, or n/10 in quick mode."""
    return n // 10 if QUICK else n


def fail(msg):
    print("asyncio-bench: check failed: " + msg, file=sys.stderr)
    sys.exit(1)


def inexpressible(msg):
    print("asyncio-bench: " + msg, file=sys.stderr)
    sys.exit(2)


async def spawn_many():
    # Reduced N: README's 1,000,000 / 100 (see the module docstring).
    n = scaled(10_000)
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    counter = 0

    async def tiny():
        nonlocal counter
        counter += 1  # one thread: a plain increment is the atomic one
        if counter == n:
            done.set_result(None)

    # The tasks never suspend: the loop's ready queue holds each one until
    # it has run, so no references are kept here.
    start = time.perf_counter()
    for _ in range(n):
        asyncio.create_task(tiny())
    await done
    el = time.perf_counter() - start
    if counter != n:
        fail(f"spawn_many: counter {counter}, want {n}")
    return n / el


async def yield_many():
    tasks, per = 200, scaled(1000)
    total = 0

    async def yielder():
        nonlocal total
        sleep = asyncio.sleep
        for _ in range(per):
            await sleep(0)
        total += per

    start = time.perf_counter()
    ts = [asyncio.create_task(yielder()) for _ in range(tasks)]
    for t in ts:
        await t
    el = time.perf_counter() - start
    if total != tasks * per:
        fail(f"yield_many: {total} yields, want {tasks * per}")
    return tasks * per / el


async def ping_pong():
    pairs, rounds = 1000, scaled(100)  # quick scales the rounds, as boucle
    queues = [(asyncio.Queue(maxsize=1), asyncio.Queue(maxsize=1))
              for _ in range(pairs)]
    back = bad = 0

    async def pong(q_in, q_out):
        for _ in range(rounds):
            await q_out.put(await q_in.get())

    async def ping(base, q_in, q_out):
        nonlocal back, bad
        for r in range(rounds):
            ball = base + r + 1
            await q_in.put(ball)
            if await q_out.get() == ball:
                back += 1
            else:
                bad += 1

    start = time.perf_counter()
    ts = []
    for p, (q_in, q_out) in enumerate(queues):
        ts.append(asyncio.create_task(pong(q_in, q_out)))
        ts.append(asyncio.create_task(ping(p * rounds, q_in, q_out)))
    for t in ts:
        await t
    el = time.perf_counter() - start
    if back != pairs * rounds or bad:
        fail(f"ping_pong: {back} balls came back right, {bad} wrong, "
             f"want {pairs * rounds}")
    return pairs * rounds / el


async def chained_spawn():
    n = scaled(1_000_000)
    done = asyncio.get_running_loop().create_future()

    async def link(i):
        if i == n:
            done.set_result(i)
        else:
            asyncio.create_task(link(i + 1))

    start = time.perf_counter()
    asyncio.create_task(link(1))
    got = await done
    el = time.perf_counter() - start
    if got != n:
        fail(f"chained_spawn: chain of {got}, want {n}")
    return n / el


async def fib(n):
    if n < 2:
        return n
    t = asyncio.create_task(fib(n - 1))
    b = await fib(n - 2)  # inline: a coroutine, not a task
    return await t + b


async def fib_workload():
    # Reduced: fib(20) (10,945 spawned = fib(21) - 1, result 6765);
    # quick fib(15) (986 spawned = fib(16) - 1, result 610).
    n, want, spawned = (15, 610, 986) if QUICK else (20, 6765, 10945)
    start = time.perf_counter()
    got = await asyncio.create_task(fib(n))
    el = time.perf_counter() - start
    if got != want:
        fail(f"fib({n}) = {got}, want {want}")
    return spawned / el


async def skynet(num, size):
    if size == 1:
        return num
    sub = size // 10
    ts = [asyncio.create_task(skynet(num + i * sub, sub)) for i in range(10)]
    s = 0
    for t in ts:
        s += await t
    return s


async def skynet_workload():
    # Reduced: depth 4 (10,000 leaves, 11,111 tasks, sum 49995000);
    # quick depth 3 (1,000 leaves, 1,111 tasks, sum 499500).
    size, tasks = (1000, 1111) if QUICK else (10000, 11111)
    want = size * (size - 1) // 2
    start = time.perf_counter()
    got = await asyncio.create_task(skynet(0, size))
    el = time.perf_counter() - start
    if got != want:
        fail(f"skynet: sum {got}, want {want}")
    return tasks / el


async def mpmc(p, c):
    # Reduced N: 10,000,000 / 100 items (see the module docstring).  Values
    # 1..N in contiguous ranges, one per producer; asyncio.Queue has no
    # close() in 3.11, so once every producer is done one None per consumer
    # ends the consumers.
    n = scaled(100_000)
    q = asyncio.Queue(maxsize=1024)
    sums = [0] * c

    async def producer(lo, hi):
        put = q.put
        for v in range(lo, hi):
            await put(v)

    async def consumer(i):
        get = q.get
        s = 0
        while (v := await get()) is not None:
            s += v
        sums[i] = s

    start = time.perf_counter()
    cons = [asyncio.create_task(consumer(i)) for i in range(c)]
    prods, lo = [], 1
    for i in range(p):
        cnt = n // p + (1 if i < n % p else 0)
        prods.append(asyncio.create_task(producer(lo, lo + cnt)))
        lo += cnt
    for t in prods:
        await t
    for _ in range(c):
        await q.put(None)
    for t in cons:
        await t
    el = time.perf_counter() - start
    if sum(sums) != n * (n + 1) // 2:
        fail(f"mpmc {p}x{c}: sum {sum(sums)}, want {n * (n + 1) // 2}")
    return n / el


SLEEPS_EACH = 10


async def timers():
    # Reduced N: README's 100,000 tasks / 10 (see the module docstring).
    # Each task sleeps ten times a pseudo-random [0, 10000] microseconds
    # from its own LCG (the same generator and seeds as boucle's
    # bench_time.c), so the sleeps are identical on every run.
    n = scaled(10_000)
    slept = 0

    async def sleeper(seed):
        nonlocal slept
        sleep = asyncio.sleep
        done = 0
        for _ in range(SLEEPS_EACH):
            seed = (seed * 1664525 + 1013904223) & 0xFFFFFFFF
            await sleep(((seed >> 8) % 10001) / 1e6)
            done += 1
        slept += done

    start = time.perf_counter()
    ts = [asyncio.create_task(sleeper((i * 2654435761 + 1) & 0xFFFFFFFF))
          for i in range(n)]
    for t in ts:
        await t
    el = time.perf_counter() - start
    if slept != n * SLEEPS_EACH:
        fail(f"timers: {slept} sleeps, want {n * SLEEPS_EACH}")
    return n * SLEEPS_EACH / el


WORKLOADS = {
    "spawn_many": spawn_many,
    "yield_many": yield_many,
    "ping_pong": ping_pong,
    "chained_spawn": chained_spawn,
    "fib": fib_workload,
    "skynet": skynet_workload,
    "mpmc_1x1": lambda: mpmc(1, 1),
    "mpmc_4x4": lambda: mpmc(4, 4),
    "mpmc_16x16": lambda: mpmc(16, 16),
    "timers": timers,
}

NOT_EXPRESSIBLE = {
    "mpmc_batch_1x1": "asyncio.Queue has no batch put/get",
    "mpmc_batch_4x4": "asyncio.Queue has no batch put/get",
    "mpmc_batch_16x16": "asyncio.Queue has no batch put/get",
    "mpmc_threads_1x1": "asyncio.Queue is not thread-safe (no plain-thread "
                        "producers)",
    "mpmc_threads_4x4": "asyncio.Queue is not thread-safe (no plain-thread "
                        "producers)",
}


def main(argv):
    global QUICK
    if not 3 <= len(argv) <= 4 or (len(argv) == 4 and argv[3] != "quick"):
        print("usage: asyncio-bench WORKLOAD WORKERS [quick]",
              file=sys.stderr)
        return 1
    try:
        workers = int(argv[2])
    except ValueError:
        workers = 0
    if workers < 1:
        print(f"asyncio-bench: bad WORKERS {argv[2]!r}", file=sys.stderr)
        return 1
    QUICK = len(argv) == 4
    name = argv[1]
    if workers > 1:
        inexpressible(f"{name}: asyncio's event loop is single-threaded, it "
                      f"cannot use {workers} workers (only 1)")
    if name in NOT_EXPRESSIBLE:
        inexpressible(f"{name}: {NOT_EXPRESSIBLE[name]}")
    if name not in WORKLOADS:
        inexpressible(f"unknown workload {name!r}")
    rate = asyncio.run(WORKLOADS[name]())
    print(f"{rate:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
