-- wrk script of bench/check.py: a random firm of the city per request, with the department's key.
local codes = {}
for line in io.lines(os.getenv("BENCH_USCCS")) do
  codes[#codes + 1] = line
end
local headers = { ["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN") }
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

function init(args)
  math.randomseed(os.time() * 100 + (id or 0))
end

request = function()
  local code = codes[math.random(#codes)]
  return wrk.format("GET", "/api/v1/credit/" .. code .. "?purpose=procurement", headers)
end
