-- wrk script for benchmarks/load.py: every request arrives as the ALB forwards it
-- (X-Forwarded-Proto: https, so uat/prod settings serve rather than redirect), and carries
-- the bearer token when PORTICO_LOAD_TOKEN is set. The token travels in the environment of
-- the wrk process, never on a command line (ps would show it) nor in a file.
wrk.headers["X-Forwarded-Proto"] = "https"
local token = os.getenv("PORTICO_LOAD_TOKEN")
if token ~= nil and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
