package main

import (
	"flag"
	"fmt"
)

// commandUsage is the -h text of a subcommand: one line saying what it does,
// how to call it with examples, then its flags.
func commandUsage(fs *flag.FlagSet, name, what string, examples ...string) func() {
	return func() {
		w := fs.Output()
		fmt.Fprintf(w, "%s\n\nUsage:\n  ims %s [flags]\n\nExamples:\n", what, name)
		for _, e := range examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
		fmt.Fprintf(w, "\nFlags:\n")
		fs.PrintDefaults()
	}
}
