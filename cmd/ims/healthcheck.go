package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	nethttp "net/http"
	"os"
	"time"
)

// runHealthcheck asks a running IMS for /api/health and exits 0 when it
// answers 200 (ok or degraded). Container images have no curl, so Docker's
// HEALTHCHECK runs this.
func runHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port, err := serverPort(os.LookupEnv)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	url := fs.String("url", "http://127.0.0.1:"+port+"/api/health", "health endpoint to ask")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := nethttp.NewRequestWithContext(ctx, nethttp.MethodGet, *url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := nethttp.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	fmt.Fprintln(stdout, string(body))
	if resp.StatusCode != nethttp.StatusOK {
		return fmt.Errorf("healthcheck: %s answered HTTP %d", *url, resp.StatusCode)
	}
	return nil
}
