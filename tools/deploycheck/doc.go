// Package deploycheck holds the checks that keep Fortress's delivery files honest: the Dockerfile, the
// compose file and the Kubernetes manifests are parsed with the same parsers their tools use and held to
// the rules of the supply-chain issue, the binary is shown to build reproducibly, and the monitoring
// configuration (deploy/monitoring: scrape job, alert and recording rules, Grafana dashboard) is held to
// the metrics the server exports and to the compose mounts that load it.
//
// It is a separate module so that its dependencies (BuildKit's Dockerfile parser, the compose-spec
// loader) never enter the module graph of the shipped binary. Run it with
//
//	cd tools/deploycheck && go test ./...
//
// Each Check function returns the problems it finds, one readable line each, so that a failing test
// lists everything to fix at once; the tests also feed each check known-bad input to show it bites.
package deploycheck
