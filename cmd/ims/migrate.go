package main

import (
	"context"
	"flag"
	"io"
	"os"

	"github.com/insiderone/ims/config"
)

// runMigrate applies the embedded migrations to DATABASE_URL (or the SQLite
// file) and exits. It needs only the database settings.
func runMigrate(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	envFile := fs.String("env-file", ".env", "optional file of KEY=value settings")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := config.LoadDotEnv(*envFile); err != nil {
		return err
	}
	cfg := config.Config{DatabaseURL: os.Getenv("DATABASE_URL"), SQLitePath: os.Getenv("SQLITE_PATH")}
	if cfg.SQLitePath == "" {
		cfg.SQLitePath = "ims.db"
	}
	log := newLogger(stderr, "info", "text")
	store, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	log.Info("migrations applied")
	return store.Close()
}
