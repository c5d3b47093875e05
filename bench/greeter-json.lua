-- wrk: POST {"name":"John"} as JSON, what an HTTP client of the gateway sends.
wrk.method = "POST"
wrk.body = '{"name":"John"}'
wrk.headers["Content-Type"] = "application/json"
