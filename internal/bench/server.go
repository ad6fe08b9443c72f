package bench

// ServerSettings is the configuration every measured server runs with, as KEY=VALUE pairs, on top of its
// address, secret and database: production mode, logs at warn (at info one JSON access-log line per
// request costs more than some requests), and rate limits off so that they measure nothing but the
// server. The harness's processes and the in-process BenchmarkAPI (cmd/fortress) share it, so that the
// two measure the same configuration.
func ServerSettings() []string {
	return []string{
		"FORTRESS_ENV=production",
		"FORTRESS_LOG_LEVEL=warn",
		"FORTRESS_RATE_LIMIT=off",
		"FORTRESS_LOGIN_RATE_LIMIT=off",
		"FORTRESS_REGISTER_RATE_LIMIT=off",
		"FORTRESS_ACCESS_TOKEN_TTL=1h",
	}
}
