package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

const healthcheckSynopsis = "healthcheck [-timeout 3s] [URL]"

// runHealthcheck is what the container's HEALTHCHECK runs: the runtime image has no shell or curl.
// It succeeds only when the URL answers 200.
func runHealthcheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	rest, err := parseFlags(fs, args, stderr, healthcheckSynopsis)
	if err != nil {
		return err
	}
	if len(rest) > 1 {
		return badUsage(stderr, healthcheckSynopsis, "healthcheck takes at most one URL")
	}
	var target string
	if len(rest) == 1 {
		target = rest[0]
	} else {
		target, err = defaultHealthURL(getenv("FORTRESS_ADDR"))
		if err != nil {
			return err
		}
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return badUsage(stderr, healthcheckSynopsis, "URL must be an http or https URL")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil) //nolint:gosec // G704: the operator names the URL to probe; no client input reaches it
	if err != nil {
		return err
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req) //nolint:gosec // G704: as above, the operator's own URL
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer func() { _ = resp.Body.Close() }() // only the status matters
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %d", u.Redacted(), resp.StatusCode)
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}

// defaultHealthURL is /health on the address the server listens on; a wildcard host means loopback.
func defaultHealthURL(addr string) (string, error) {
	if addr == "" {
		addr = "127.0.0.1:8000"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("FORTRESS_ADDR: %w", err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/health", nil
}
