-- wrk script of `cargo xtask bench`'s SIGTERM-under-load trials: counts the
-- requests wrk hands to a connection (sent), the answers it gets (answered)
-- and the answers that are not 2xx/3xx (not-ok), over all threads.
--
-- A request whose write fails (the connection was refused once the
-- listener closed) is in wrk's "write" errors; so
--   sent - answered - write errors
-- is the number of requests that went out on a connection and never got an
-- answer: the requests the server dropped.
--
-- wrk calls request() once more than it sends: on the first thread, before
-- any connection, to check the request (script_verify_request). done()
-- leaves that call out; the benchmark runs one thread.
--
--   wrk -t1 -c16 -d30s --latency -s bench/wrk/count.lua http://127.0.0.1:PORT/health

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   sent, answered, not_ok = 0, 0, 0
   template = wrk.format()
end

function request()
   sent = sent + 1
   return template
end

function response(status, headers, body)
   answered = answered + 1
   if status < 200 or status > 399 then
      not_ok = not_ok + 1
   end
end

function done(summary, latency, requests)
   local s, a, n = 0, 0, 0
   for _, thread in ipairs(threads) do
      s = s + thread:get("sent")
      a = a + thread:get("answered")
      n = n + thread:get("not_ok")
   end
   io.write(string.format("wrk-count: sent %d answered %d not-ok %d\n", s - 1, a, n))
end
