-- POST /students with an email no other request of any run has used: run id, wrk thread, counter.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
wrk.headers["Content-Type"] = "application/json"
local run_id = os.getenv("BENCH_RUN_ID")
local threads_started = 0
local sent = 0

function setup(thread)
  threads_started = threads_started + 1
  thread:set("thread_number", threads_started)
end

function request()
  sent = sent + 1
  local body = string.format(
    '{"first_name":"Bench","last_name":"Load","email":"load.%s.%d.%d@post.bench.example.org"}',
    run_id, thread_number, sent)
  return wrk.format("POST", "/students", nil, body)
end
