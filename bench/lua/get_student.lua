-- GET /students/{id} with an id drawn uniformly from 1..BENCH_MAX_ID (every one exists).
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
local max_id = tonumber(os.getenv("BENCH_MAX_ID"))
local threads_started = 0

function setup(thread)
  threads_started = threads_started + 1
  thread:set("thread_number", threads_started)
end

function init(args)
  math.randomseed(os.time() * 100 + thread_number)
end

function request()
  return wrk.format("GET", "/students/" .. math.random(1, max_id))
end
