// oneTBB peer for boucle's benchmark workloads (see ../README.md).
//
//     tbb-bench WORKLOAD WORKERS [quick]
//
// Prints one rate (operations per second) on stdout.  Exit 1: the result
// check failed; exit 2: the workload cannot be expressed with oneTBB;
// exit 64: bad command line.
//
// WORKERS is applied twice: global_control(max_allowed_parallelism) caps
// the whole library, and every task-based workload runs inside
// task_arena(WORKERS), whose slots include the calling (main) thread.

#include <tbb/concurrent_queue.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Ctx {
    tbb::task_arena *arena;
    int workers;
    bool quick;
};

// A workload returns the rate, or sets *ok = false when its check fails.
struct Result {
    double rate;
    bool ok;
};

double seconds_since(Clock::time_point t0)
{
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

[[noreturn]] void not_expressible(const char *why)
{
    std::fprintf(stderr, "tbb-bench: %s\n", why);
    std::exit(2);
}

// ---------------------------------------------------------------- warm-up

// Bring every arena slot to life before anything is timed: each of the
// `workers` parallel_for iterations spins until all of them have been
// picked up (bounded, in case the OS is slow to hand out threads), then a
// burst of task_group tasks warms the task allocator.
void warm_up(const Ctx &c)
{
    c.arena->execute([&] {
        std::atomic<int> arrived{0};
        tbb::parallel_for(
            0, c.workers,
            [&](int) {
                arrived.fetch_add(1);
                auto t0 = Clock::now();
                while (arrived.load() < c.workers && seconds_since(t0) < 0.5)
                    std::this_thread::yield();
            },
            tbb::simple_partitioner());

        std::atomic<long> n{0};
        tbb::task_group tg;
        for (int i = 0; i < 20000; i++)
            tg.run([&n] { n.fetch_add(1, std::memory_order_relaxed); });
        tg.wait();
    });
}

// -------------------------------------------------------------- spawn_many

Result spawn_many(const Ctx &c)
{
    const long n = c.quick ? 100000 : 1000000;
    std::atomic<long> counter{0};
    double secs = 0;
    c.arena->execute([&] {
        auto t0 = Clock::now();
        tbb::task_group tg;
        for (long i = 0; i < n; i++)
            tg.run([&counter] {
                counter.fetch_add(1, std::memory_order_relaxed);
            });
        tg.wait();
        secs = seconds_since(t0);
    });
    if (counter.load() != n) {
        std::fprintf(stderr, "spawn_many: counter %ld, expected %ld\n",
                     counter.load(), n);
        return {0, false};
    }
    return {n / secs, true};
}

// ----------------------------------------------------------- chained_spawn

// Each link counts itself and hands the rest of the chain to a new task of
// the same task_group, then returns.  task_group::wait() returns once the
// last link has run (that is the completion signal).
void chain_link(tbb::task_group &tg, std::atomic<long> &ran, long left)
{
    ran.fetch_add(1, std::memory_order_relaxed);
    if (left > 1)
        tg.run([&tg, &ran, left] { chain_link(tg, ran, left - 1); });
}

Result chained_spawn(const Ctx &c)
{
    const long n = c.quick ? 100000 : 1000000;
    std::atomic<long> ran{0};
    double secs = 0;
    c.arena->execute([&] {
        auto t0 = Clock::now();
        tbb::task_group tg;
        tg.run([&tg, &ran, n] { chain_link(tg, ran, n); });
        tg.wait();
        secs = seconds_since(t0);
    });
    if (ran.load() != n) {
        std::fprintf(stderr, "chained_spawn: %ld links ran, expected %ld\n",
                     ran.load(), n);
        return {0, false};
    }
    return {n / secs, true};
}

// --------------------------------------------------------------------- fib

// The classic task_group fib: spawn fib(n-1), compute fib(n-2) inline, join.
long fib(int n)
{
    if (n < 2)
        return n;
    long x = 0;
    tbb::task_group tg;
    tg.run([&x, n] { x = fib(n - 1); });
    long y = fib(n - 2);
    tg.wait();
    return x + y;
}

long fib_serial(int n)
{
    long a = 0, b = 1;
    for (int i = 0; i < n; i++) {
        long t = a + b;
        a = b;
        b = t;
    }
    return a;
}

Result fib_bench(const Ctx &c)
{
    const int n = c.quick ? 25 : 30;
    const long expect = fib_serial(n);          // 75025 / 832040
    const long spawned = fib_serial(n + 1) - 1; // 121392 / 1346268
    long got = 0;
    double secs = 0;
    c.arena->execute([&] {
        auto t0 = Clock::now();
        got = fib(n);
        secs = seconds_since(t0);
    });
    if (got != expect) {
        std::fprintf(stderr, "fib(%d) = %ld, expected %ld\n", n, got, expect);
        return {0, false};
    }
    return {spawned / secs, true};
}

// ------------------------------------------------------------------ skynet

// A node of `size` leaves starting at `num`: leaves return their number,
// inner nodes run their 10 children in a task_group of their own and sum.
long skynet(long num, long size)
{
    if (size == 1)
        return num;
    const long sub = size / 10;
    long part[10];
    tbb::task_group tg;
    for (int i = 0; i < 10; i++)
        tg.run([&part, i, num, sub] { part[i] = skynet(num + i * sub, sub); });
    tg.wait();
    long sum = 0;
    for (long p : part)
        sum += p;
    return sum;
}

Result skynet_bench(const Ctx &c)
{
    const int depth = c.quick ? 5 : 6;
    long leaves = 1, tasks = 0;
    for (int d = 0; d <= depth; d++) {
        tasks += leaves; // 1 + 10 + ... + 10^depth, the root included
        if (d < depth)
            leaves *= 10;
    }
    const long expect = leaves * (leaves - 1) / 2;
    long got = 0;
    double secs = 0;
    c.arena->execute([&] {
        auto t0 = Clock::now();
        tbb::task_group tg; // the root is a task too
        tg.run([&got, leaves] { got = skynet(0, leaves); });
        tg.wait();
        secs = seconds_since(t0);
    });
    if (got != expect) {
        std::fprintf(stderr, "skynet depth %d: sum %ld, expected %ld\n",
                     depth, got, expect);
        return {0, false};
    }
    return {tasks / secs, true};
}

// -------------------------------------------------------------------- mpmc

// oneTBB tasks cannot block on a queue without blocking the worker thread
// that runs them: with P + C producer/consumer tasks on fewer workers, a
// blocking push/pop would deadlock the arena.  The way oneTBB users move
// data between concurrent parties is concurrent_bounded_queue between
// plain threads, so here the P producers and C consumers are std::threads
// (created inside the timed region) doing blocking push/pop, independent
// of WORKERS.  Items are 1..N, so 0 is free to serve as a sentinel: once
// every producer has finished, the main thread pushes one 0 per consumer,
// and a consumer stops at the first 0 it pops.
Result mpmc(const Ctx &c, int producers, int consumers)
{
    const uint64_t n = c.quick ? 1000000 : 10000000;
    tbb::concurrent_bounded_queue<uint64_t> q;
    q.set_capacity(1024);
    std::vector<uint64_t> sums(consumers, 0);
    std::vector<uint64_t> counts(consumers, 0);

    auto t0 = Clock::now();
    std::vector<std::thread> cons;
    cons.reserve(consumers);
    for (int i = 0; i < consumers; i++)
        cons.emplace_back([&q, &sums, &counts, i] {
            uint64_t sum = 0, cnt = 0, v;
            for (;;) {
                q.pop(v);
                if (v == 0)
                    break;
                sum += v;
                cnt++;
            }
            sums[i] = sum;
            counts[i] = cnt;
        });
    std::vector<std::thread> prods;
    prods.reserve(producers);
    for (int i = 0; i < producers; i++) {
        // Producer i pushes the values (lo, hi]; the split is even, the
        // remainder (if any) going to the first producers.
        uint64_t base = n / producers, extra = n % producers;
        uint64_t lo = i * base + (i < (int)extra ? i : extra);
        uint64_t hi = lo + base + (i < (int)extra ? 1 : 0);
        prods.emplace_back([&q, lo, hi] {
            for (uint64_t v = lo + 1; v <= hi; v++)
                q.push(v);
        });
    }
    for (auto &t : prods)
        t.join();
    for (int i = 0; i < consumers; i++)
        q.push(0);
    for (auto &t : cons)
        t.join();
    double secs = seconds_since(t0);

    uint64_t sum = 0, cnt = 0;
    for (int i = 0; i < consumers; i++) {
        sum += sums[i];
        cnt += counts[i];
    }
    const uint64_t expect = n * (n + 1) / 2;
    if (sum != expect || cnt != n) {
        std::fprintf(stderr,
                     "mpmc %dx%d: %llu items summing to %llu, expected "
                     "%llu summing to %llu\n",
                     producers, consumers, (unsigned long long)cnt,
                     (unsigned long long)sum, (unsigned long long)n,
                     (unsigned long long)expect);
        return {0, false};
    }
    return {n / secs, true};
}

// ---------------------------------------------------------------- dispatch

[[noreturn]] void usage()
{
    std::fprintf(stderr, "usage: tbb-bench WORKLOAD WORKERS [quick]\n");
    std::exit(64);
}

bool parse_mpmc(const char *suffix, int *p, int *c)
{
    if (std::strcmp(suffix, "1x1") == 0) {
        *p = *c = 1;
    } else if (std::strcmp(suffix, "4x4") == 0) {
        *p = *c = 4;
    } else if (std::strcmp(suffix, "16x16") == 0) {
        *p = *c = 16;
    } else {
        return false;
    }
    return true;
}

} // namespace

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4)
        usage();
    const std::string w = argv[1];
    char *end = nullptr;
    long workers = std::strtol(argv[2], &end, 10);
    if (*argv[2] == '\0' || *end != '\0' || workers < 1 || workers > 4096)
        usage();
    bool quick = false;
    if (argc == 4) {
        if (std::strcmp(argv[3], "quick") != 0)
            usage();
        quick = true;
    }

    // Workloads oneTBB cannot express: decided before any runtime start-up.
    if (w == "yield_many")
        not_expressible("oneTBB has no task yield: a task runs to completion");
    if (w == "ping_pong")
        not_expressible("oneTBB tasks cannot suspend on a queue: a blocking "
                        "pop blocks the worker thread, so 1,000 pairs "
                        "deadlock on a few workers");
    if (w.rfind("mpmc_batch_", 0) == 0)
        not_expressible("concurrent_bounded_queue has no batch push/pop");
    if (w.rfind("mpmc_threads_", 0) == 0)
        not_expressible("this peer's mpmc_* already runs producers and "
                        "consumers as plain threads; not duplicated");

    int producers = 0, consumers = 0;
    bool is_mpmc = false;
    if (w.rfind("mpmc_", 0) == 0) {
        if (!parse_mpmc(w.c_str() + 5, &producers, &consumers))
            not_expressible("unknown workload");
        is_mpmc = true;
    } else if (w != "spawn_many" && w != "chained_spawn" && w != "fib" &&
               w != "skynet") {
        not_expressible("unknown workload");
    }

    tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                              (size_t)workers);
    tbb::task_arena arena((int)workers);
    arena.initialize();
    Ctx ctx{&arena, (int)workers, quick};
    warm_up(ctx);

    Result r;
    if (is_mpmc)
        r = mpmc(ctx, producers, consumers);
    else if (w == "spawn_many")
        r = spawn_many(ctx);
    else if (w == "chained_spawn")
        r = chained_spawn(ctx);
    else if (w == "fib")
        r = fib_bench(ctx);
    else
        r = skynet_bench(ctx);

    if (!r.ok)
        return 1;
    std::printf("%.1f\n", r.rate);
    return 0;
}
