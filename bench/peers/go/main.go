// bench/peers/go/main.go - boucle's benchmark workloads on the Go runtime.
//
//	go-bench WORKLOAD WORKERS [quick]
//
// Prints one rate (operations per second) on stdout.  Exit 1: the
// workload's own check failed; exit 2: the workload cannot be expressed
// with Go's primitives (or is unknown).  See ../README.md for the contract.
//
// Mapping: task = goroutine, worker threads = runtime.GOMAXPROCS(WORKERS),
// yield = runtime.Gosched, queue = buffered channel, join = sync.WaitGroup
// or a channel, sleep = time.Sleep.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

var quick bool

// scaled returns n, or n/10 in quick mode.
func scaled(n int) int {
	if quick {
		return n / 10
	}
	return n
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "go-bench: check failed: "+format+"\n", args...)
	os.Exit(1)
}

func inexpressible(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "go-bench: "+format+"\n", args...)
	os.Exit(2)
}

// spawn_many: N goroutines, each one atomic increment; a WaitGroup joins them.
func spawnMany() float64 {
	n := scaled(1000000)
	var counter int64
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			atomic.AddInt64(&counter, 1)
			wg.Done()
		}()
	}
	wg.Wait()
	el := time.Since(start)
	if c := atomic.LoadInt64(&counter); c != int64(n) {
		fail("spawn_many: counter %d, want %d", c, n)
	}
	return float64(n) / el.Seconds()
}

// yield_many: 200 goroutines each call runtime.Gosched 1,000 times.
func yieldMany() float64 {
	const tasks = 200
	per := scaled(1000)
	var total int64
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(tasks)
	for t := 0; t < tasks; t++ {
		go func() {
			done := 0
			for i := 0; i < per; i++ {
				runtime.Gosched()
				done++
			}
			atomic.AddInt64(&total, int64(done))
			wg.Done()
		}()
	}
	wg.Wait()
	el := time.Since(start)
	want := int64(tasks * per)
	if total != want {
		fail("yield_many: %d yields, want %d", total, want)
	}
	return float64(want) / el.Seconds()
}

// ping_pong: 1,000 pairs; per pair two channels of capacity 1 (ping->pong,
// pong->ping); the pinger sends a distinct ball per round trip and checks
// that the very same ball comes back.
func pingPong() float64 {
	const pairs = 1000
	rounds := scaled(100) // quick mode scales the round trips, as boucle does
	to := make([]chan uint64, pairs)
	from := make([]chan uint64, pairs)
	for p := 0; p < pairs; p++ {
		to[p] = make(chan uint64, 1)
		from[p] = make(chan uint64, 1)
	}
	var back, bad int64
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(2 * pairs)
	for p := 0; p < pairs; p++ {
		in, out := to[p], from[p]
		go func() { // pong: return every ball
			for r := 0; r < rounds; r++ {
				out <- <-in
			}
			wg.Done()
		}()
		base := uint64(p * rounds)
		go func() { // ping
			var ok, ko int64
			for r := uint64(0); r < uint64(rounds); r++ {
				ball := base + r + 1
				in <- ball
				if <-out == ball {
					ok++
				} else {
					ko++
				}
			}
			atomic.AddInt64(&back, ok)
			atomic.AddInt64(&bad, ko)
			wg.Done()
		}()
	}
	wg.Wait()
	el := time.Since(start)
	want := int64(pairs * rounds)
	if back != want || bad != 0 {
		fail("ping_pong: %d balls came back right, %d wrong, want %d", back, bad, want)
	}
	return float64(want) / el.Seconds()
}

// chained_spawn: goroutine i starts goroutine i+1 and exits; the last one
// sends the chain length on a channel.
func chainedSpawn() float64 {
	n := scaled(1000000)
	done := make(chan int, 1)
	var link func(i int)
	link = func(i int) {
		if i == n {
			done <- i
			return
		}
		go link(i + 1)
	}
	start := time.Now()
	go link(1)
	got := <-done
	el := time.Since(start)
	if got != n {
		fail("chained_spawn: chain of %d, want %d", got, n)
	}
	return float64(n) / el.Seconds()
}

// fib: for n >= 2 a goroutine computes fib(n-1) and returns it through a
// channel while the caller computes fib(n-2) inline, then joins.
func fib(n int) uint64 {
	if n < 2 {
		return uint64(n)
	}
	ch := make(chan uint64, 1)
	go func() { ch <- fib(n - 1) }()
	b := fib(n - 2)
	return <-ch + b
}

func fibWorkload() float64 {
	n, want, spawned := 30, uint64(832040), 1346268.0 // fib(31) - 1 spawns
	if quick {
		n, want, spawned = 25, 75025, 121392.0 // fib(26) - 1
	}
	start := time.Now()
	ch := make(chan uint64, 1)
	go func() { ch <- fib(n) }()
	got := <-ch
	el := time.Since(start)
	if got != want {
		fail("fib(%d) = %d, want %d", n, got, want)
	}
	return spawned / el.Seconds()
}

// skynet: the classic Go skynet; every node is a goroutine, a node spawns
// 10 children that report on its channel, leaves send their number.
func skynet(c chan<- uint64, num, size uint64) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan uint64, 10)
	sub := size / 10
	for i := uint64(0); i < 10; i++ {
		go skynet(rc, num+i*sub, sub)
	}
	var sum uint64
	for i := 0; i < 10; i++ {
		sum += <-rc
	}
	c <- sum
}

func skynetWorkload() float64 {
	size, want, tasks := uint64(1000000), uint64(499999500000), 1111111.0 // depth 6
	if quick {
		size, want, tasks = 100000, 4999950000, 111111.0 // depth 5
	}
	c := make(chan uint64, 1)
	start := time.Now()
	go skynet(c, 0, size)
	got := <-c
	el := time.Since(start)
	if got != want {
		fail("skynet: sum %d, want %d", got, want)
	}
	return tasks / el.Seconds()
}

// mpmc: one channel of capacity 1024, values 1..N split evenly between P
// producers (contiguous ranges), C consumers sum what they receive; the
// channel is closed once every producer is done.
//
// threads: Go has no plain OS threads distinct from goroutines, so the
// "thread" producers are goroutines pinned to their own OS thread with
// runtime.LockOSThread(); they still need a P (one of GOMAXPROCS) to run.
func mpmc(p, c int, threads bool) float64 {
	n := uint64(scaled(10000000))
	ch := make(chan uint64, 1024)
	sums := make([]uint64, c)
	var prod, cons sync.WaitGroup
	start := time.Now()
	prod.Add(p)
	cons.Add(c)
	for i := 0; i < c; i++ {
		i := i
		go func() {
			var s uint64
			for v := range ch {
				s += v
			}
			sums[i] = s
			cons.Done()
		}()
	}
	lo := uint64(1)
	for i := 0; i < p; i++ {
		cnt := n / uint64(p)
		if uint64(i) < n%uint64(p) {
			cnt++
		}
		from, to := lo, lo+cnt // [from, to)
		lo = to
		go func() {
			if threads {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
			}
			for v := from; v < to; v++ {
				ch <- v
			}
			prod.Done()
		}()
	}
	prod.Wait()
	close(ch)
	cons.Wait()
	el := time.Since(start)
	var sum uint64
	for _, s := range sums {
		sum += s
	}
	if want := n * (n + 1) / 2; sum != want {
		fail("mpmc %dx%d: sum %d, want %d", p, c, sum, want)
	}
	return float64(n) / el.Seconds()
}

// timers: N goroutines each time.Sleep ten times a pseudo-random duration
// in [0, 10000] microseconds.  Each goroutine has its own LCG seeded from
// its index (the same generator and seeds as boucle's bench_time.c), so the
// sleeps are identical on every run; every goroutine counts its sleeps.
const sleepsEach = 10

func timers() float64 {
	n := scaled(100000)
	var slept int64
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		seed := uint32(i)*2654435761 + 1
		go func() {
			done := int64(0)
			for k := 0; k < sleepsEach; k++ {
				seed = seed*1664525 + 1013904223
				us := (seed >> 8) % 10001
				time.Sleep(time.Duration(us) * time.Microsecond)
				done++
			}
			atomic.AddInt64(&slept, done)
			wg.Done()
		}()
	}
	wg.Wait()
	el := time.Since(start)
	want := int64(n) * sleepsEach
	if got := atomic.LoadInt64(&slept); got != want {
		fail("timers: %d sleeps, want %d", got, want)
	}
	return float64(want) / el.Seconds()
}

func main() {
	if len(os.Args) < 3 || len(os.Args) > 4 ||
		(len(os.Args) == 4 && os.Args[3] != "quick") {
		fmt.Fprintln(os.Stderr, "usage: go-bench WORKLOAD WORKERS [quick]")
		os.Exit(1)
	}
	workers, err := strconv.Atoi(os.Args[2])
	if err != nil || workers < 1 {
		fmt.Fprintf(os.Stderr, "go-bench: bad WORKERS %q\n", os.Args[2])
		os.Exit(1)
	}
	quick = len(os.Args) == 4
	runtime.GOMAXPROCS(workers)

	var rate float64
	switch w := os.Args[1]; w {
	case "spawn_many":
		rate = spawnMany()
	case "yield_many":
		rate = yieldMany()
	case "ping_pong":
		rate = pingPong()
	case "chained_spawn":
		rate = chainedSpawn()
	case "fib":
		rate = fibWorkload()
	case "skynet":
		rate = skynetWorkload()
	case "mpmc_1x1":
		rate = mpmc(1, 1, false)
	case "mpmc_4x4":
		rate = mpmc(4, 4, false)
	case "mpmc_16x16":
		rate = mpmc(16, 16, false)
	case "mpmc_threads_1x1":
		rate = mpmc(1, 1, true)
	case "mpmc_threads_4x4":
		rate = mpmc(4, 4, true)
	case "timers":
		rate = timers()
	case "mpmc_batch_1x1", "mpmc_batch_4x4", "mpmc_batch_16x16":
		inexpressible("%s: Go channels have no batch send/receive", w)
	default:
		inexpressible("unknown workload %q", w)
	}
	fmt.Println(strconv.FormatFloat(rate, 'f', 1, 64))
}
