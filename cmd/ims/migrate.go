package main

import (
	"context"
	"flag"
	"io"
	"os"

	"github.com/insiderone/ims/config"
)

// runMigrate applies the embedded migrations to DATABASE_URL (or the SQLite
// file) and exits. It reads only the database and log settings, through
// config like serve, so a bad one is refused the same way.
func runMigrate(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = commandUsage(fs, "migrate", "Apply the embedded database migrations (DATABASE_URL, or the SQLite file) and exit.",
		"DATABASE_URL=postgres://localhost/ims ims migrate", "ims migrate -env-file prod.env")
	envFile := fs.String("env-file", config.DefaultEnvFile, "optional file of KEY=value settings")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := config.LoadDotEnv(*envFile); err != nil {
		return err
	}
	cfg, err := config.LoadDatabase(os.LookupEnv)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	store, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	log.Info("migrations applied")
	return store.Close()
}
