//! tokio-bench WORKLOAD WORKERS [quick]
//!
//! boucle's benchmark workloads (bench/peers/README.md) on Tokio 1.24's
//! multi-thread runtime.  Prints one rate on stdout; exits 1 if the
//! workload's own check fails, 2 (printing nothing) if the workload cannot
//! be expressed with Tokio/async-channel.
//!
//! The runtime (worker_threads = WORKERS) is built and warmed up before
//! timing.  Each workload's driver runs as a Tokio task on a worker, so its
//! spawns take the worker-local path, and it times itself: the clock starts
//! just before the first spawn and stops when the result is known.
//!
//! Channels: ping_pong uses tokio::sync::mpsc::channel(1) (two per pair);
//! the mpmc workloads use async_channel::bounded(1024) (MPMC, which Tokio
//! itself does not provide).  timers sleeps with tokio::time::sleep (the
//! runtime is built with enable_time() for that workload only).

use std::future::Future;
use std::pin::Pin;
use std::process::exit;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What a workload's driver reports: work units done and the time they took,
/// or a failed check.
type Outcome = Result<(f64, f64), String>;

struct Sizes {
    quick: bool,
}

impl Sizes {
    /// N, or N / 10 in quick mode.
    fn scale(&self, n: u64) -> u64 {
        if self.quick {
            n / 10
        } else {
            n
        }
    }
}

fn join_err(e: tokio::task::JoinError) -> String {
    format!("a task failed: {}", e)
}

// Await every handle in order; the sum of the counts the tasks returned.
async fn join_sum(handles: Vec<tokio::task::JoinHandle<u64>>) -> Result<u64, String> {
    let mut total = 0u64;
    for h in handles {
        total += h.await.map_err(join_err)?;
    }
    Ok(total)
}

// --- spawn_many: 10^6 tiny tasks, one atomic increment each, all joined ----

async fn spawn_many(sz: Sizes) -> Outcome {
    let n = sz.scale(1_000_000);
    let counter = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::with_capacity(n as usize);
    let start = Instant::now();
    for _ in 0..n {
        let c = counter.clone();
        handles.push(tokio::spawn(async move {
            c.fetch_add(1, Ordering::Relaxed);
        }));
    }
    for h in handles {
        h.await.map_err(join_err)?;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let got = counter.load(Ordering::Relaxed);
    if got != n {
        return Err(format!("spawn_many: counter {} != {}", got, n));
    }
    Ok((n as f64, elapsed))
}

// --- yield_many: 200 tasks each yield 1,000 times ---------------------------

async fn yield_many(sz: Sizes) -> Outcome {
    const TASKS: u64 = 200;
    let per_task = sz.scale(1000);
    let mut handles = Vec::with_capacity(TASKS as usize);
    let start = Instant::now();
    for _ in 0..TASKS {
        handles.push(tokio::spawn(async move {
            let mut done = 0u64;
            for _ in 0..per_task {
                tokio::task::yield_now().await;
                done += 1;
            }
            done
        }));
    }
    let total = join_sum(handles).await?;
    let elapsed = start.elapsed().as_secs_f64();
    if total != TASKS * per_task {
        return Err(format!("yield_many: {} yields != {}", total, TASKS * per_task));
    }
    Ok(((TASKS * per_task) as f64, elapsed))
}

// --- ping_pong: 1,000 pairs, 100 round trips through capacity-1 queues ------

async fn ping_pong(sz: Sizes) -> Outcome {
    const PAIRS: usize = 1000;
    let rounds = sz.scale(100);
    let failed = Arc::new(AtomicBool::new(false));
    // Queue creation is outside the timed region.
    let mut ends = Vec::with_capacity(PAIRS);
    for _ in 0..PAIRS {
        let (ping_tx, ping_rx) = mpsc::channel::<u64>(1);
        let (pong_tx, pong_rx) = mpsc::channel::<u64>(1);
        ends.push((ping_tx, ping_rx, pong_tx, pong_rx));
    }
    let mut pongers = Vec::with_capacity(PAIRS);
    let mut pingers = Vec::with_capacity(PAIRS);
    let start = Instant::now();
    for (ping_tx, mut ping_rx, pong_tx, mut pong_rx) in ends {
        let f = failed.clone();
        pongers.push(tokio::spawn(async move {
            for _ in 0..rounds {
                match ping_rx.recv().await {
                    Some(ball) => {
                        if pong_tx.send(ball).await.is_err() {
                            f.store(true, Ordering::Relaxed);
                            return;
                        }
                    }
                    None => {
                        f.store(true, Ordering::Relaxed);
                        return;
                    }
                }
            }
        }));
        let f = failed.clone();
        pingers.push(tokio::spawn(async move {
            let mut back = 0u64;
            for i in 0..rounds {
                if ping_tx.send(i).await.is_err() {
                    break;
                }
                match pong_rx.recv().await {
                    Some(ball) if ball == i => back += 1,
                    _ => break,
                }
            }
            if back != rounds {
                f.store(true, Ordering::Relaxed);
            }
            back
        }));
    }
    let mut returned = 0u64;
    for (po, pi) in pongers.into_iter().zip(pingers) {
        po.await.map_err(join_err)?;
        returned += pi.await.map_err(join_err)?;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let want = PAIRS as u64 * rounds;
    if failed.load(Ordering::Relaxed) || returned != want {
        return Err(format!("ping_pong: {} of {} balls came back", returned, want));
    }
    Ok((want as f64, elapsed))
}

// --- chained_spawn: each task spawns the next; the last signals -------------

fn chain_link(remaining: u64, hops: u64, done: oneshot::Sender<u64>) {
    tokio::spawn(async move {
        if remaining == 1 {
            let _ = done.send(hops + 1);
        } else {
            chain_link(remaining - 1, hops + 1, done);
        }
    });
}

async fn chained_spawn(sz: Sizes) -> Outcome {
    let n = sz.scale(1_000_000);
    let (tx, rx) = oneshot::channel();
    let start = Instant::now();
    chain_link(n, 0, tx);
    let hops = rx.await.map_err(|_| "chained_spawn: chain broke".to_string())?;
    let elapsed = start.elapsed().as_secs_f64();
    if hops != n {
        return Err(format!("chained_spawn: {} links != {}", hops, n));
    }
    Ok((n as f64, elapsed))
}

// --- fib: spawn fib(n-1), compute fib(n-2) inline, join ---------------------

fn fib(n: u64) -> BoxFuture<u64> {
    Box::pin(async move {
        if n < 2 {
            return n;
        }
        let child = tokio::spawn(fib(n - 1));
        let b = fib(n - 2).await;
        // A panicked child is a failed check: report it as an impossible value.
        match child.await {
            Ok(a) => a + b,
            Err(_) => u64::MAX / 2,
        }
    })
}

async fn fib_bench(sz: Sizes) -> Outcome {
    let (n, expected, spawned) = if sz.quick {
        (25, 75_025u64, 121_392f64)
    } else {
        (30, 832_040u64, 1_346_268f64)
    };
    let start = Instant::now();
    let r = fib(n).await;
    let elapsed = start.elapsed().as_secs_f64();
    if r != expected {
        return Err(format!("fib({}) = {} != {}", n, r, expected));
    }
    Ok((spawned, elapsed))
}

// --- skynet: 10-way tree; leaves return their number ------------------------

fn skynet(num: u64, size: u64) -> BoxFuture<u64> {
    Box::pin(async move {
        if size == 1 {
            return num;
        }
        let step = size / 10;
        let mut children = Vec::with_capacity(10);
        for i in 0..10 {
            children.push(tokio::spawn(skynet(num + i * step, step)));
        }
        let mut sum = 0u64;
        // Newest first, as boucle's version joins.
        for child in children.into_iter().rev() {
            match child.await {
                Ok(s) => sum += s,
                Err(_) => return u64::MAX / 2,
            }
        }
        sum
    })
}

async fn skynet_bench(sz: Sizes) -> Outcome {
    // The root runs inline in the driver; tasks counts the whole tree.
    let (size, tasks) = if sz.quick {
        (100_000u64, 111_111f64)
    } else {
        (1_000_000u64, 1_111_111f64)
    };
    let expected = size * (size - 1) / 2;
    let start = Instant::now();
    let r = skynet(0, size).await;
    let elapsed = start.elapsed().as_secs_f64();
    if r != expected {
        return Err(format!("skynet: sum {} != {}", r, expected));
    }
    Ok((tasks, elapsed))
}

// --- mpmc: one async_channel::bounded(1024), P producers, C consumers -------

async fn mpmc(sz: Sizes, side: u64, threads: bool) -> Outcome {
    let per_producer = sz.scale(10_000_000) / side;
    let n = per_producer * side;
    // Queue creation is outside the timed region.
    let (tx, rx) = async_channel::bounded::<u64>(1024);
    let start = Instant::now();
    let mut consumers = Vec::with_capacity(side as usize);
    for _ in 0..side {
        let rx = rx.clone();
        consumers.push(tokio::spawn(async move {
            let mut sum = 0u64;
            while let Ok(v) = rx.recv().await {
                sum += v;
            }
            sum
        }));
    }
    drop(rx);
    let mut task_producers = Vec::new();
    let mut thread_producers = Vec::new();
    for p in 0..side {
        let tx = tx.clone();
        let first = 1 + p * per_producer;
        let last = first + per_producer;
        if threads {
            thread_producers.push(std::thread::spawn(move || {
                for v in first..last {
                    if tx.send_blocking(v).is_err() {
                        return false;
                    }
                }
                true
            }));
        } else {
            task_producers.push(tokio::spawn(async move {
                for v in first..last {
                    if tx.send(v).await.is_err() {
                        return false;
                    }
                }
                true
            }));
        }
    }
    // Consumers see the channel close once every producer's clone is gone.
    drop(tx);
    let mut sum = 0u64;
    for c in consumers {
        sum += c.await.map_err(join_err)?;
    }
    let elapsed = start.elapsed().as_secs_f64();
    // Every item was received, so every producer is past its last send.
    let mut ok = true;
    for p in task_producers {
        ok &= p.await.map_err(join_err)?;
    }
    for t in thread_producers {
        ok &= t.join().map_err(|_| "mpmc: a producer thread panicked".to_string())?;
    }
    let expected = n * (n + 1) / 2;
    if !ok || sum != expected {
        return Err(format!("mpmc {}x{}: sum {} != {}", side, side, sum, expected));
    }
    Ok((n as f64, elapsed))
}

// --- timers: N tasks each sleep a random 0-10 ms ten times -------------------

const SLEEPS_EACH: u64 = 10;

/// Per-task LCG (the same generator and seeds as boucle's bench_time.c):
/// the next sleep in [0, 10000] microseconds.
fn next_sleep_us(state: &mut u32) -> u64 {
    *state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
    ((*state >> 8) % 10_001) as u64
}

async fn timers(sz: Sizes) -> Outcome {
    let n = sz.scale(100_000);
    let mut handles = Vec::with_capacity(n as usize);
    let start = Instant::now();
    for i in 0..n {
        let mut seed = (i as u32).wrapping_mul(2_654_435_761).wrapping_add(1);
        handles.push(tokio::spawn(async move {
            let mut done = 0u64;
            for _ in 0..SLEEPS_EACH {
                let us = next_sleep_us(&mut seed);
                tokio::time::sleep(Duration::from_micros(us)).await;
                done += 1;
            }
            done
        }));
    }
    let total = join_sum(handles).await?;
    let elapsed = start.elapsed().as_secs_f64();
    let want = n * SLEEPS_EACH;
    if total != want {
        return Err(format!("timers: {} sleeps != {}", total, want));
    }
    Ok((want as f64, elapsed))
}

// --- command line ------------------------------------------------------------

fn usage() -> ! {
    eprintln!("usage: tokio-bench WORKLOAD WORKERS [quick]");
    exit(1);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 || args.len() > 4 {
        usage();
    }
    let workload = args[1].as_str();
    let workers: usize = match args[2].parse() {
        Ok(w) if w >= 1 => w,
        _ => usage(),
    };
    let quick = match args.get(3).map(String::as_str) {
        None => false,
        Some("quick") => true,
        Some(_) => usage(),
    };

    // Validate the name before building the runtime.
    match workload {
        "spawn_many" | "yield_many" | "ping_pong" | "chained_spawn" | "fib" | "skynet"
        | "mpmc_1x1" | "mpmc_4x4" | "mpmc_16x16" | "mpmc_threads_1x1" | "mpmc_threads_4x4"
        | "timers" => {}
        "mpmc_batch_1x1" | "mpmc_batch_4x4" | "mpmc_batch_16x16" => {
            eprintln!(
                "tokio-bench: {}: neither async-channel 1.8 nor Tokio 1.24's mpsc has a batch send/recv",
                workload
            );
            exit(2);
        }
        _ => {
            eprintln!("tokio-bench: unknown workload {}", workload);
            exit(2);
        }
    }

    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(workers);
    // Only timers needs the time driver; the other workloads keep the
    // runtime they were measured with.
    if workload == "timers" {
        builder.enable_time();
    }
    let rt = match builder.build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tokio-bench: cannot build the runtime: {}", e);
            exit(1);
        }
    };
    // Warm-up outside timing: let every worker start and run a task.
    rt.block_on(async {
        let hs: Vec<_> = (0..workers * 4).map(|_| tokio::spawn(async {})).collect();
        for h in hs {
            let _ = h.await;
        }
    });

    let sz = Sizes { quick };
    let name = workload.to_string();
    // The driver runs as a task on a worker thread, not on the main thread.
    let outcome = rt.block_on(async move {
        let driver: BoxFuture<Outcome> = match name.as_str() {
            "spawn_many" => Box::pin(spawn_many(sz)),
            "yield_many" => Box::pin(yield_many(sz)),
            "ping_pong" => Box::pin(ping_pong(sz)),
            "chained_spawn" => Box::pin(chained_spawn(sz)),
            "fib" => Box::pin(fib_bench(sz)),
            "skynet" => Box::pin(skynet_bench(sz)),
            "mpmc_1x1" => Box::pin(mpmc(sz, 1, false)),
            "mpmc_4x4" => Box::pin(mpmc(sz, 4, false)),
            "mpmc_16x16" => Box::pin(mpmc(sz, 16, false)),
            "mpmc_threads_1x1" => Box::pin(mpmc(sz, 1, true)),
            "mpmc_threads_4x4" => Box::pin(mpmc(sz, 4, true)),
            "timers" => Box::pin(timers(sz)),
            _ => unreachable!(),
        };
        match tokio::spawn(driver).await {
            Ok(o) => o,
            Err(e) => Err(join_err(e)),
        }
    });

    match outcome {
        Ok((units, secs)) if secs > 0.0 => {
            println!("{:.1}", units / secs);
        }
        Ok(_) => {
            eprintln!("tokio-bench: {}: zero elapsed time", workload);
            exit(1);
        }
        Err(msg) => {
            eprintln!("tokio-bench: check failed: {}", msg);
            exit(1);
        }
    }
    // Dropping the runtime waits for nothing: all tasks have finished.
    drop(rt);
}
