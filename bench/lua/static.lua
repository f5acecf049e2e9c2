-- The same request every time (the URL given to wrk), as the admin of the bench.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
