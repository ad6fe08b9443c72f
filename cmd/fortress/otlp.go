package main

// otlpEndpoint is the traces endpoint the standard OpenTelemetry variables name, if any.
func otlpEndpoint(getenv func(string) string) string {
	if v := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); v != "" {
		return v
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
}
