from __future__ import annotations

from daemon.stats import HostFacts, Result, Stats, render_page

EXPECTED_KEYS = [
    "dcc_tcp_accept",
    "dcc_rej_bad_req",
    "dcc_rej_overload",
    "dcc_compile_ok",
    "dcc_compile_error",
    "dcc_compile_timeout",
    "dcc_cli_disconnect",
    "dcc_other",
    "dcc_longest_job",
    "dcc_longest_job_compiler",
    "dcc_longest_job_time_msecs",
    "dcc_max_kids",
    "dcc_avg_kids1",
    "dcc_avg_kids2",
    "dcc_avg_kids3",
    "dcc_current_load",
    "dcc_load1",
    "dcc_load2",
    "dcc_load3",
    "dcc_num_compiles1",
    "dcc_num_compiles2",
    "dcc_num_compiles3",
    "dcc_num_procstate_D",
    "dcc_max_RSS",
    "dcc_max_RSS_name",
    "dcc_io_rate",
    "dcc_free_space",
]


def test_empty_page_byte_for_byte() -> None:
    page = render_page(Stats(max_kids=4).snapshot(now=1000.0), HostFacts())
    body = (
        "HTTP/1.0 200 OK\nContent-Type: text/plain\nConnection: close\n\n"
        "argv /distccd\n<distccstats>\n"
        "dcc_tcp_accept 0\ndcc_rej_bad_req 0\ndcc_rej_overload 0\ndcc_compile_ok 0\n"
        "dcc_compile_error 0\ndcc_compile_timeout 0\ndcc_cli_disconnect 0\ndcc_other 0\n"
        "dcc_longest_job none\ndcc_longest_job_compiler none\n"
        "dcc_longest_job_time_msecs 0\ndcc_max_kids 4\n"
        "dcc_avg_kids1 0\ndcc_avg_kids2 0\ndcc_avg_kids3 0\n"
        "dcc_current_load 0\ndcc_load1 0.00\ndcc_load2 0.00\ndcc_load3 0.00\n"
        "dcc_num_compiles1 0\ndcc_num_compiles2 0\ndcc_num_compiles3 0\n"
        "dcc_num_procstate_D 0\ndcc_max_RSS 0\ndcc_max_RSS_name none\n"
        "dcc_io_rate -1\ndcc_free_space -1 MB\n</distccstats>\n"
    )
    assert page == body.encode()


def test_counters_windows_and_longest_job() -> None:
    stats = Stats(max_kids=2)
    stats.record(Result.TCP_ACCEPT, now=0.0)
    stats.record(Result.COMPILE_OK, now=10.0, duration=30.0, compiler="gcc", source="a.c")
    stats.record(Result.COMPILE_OK, now=500.0, duration=0.25, compiler="cc", source="b.c")
    stats.record(Result.COMPILE_ERROR, now=590.0, duration=1.0)
    stats.record(Result.REJ_BAD_REQ, now=595.0)
    snap = stats.snapshot(now=600.0)
    assert snap.counters["dcc_tcp_accept"] == 1
    assert snap.counters["dcc_compile_ok"] == 2
    assert snap.counters["dcc_compile_error"] == 1
    assert snap.counters["dcc_rej_bad_req"] == 1
    assert snap.num_compiles == (1, 2, 3)
    assert (snap.longest_job, snap.longest_job_compiler, snap.longest_job_msecs) == (
        "a.c",
        "gcc",
        30000,
    )
    # 1000 s later everything has left the 15-minute window, but counters stay.
    later = stats.snapshot(now=2000.0)
    assert later.num_compiles == (0, 0, 0)
    assert later.counters["dcc_compile_ok"] == 2


def test_avg_kids_is_busy_time_over_window() -> None:
    stats = Stats(max_kids=8)
    for _ in range(4):
        stats.record(Result.COMPILE_OK, now=100.0, duration=60.0)
    assert stats.snapshot(now=100.0).avg_kids == (4, 1, 0)


def test_page_key_order_and_host_facts(tmp_path: object) -> None:
    facts = HostFacts.read("/tmp")
    page = render_page(Stats(max_kids=1).snapshot(0.0), facts).decode()
    body = page.split("<distccstats>\n")[1].split("</distccstats>")[0]
    keys = [line.split(" ")[0] for line in body.splitlines()]
    assert keys == EXPECTED_KEYS
    assert facts.free_space_mb >= 0
    assert facts.max_rss_kib > 0
