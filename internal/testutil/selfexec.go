package testutil

import (
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// selfArgsEnv carries a command's arguments (each ended by a newline, so that
// no arguments and one empty argument differ) to a child test binary that
// MainOrRun turns into the command itself.
const selfArgsEnv = "AIOKIT_TEST_RUN_ARGS"

// MainOrRun is TestMain for a command's tests. In a process started by
// SelfCommand it runs the command (run, with those arguments, the process's
// stdout and stderr) and exits with its status; otherwise it runs the tests
// through Main. Tests use it to signal a real running process.
func MainOrRun(m *testing.M, run func(args []string, stdout, stderr io.Writer) int) {
	if args, ok := os.LookupEnv(selfArgsEnv); ok {
		lines := strings.Split(args, "\n")
		os.Exit(run(lines[:len(lines)-1], os.Stdout, os.Stderr))
	}
	Main(m)
}

// SelfCommand returns a command that runs this test binary as the command
// under test with args (see MainOrRun). Arguments must not contain newlines.
func SelfCommand(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	var b strings.Builder
	for _, a := range args {
		b.WriteString(a + "\n")
	}
	cmd.Env = append(os.Environ(), selfArgsEnv+"="+b.String())
	return cmd
}
