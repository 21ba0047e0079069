-- Authenticated GETs for wrk: the path comes from wrk's URL, the token from TOKEN.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
