// Package logging holds the one rule every IMS component follows for its
// logger: the one it is given, or none at all.
package logging

import "log/slog"

// OrDiscard returns l, or a logger that drops everything when l is nil.
//
// A component never falls back to slog.Default: that would write its lines
// to the process's standard logger, in another format than the configured
// one, behind the back of the program that embeds it. cmd/ims hands every
// component its configured logger; tests and library users that pass none
// get silence.
func OrDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return Discard()
	}
	return l
}

// Discard returns a logger that drops everything.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
