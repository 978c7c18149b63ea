package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	nethttp "net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/insiderone/ims/client"
	"github.com/insiderone/ims/config"
)

// runHealthcheck asks a running IMS for /api/health and exits 0 when it
// answers 200 (ok or degraded). Container images have no curl, so Docker's
// HEALTHCHECK runs this.
func runHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = commandUsage(fs, "healthcheck", "Ask a running IMS for /api/health; exit 0 when it is up (for container health checks).",
		"ims healthcheck", "ims healthcheck -url http://ims:8080/api/health -timeout 2s")
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
	base, isIMS := strings.CutSuffix(*url, "/api/health")
	if !isIMS {
		// Another service's endpoint: the sink's /healthz in docker-compose.yml.
		return probe(ctx, *url, stdout)
	}
	// No client timeout: -timeout, through ctx, is the bound.
	c, err := client.New(base, client.WithHTTPClient(&nethttp.Client{}))
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	// A 503 comes with the report too, naming what is down.
	h, err := c.Health(ctx)
	if h.Status != "" {
		report, _ := json.Marshal(h)
		fmt.Fprintln(stdout, string(report))
	}
	if err != nil {
		return fmt.Errorf("healthcheck: %s: %w", *url, err)
	}
	return nil
}

// probe is a health check of something other than IMS: a GET that must be
// answered 200. The answer is printed.
func probe(ctx context.Context, url string, stdout io.Writer) error {
	req, err := nethttp.NewRequestWithContext(ctx, nethttp.MethodGet, url, nil)
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
		return fmt.Errorf("healthcheck: %s answered HTTP %d", url, resp.StatusCode)
	}
	return nil
}

// serverPort is SERVER_PORT as config reads it, for ims healthcheck.
func serverPort(lookup config.Lookup) (string, error) {
	port, err := config.LoadServerPort(lookup)
	return strconv.Itoa(port), err
}
