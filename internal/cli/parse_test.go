package cli

import (
	"bytes"
	"flag"
	"strings"
	"testing"
)

// A bad flag is reported with the program's name first (package flag wrote
// "flag provided but not defined: -x" with no name), then the usage; -h
// prints the usage and stops with status 0; good flags parse.
func TestParseFlags(t *testing.T) {
	newFS := func(errb *bytes.Buffer) (*flag.FlagSet, *int) {
		fs := flag.NewFlagSet("prog", flag.ContinueOnError)
		fs.SetOutput(errb)
		fs.Usage = func() { errb.WriteString("Usage: prog\n"); fs.PrintDefaults() }
		return fs, fs.Int("n", 1, "a number")
	}
	for _, tc := range []struct {
		args   []string
		code   int
		ok     bool
		prefix string
	}{
		{[]string{"-x"}, 2, false, "prog: flag provided but not defined: -x\nUsage: prog\n"},
		{[]string{"-n", "z"}, 2, false, "prog: invalid value \"z\" for flag -n"},
		{[]string{"-h"}, 0, false, "Usage: prog\n"},
		{[]string{"-n", "3"}, 0, true, ""},
	} {
		var errb bytes.Buffer
		fs, n := newFS(&errb)
		code, ok := ParseFlags(fs, "prog", tc.args, &errb)
		if code != tc.code || ok != tc.ok || !strings.HasPrefix(errb.String(), tc.prefix) || tc.prefix == "" && errb.Len() != 0 {
			t.Errorf("ParseFlags(%q) = %d, %v, stderr %q; want %d, %v, stderr starting %q", tc.args, code, ok, errb.String(), tc.code, tc.ok, tc.prefix)
		}
		if tc.ok && *n != 3 {
			t.Errorf("ParseFlags(%q): -n = %d", tc.args, *n)
		}
		if !tc.ok && !strings.Contains(errb.String(), "-n int") {
			t.Errorf("ParseFlags(%q): no flag list in %q", tc.args, errb.String())
		}
	}
}
