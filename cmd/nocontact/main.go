// Command nocontact is the one binary of nocontact: the DNS filter that
// holds a no-contact decision, and the commands a person uses to look at it.
//
// This file is the table of subcommands and the one place that prints an
// error and sets the exit status; each subcommand lives in its own file.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
	_ "time/tzdata" // quiet hours keep their zone on machines without a zone database (Windows, minimal containers)
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

// env is what a subcommand may touch of the outside world.
type env struct {
	stdout, stderr io.Writer
	// stdin is where questions are answered (start, unlock, phone); nil reads
	// nothing. interactive is set when a person is there to answer: stdin
	// is a terminal.
	stdin       io.Reader
	interactive bool
	// signals delivers SIGINT, SIGTERM and SIGHUP to `run`.
	signals <-chan os.Signal
	// now is the time for what start writes and the words say; nil
	// means the machine's clock.
	now func() time.Time
	// lines reads stdin a line at a time, once a question is asked.
	lines *bufio.Reader
	// echo writes each answer read after its question, for a transcript
	// when the input is not a terminal that echoes it (tests).
	echo bool
}

// clock returns the time now.
func (e *env) clock() time.Time {
	if e.now != nil {
		return e.now()
	}
	return time.Now()
}

type command struct {
	name    string
	args    string // usage after the name
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

func commands() []command {
	return []command{
		{"start", "[--length 30d | --until DATE] [--keep-open NAME,...] [--also GROUP,...] [--quiet 22:00-07:00] [--cooldown 24h] [--strict] [--reason TEXT] [--yes] [--config FILE]",
			"begin a pact: a few questions, then it holds you to your answers", cmdStart},
		{"status", "[--json] [--config FILE | --socket PATH]", "show the pact, what is blocked, what is waiting, and your attempts", cmdStatus},
		{"extend", "LENGTH [--config FILE | --socket PATH]", "make the pact longer, like 'extend 2w'; it applies at once", cmdExtend},
		{"unlock", "[--sentence TEXT] [--config FILE | --socket PATH]", "ask to end the pact early (it waits out the cooldown), or confirm that you still want to", cmdUnlock},
		{"cancel", "[--config FILE | --socket PATH] [ID]", "cancel a waiting change, or all of them", cmdCancel},
		{"reload", "[--config FILE | --socket PATH]", "make the running nocontact re-read its config", cmdReload},
		{"run", "--config FILE", "run the DNS filter in the foreground (a trial, unless the settings begin a pact)", cmdRun},
		{"check", "[--config FILE | --socket PATH] NAME...", "say whether each name is blocked or allowed, and by which rule", cmdCheck},
		{"platforms", "", "list the platforms nocontact can block", cmdPlatforms},
		{"export", "--format hosts|dnsmasq|unbound|adblock|rpz|json [-o FILE] [--config FILE | --socket PATH] [--from-config]", "write what is blocked for a router, a Pi-hole or a home DNS server", cmdExport},
		{"phone", "[--address IP/BITS] [--wifi NAME] [--profile FILE] [--yes] [--config FILE | --socket PATH]", "set up your phone to use this computer's nocontact on your home network", cmdPhone},
		{"install", "[--config FILE]", "install nocontact as a service and point this computer's DNS at it (administrator)", cmdInstall},
		{"doctor", "[--config FILE]", "check that nocontact is installed, answering and in the path of every lookup", cmdDoctor},
		{"uninstall", "[--purge]", "remove nocontact; while your pact holds, it waits out the cooldown (administrator)", cmdUninstall},
		{"version", "", "print the version", cmdVersion},
	}
}

// errUsage marks an error in how the command was called (exit status 2).
var errUsage = errors.New("usage")

func main() {
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	e := &env{stdout: os.Stdout, stderr: os.Stderr, stdin: os.Stdin, interactive: isTerminal(os.Stdin), signals: sig}
	os.Exit(mainWithEnv(context.Background(), e, os.Args[1:]))
}

// errQuiet ends a command with exit status 1 when what happened was said
// already, in words for the person, on stdout.
var errQuiet = errors.New("said already")

func mainWithEnv(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(e.stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, e, args[1:])
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errQuiet):
			return 1
		case errors.Is(err, errUsage):
			fmt.Fprintf(e.stderr, "nocontact %s: %v\nusage: nocontact %s %s\n", c.name, err, c.name, c.args)
			return 2
		}
		fmt.Fprintf(e.stderr, "nocontact %s: %v\n", c.name, err)
		return 1
	}
	fmt.Fprintf(e.stderr, "nocontact: unknown command %q\n\n", args[0])
	usage(e.stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "nocontact keeps the platforms you cut someone off from out of reach, for the time you chose.")
	fmt.Fprintln(w, "\nTo begin a pact, run:  sudo nocontact start")
	fmt.Fprintln(w, "It asks why, for how long, what to block and what to keep open, and shows the pact before it begins.")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  nocontact %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'nocontact COMMAND -h' for a command's options.")
}

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(e *env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet("nocontact "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs
}

// parseFlags parses args, marking a bad flag as a usage error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("%w: --log-level %q: want debug, info, warn or error", errUsage, level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
