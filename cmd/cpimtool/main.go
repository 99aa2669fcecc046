// Command cpimtool inspects and builds Message/CPIM objects (RFC 3862).
//
// Usage:
//
//	cpimtool <command> [arguments]
//
// The commands are:
//
//	parse   print a message as JSON, or the line where it is malformed
//	build   write a new text or file message
//	send    POST a message to the bridge or a gateway over HTTP
//	serve   run a test gateway that prints what the bridge sends and can reply
//
// "cpimtool <command> --help" describes a command.  Exit status is 0 on
// success, 1 when the input or an operation fails, 2 on a usage error.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// command is one subcommand.  run gets the arguments after the command
// name and returns the exit status, so tests can run it in-process.
type command struct {
	name    string
	summary string
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

// commands lists the subcommands in the order usage shows them; each
// lives in its own file.
var commands = []command{
	{"parse", "print a message as JSON, or the line where it is malformed", runParse},
	{"build", "write a new text or file message", runBuild},
	{"send", "POST a message to the bridge or a gateway over HTTP", runSend},
	{"serve", "run a test gateway that prints what the bridge sends and can reply", runServe},
}

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return exitOK
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(args[1:], stdin, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "cpimtool: unknown command %q\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: cpimtool <command> [arguments]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Examples:")
	fmt.Fprintln(w, "  cpimtool parse message.txt")
	fmt.Fprintln(w, "  cpimtool build --from im:alice@acme.example --to im:bob@bridge.example --text Hi >message.txt")
	fmt.Fprintln(w, `  cpimtool send --gateway http://127.0.0.1:29360/_cpim/v1/message --token "$INBOUND_TOKEN" message.txt`)
	fmt.Fprintln(w, `  cpimtool serve --listen 127.0.0.1:29361 --token "$BRIDGE_TOKEN" --reply-to http://127.0.0.1:29360/_cpim/v1/message --reply-token "$INBOUND_TOKEN" --echo`)
	fmt.Fprintln(w)
	fmt.Fprintln(w, `Run "cpimtool <command> --help" for a command's options and examples.`)
	fmt.Fprintln(w, "docs/gateway-developers.md walks through them.")
}

// parseFlags parses a command's arguments.  --help prints help on stdout
// (status 0); a bad flag prints the error and help on stderr (status 2).
// ok is false when the command must return status right away.
func parseFlags(fs *flag.FlagSet, help string, args []string, stdout, stderr io.Writer) (status int, ok bool) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	switch {
	case err == nil:
		return exitOK, true
	case errors.Is(err, flag.ErrHelp):
		printHelp(fs, help, stdout)
		return exitOK, false
	}
	fmt.Fprintf(stderr, "cpimtool %s: %v\n", fs.Name(), err)
	printHelp(fs, help, stderr)
	return exitUsage, false
}

func printHelp(fs *flag.FlagSet, help string, w io.Writer) {
	fmt.Fprint(w, help)
	fmt.Fprintln(w, "\nOptions:")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// usageError reports a bad argument of a command and returns exitUsage.
func usageError(stderr io.Writer, cmd, format string, args ...any) int {
	fmt.Fprintf(stderr, "cpimtool %s: %s\n", cmd, fmt.Sprintf(format, args...))
	fmt.Fprintf(stderr, "Run \"cpimtool %s --help\" for usage.\n", cmd)
	return exitUsage
}
