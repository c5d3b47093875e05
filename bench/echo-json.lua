-- wrk: POST {"text":"x"} as JSON to Test.Echo.
wrk.method = "POST"
wrk.body = '{"text":"x"}'
wrk.headers["Content-Type"] = "application/json"
