// Command fortress is the Fortress API server and its operational tools in one binary:
// serve, migrate, healthcheck and version.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var usage *usageError
		if errors.As(err, &usage) {
			os.Exit(2) // the usage text is already on stderr
		}
		fmt.Fprintln(os.Stderr, "fortress:", err)
		os.Exit(1)
	}
}
