/* tests/test-list.h: one line per test; runner.c and CMakeLists.txt read it. */
TEST(deque_push_pop_lifo)
TEST(deque_steal_fifo)
TEST(deque_grow_keeps_order)
TEST(deque_pop_if)
TEST(deque_pop_oldest)
TEST(deque_marks)
TEST(deque_steal_exactly_once)          /* owner (pop, pop_oldest) vs 3 thieves, 10^6 items, 1 in 5 marked */
TEST(fiber_switch_preserves_state)      /* registers, FP control, 10^5 switches */
TEST(stack_overflow_reported)           /* child process: message + SIGABRT */
TEST(stack_overflow_reported_mprotect)  /* the same with mprotect guards */
TEST(stack_pool_trim_decays)            /* unused for a period, then unmapped */
TEST(spawn_join_w1)                     /* 10^6 spawns joined, checksum */
TEST(spawn_join_w2)
TEST(spawn_join_w4)
TEST(spawn_fib_w1)                      /* fork-join, inline joins */
TEST(spawn_fib_w2)
TEST(spawn_nested_depth)                /* chain of 10^5 nested joins */
TEST(spawn_detach)
TEST(spawn_chain_hands_stack_w1)        /* ended task's stack runs the next; cancelled ones skipped */
TEST(spawn_chain_hands_stack_w2)
TEST(yield_round_robin)
TEST(yield_no_starvation)               /* injection queue vs a yield loop */
TEST(cancel_before_start)
TEST(migration_keeps_worker_state)
TEST(run_until_complete_twice)
TEST(run_forever_queued_then_stop)      /* ensure_future + run_forever */
TEST(run_forever_stop_from_thread)
TEST(run_forever_sigint)
TEST(run_forever_sigterm)
TEST(run_pending_stay_for_next_run)
TEST(loop_free_cancels_queued)
TEST(loop_free_runs_sticky_leftovers)   /* runs ending with resumed tasks queued */
TEST(loop_free_cancels_leftover_waits)  /* the drain cancels waits, never-cancelled loop */
TEST(park_no_lost_wakeup)               /* 10^5 rounds: all parked, 1 spawn */
TEST(park_spawns_reach_parked_worker)   /* 10^4 rounds: spawn 3, block thread */
TEST(park_last_searcher_wakes_for_rest) /* 5000 rounds: 2 spawns that wait for each other */
TEST(park_timer_spawns_reach_other_worker) /* a timer callback spawns such a pair */
TEST(park_sleepers_due_together_reach_other_worker) /* 2 sleepers due at once, such a pair */
TEST(park_sticky_task_leaves_stuck_worker) /* resume 1, block thread: a watch steals it */
TEST(park_sticky_backlog_spreads)       /* resume 40, block thread: the backlog is stolen */
TEST(park_bouncing_pair_lets_oldest_run_w1) /* a queue ping-pong pair vs the oldest task */
TEST(park_bouncing_pair_lets_oldest_run_w2)
TEST(suspend_100k_resumed_once)
TEST(suspend_resolve_races_switch)
TEST(errors_null_handles)
TEST(errors_bad_config)
TEST(errors_spawn_from_thread)
TEST(errors_wrong_context)
TEST(errors_run_on_running_loop)
TEST(errors_strerror)
TEST(queue_empty_full_size)
TEST(queue_fifo_order)                  /* many laps, capacities 1..1000, 0 */
TEST(queue_unbounded_1m)
TEST(queue_null_items)
TEST(queue_many_semantics)
TEST(queue_batch_after_single_laps)
TEST(queue_batch_wraps_any_capacity)   /* put/get_many from every index, capacities 1..1025 */
TEST(queue_bad_input)
TEST(queue_put_blocks_at_capacity)
TEST(queue_getters_served_in_order)
TEST(queue_free_waits_out_woken_callers) /* close / hand-off / task_done, then free at once */
TEST(queue_capacity_one_tasks)
TEST(queue_task_done_join)
TEST(queue_hand_off_counts_for_join)    /* a put straight to a waiting getter */
TEST(queue_close_wakes_getters)
TEST(queue_close_wakes_putters_getters_drain)
TEST(queue_close_now)
TEST(queue_close_wakes_tasks)
TEST(queue_stress_cap1)                 /* 8x8, tasks+threads, 10^6 items */
TEST(queue_stress_cap64)
TEST(queue_stress_unbounded)
TEST(queue_stress_cap1_many)
TEST(queue_stress_cap64_many)
TEST(queue_stress_unbounded_many)
TEST(queue_stress_cap3_varied)          /* batch sizes 1..5 on a ring of 3 */
TEST(queue_stress_cap1000_varied)       /* batch sizes 1..1200 on a ring of 1000 */
TEST(queue_stress_thread_fed_w1)        /* 8 producer threads, 8 consumer tasks, 1 worker */
TEST(sync_bad_input)
TEST(mutex_errors)                      /* -EPERM, -EBUSY, free while waited */
TEST(mutex_contention_count)            /* 8 tasks on 2 workers + 4 threads */
TEST(mutex_fifo_handoff)
TEST(mutex_task_keeps_ownership)        /* lock, yield (migrate), unlock */
TEST(sem_never_over_admits)             /* max holders <= permits */
TEST(sem_fifo_handoff)
TEST(event_set_wakes_all)               /* 3 threads + 4 tasks */
TEST(event_clear_blocks_again)
TEST(cond_signal_one_broadcast_all)
TEST(cond_free_right_after_broadcast)   /* woken waiters never touch the cond */
TEST(cond_wait_requires_mutex)
TEST(cond_producer_consumer)            /* 4x4, tasks+threads, exactly once */
TEST(waitgroup_waits_for_last_done)
TEST(waitgroup_add_errors)
TEST(sync_free_busy_while_waited)
TEST(time_sleep_never_early)
TEST(time_timers_in_deadline_order)     /* 10^5 random deadlines, 1 worker */
TEST(time_call_every_count)
TEST(time_call_every_no_drift)         /* 1,000 periods, checked by timer order */
TEST(time_timer_cancel)                 /* and -EPERM in callbacks */
TEST(time_timer_cancel_each_other)      /* two callbacks at once, no deadlock */
TEST(time_cancel_blocked_calls)         /* sleep, get, put, join, get_many */
TEST(time_timeouts_change_nothing)      /* tasks and threads */
TEST(time_cancel_vs_put_race)           /* 10^5 rounds, exactly once */
TEST(time_timeout_races_wake)           /* a timer fire vs a woken waiter leaving */
TEST(time_first_cancel_of_loop)         /* a fresh loop per cancel: the lazy fence */
TEST(time_gather_wait_any)
TEST(time_call_soon_threadsafe)         /* 4 threads x 10^4 calls */
TEST(cancel_inline_waiting_child)      /* 1-3 levels deep, cancel from outside */
TEST(cancel_inline_running_child)      /* child cancels its host, then sleeps */
TEST(cancel_inline_race)               /* 2*10^4 rounds vs a canceller thread */
TEST(time_primitives_timeout_cancel)  /* each _timeout form; cancel each */
TEST(examples_ticker_sigint)            /* run_forever, SIGINT and SIGTERM */
TEST(examples_ticker_count)             /* run_until_complete, 25 messages */
