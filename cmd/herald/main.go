// Command herald runs the herald server (`herald serve`) and drives a running
// one from the command line (`herald declare`, `update`, `resolve`, …).
//
// main only wires the process to run, so that tests drive run in-process
// with their own arguments, environment and output.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/heraldhq/herald/node"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal starts a graceful shutdown, restore the
		// default handling, so that a second Ctrl-C ends herald at once.
		<-ctx.Done()
		stop()
	}()
	err := run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode prints err and returns the process status: 0 on success and for
// -h, 2 for a usage error, 1 for anything else.
func exitCode(err error, stderr io.Writer) int {
	var ue *usageError
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		if !ue.quiet {
			fmt.Fprintf(newSafeWriter(stderr), "herald: %s\n", ue.msg)
		}
		if !ue.shown {
			fmt.Fprintln(stderr, "Run 'herald help' for usage.")
		}
		return 2
	default:
		// An error may quote the server's answer: no raw control characters.
		fmt.Fprintf(newSafeWriter(stderr), "herald: %v\n", err)
		return 1
	}
}

// run is the whole program: args[0] is the program name.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	a := &app{getenv: getenv, stdin: stdin, stdout: newSafeWriter(stdout), stderr: stderr}
	return a.run(ctx, args)
}

// app carries the process's surroundings to every command.
type app struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// ready, when set, is called with the address serve listens on once it
	// answers requests; tests use it to learn the port of --addr 127.0.0.1:0.
	ready func(addr string)
	// started, when set, gets the running node before ready is called;
	// tests use it to learn what only the node knows, such as the
	// sandbox's Twilio token (drawn at random on every start).
	started func(*node.Node)
	// loc is the time zone of the page the command is about (openPage),
	// which its times are printed in; nil: UTC.
	loc *time.Location
	// shortUsage prints the short usage of the command being run (its
	// newest FlagSet's), for a usage error found after its flags parsed.
	shortUsage func()
}

// usageError is a mistake in the command line: exit status 2.
type usageError struct {
	msg   string
	shown bool // the command's usage was printed
	quiet bool // the message itself was printed too (by the flag package)
}

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// command is one verb of the CLI.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, a *app, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "run the server: status page, API and broadcasts", cmdServe},
		{"token", "create, list or revoke API tokens (works without a running server)", cmdToken},
		{"console", "link: a one-time sign-in link to the web console (works without a running server)", cmdConsole},
		{"declare", "declare an incident", cmdDeclare},
		{"update", "post an update to an incident", cmdUpdate},
		{"resolve", "resolve an incident", cmdResolve},
		{"broadcast", "watch, list, cancel or dry-run an incident's broadcasts", cmdBroadcast},
		{"import", "import customers from a CSV or JSON file", cmdImport},
		{"customers", "list customers, show one, or the messages one got", cmdCustomers},
		{"subscribers", "list or add subscribers", cmdSubscribers},
		{"complaints", "list, show, record, assign, tag, note, reply to or resolve complaints; stats", cmdComplaints},
		{"surveys", "survey results, settings, and sending an incident's surveys now", cmdSurveys},
		{"report", "an incident's post-incident report, or the evaluation of a period (HTML, JSON, CSV)", cmdReport},
		{"postmortem", "write (and publish) an incident's postmortem from a Markdown file", cmdPostmortem},
		{"compensation", "decide compensation, check what a customer gets, record grants, export, totals, announce", cmdCompensation},
		{"slack", "print the Slack app manifest (herald slack manifest)", cmdSlack},
		{"sandbox", "run the provider sandbox (Twilio, Slack, SMTP stand-ins) on its own", cmdSandbox},
		{"maintenance", "schedule, list, start or complete maintenance", cmdMaintenance},
		{"status", "show the page's status, components and open incidents", cmdStatus},
		{"pages", "list pages; rename a page or set its name, URL, time zone and logo", cmdPages},
		{"components", "list or create components", cmdComponents},
		{"version", "print the version", cmdVersion},
		{"help", "show this help", nil},
	}
}

const usageHeader = `herald broadcasts incidents: a status page, a Statuspage-compatible API, and
messages to the customers an outage affects.

Usage: herald COMMAND [ARGS] [FLAGS]

Commands:
`

const usageFooter = `
Examples:
  herald serve                                    # 127.0.0.1:8080, SQLite in ./data; messages to the sandbox at /sandbox
  herald token create --role admin                # prints a token on its last line
  export HERALD_TOKEN=hrld_...
  herald components create --name Payments
  herald declare --name "Payments are failing" --component Payments=major_outage --message "We are investigating."
  herald update INCIDENT --status identified --message "A bad deploy; rolling back."
  herald resolve INCIDENT --message "Payments work again."
  herald import customers customers.csv           # then: herald customers
  herald declare --name "SMS delays" --component Payments=degraded_performance --wait
  herald broadcast dry-run INCIDENT --kind resolved

API commands reach the server at --url or HERALD_URL (default http://127.0.0.1:8080)
with the token from --token or HERALD_TOKEN.
Run 'herald COMMAND -h' for a command's flags.
`

func (a *app) usage(w io.Writer) {
	fmt.Fprint(w, usageHeader)
	width := 0
	for _, c := range commands() {
		width = max(width, len(c.name))
	}
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
	}
	fmt.Fprint(w, usageFooter)
}

func (a *app) run(ctx context.Context, args []string) error {
	if len(args) < 2 {
		a.usage(a.stderr)
		return &usageError{msg: "no command", shown: true}
	}
	name, rest := args[1], args[2:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 && rest[0] != "help" {
			return a.run(ctx, []string{args[0], rest[0], "-h"})
		}
		a.usage(a.stdout)
		return nil
	case "-version", "--version":
		name = "version"
	}
	for _, c := range commands() {
		if c.name == name && c.run != nil {
			err := c.run(ctx, a, rest)
			// A mistake found after the flags parsed (a bad --format, a
			// missing --file) shows the command's own usage line above
			// it, as a flag error does, not a pointer to all of herald's.
			if ue := (*usageError)(nil); errors.As(err, &ue) && !ue.shown && a.shortUsage != nil {
				a.shortUsage()
				ue.shown = true
			}
			return err
		}
	}
	var names []string
	for _, c := range commands() {
		if c.run != nil {
			names = append(names, c.name)
		}
	}
	if near := nearest(name, names); near != "" {
		return usageErrorf("unknown command %q: did you mean %q?", name, near)
	}
	return usageErrorf("unknown command %q", name)
}

// nearest is the one of names within two edits of typed (a letter left
// out, doubled, swapped or mistyped), the closest; "" when none is.
func nearest(typed string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(strings.ToLower(typed), n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the Damerau–Levenshtein distance (optimal string
// alignment) between a and b, in runes.
func editDistance(a, b string) int {
	x, y := []rune(a), []rune(b)
	d := make([][]int, len(x)+1)
	for i := range d {
		d[i] = make([]int, len(y)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(x); i++ {
		for j := 1; j <= len(y); j++ {
			cost := 1
			if x[i-1] == y[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && x[i-1] == y[j-2] && x[i-2] == y[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(x)][len(y)]
}

// newFlagSet returns a FlagSet whose usage names the command and its
// arguments. fs.Usage, which a command calls before a usage error, prints
// one short line, so the error that follows it stays on screen; -h prints
// the whole help (fullHelp).
func (a *app) newFlagSet(name, synopsis, about string) *flag.FlagSet {
	fs := flag.NewFlagSet("herald "+name, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	fs.Usage = func() {
		fmt.Fprintf(a.stderr, "Usage: herald %s %s\n", name, synopsis)
		if hasFlags(fs) {
			fmt.Fprintf(a.stderr, "Run 'herald %s -h' for its flags.\n", name)
		}
	}
	a.shortUsage = fs.Usage
	fullHelp.Store(fs, func(w io.Writer) {
		fmt.Fprintf(w, "Usage: herald %s %s\n", name, synopsis)
		if about != "" {
			fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(about))
		}
		if hasFlags(fs) {
			fmt.Fprintln(w, "\nFlags:")
			printFlags(w, fs)
		}
	})
	return fs
}

// fullHelp holds each FlagSet's whole help, printed for -h: the flag
// package calls fs.Usage both for -h and for a mistake, and only the
// former should print every flag.
var fullHelp sync.Map // *flag.FlagSet → func(io.Writer)

// printFlags lists fs's flags as the README writes them: --name VALUE
// (-q for a one-letter flag), then the description and any default.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		typ, usage := flag.UnquoteUsage(f)
		line := "  " + dash + f.Name
		if typ != "" {
			line += " " + typ
		}
		fmt.Fprintln(w, line)
		// A zero default says nothing ("(default 0s)"), and a description
		// that words its own default ("(default: the current one)") is
		// not followed by the flag's raw one ("(default -1)").
		switch f.DefValue {
		case "", "false", "0", "0s", "[]":
		default:
			if !strings.Contains(usage, "(default") {
				usage += fmt.Sprintf(" (default %s)", f.DefValue)
			}
		}
		fmt.Fprintf(w, "      %s\n", usage)
	})
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// parseFlags parses args, allowing flags after positional arguments
// (`herald update ID --status identified`), and returns the positional ones.
// A "--" ends the flags. -h returns flag.ErrHelp after printing the usage to
// stdout; any other mistake returns a usage error.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	out := fs.Output()
	for {
		// The flag package prints its error, then the usage: silence it,
		// and print the short usage first and the error last.
		fs.SetOutput(io.Discard)
		usage := fs.Usage
		fs.Usage = func() {}
		err := fs.Parse(args)
		fs.SetOutput(out)
		fs.Usage = usage
		if err != nil {
			if errors.Is(err, flag.ErrHelp) {
				if full, ok := fullHelp.Load(fs); ok {
					full.(func(io.Writer))(out)
				} else {
					fs.Usage()
				}
				return nil, err
			}
			fs.Usage()
			return nil, &usageError{msg: flagMessage(err), shown: true}
		}
		rest := fs.Args()
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// flagMessage rewords the flag package's error with the flags written as
// the help writes them (--name, not -name).
func flagMessage(err error) string {
	msg := err.Error()
	for _, pre := range []string{"flag provided but not defined: -", "flag needs an argument: -"} {
		if strings.HasPrefix(msg, pre) && !strings.HasPrefix(msg, pre+"-") {
			name := strings.TrimPrefix(msg, pre)
			if len(name) > 1 {
				return pre + "-" + name
			}
		}
	}
	return strings.Replace(msg, " for flag -", " for --", 1)
}

// wantArgs checks the number of positional arguments.
func wantArgs(fs *flag.FlagSet, pos []string, n int, what string) error {
	if len(pos) != n {
		fs.Usage()
		if len(pos) < n {
			return &usageError{msg: "missing " + what, shown: true}
		}
		return &usageError{msg: fmt.Sprintf("unexpected argument %q", pos[n]), shown: true}
	}
	for i, p := range pos {
		if strings.TrimSpace(p) == "" {
			// Mostly "$INCIDENT" with the variable unset: say so
			// rather than send a request for the collection.
			fs.Usage()
			return &usageError{msg: fmt.Sprintf("argument %d is empty, want %s (is a shell variable unset?)", i+1, what), shown: true}
		}
	}
	return nil
}

// parseArgs parses the flags and checks that n positional arguments (what)
// came with them; most commands start with it.
func parseArgs(fs *flag.FlagSet, args []string, n int, what string) ([]string, error) {
	pos, err := parseFlags(fs, args)
	if err != nil {
		return nil, err
	}
	return pos, wantArgs(fs, pos, n, what)
}

// subcommand dispatches `herald GROUP VERB ...`.
func subcommand(ctx context.Context, a *app, group string, args []string, verbs map[string]func(context.Context, *app, []string) error) error {
	names := make([]string, 0, len(verbs))
	for n := range verbs {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(a.stderr, "Usage: herald %s %s [FLAGS]\nRun 'herald %s VERB -h' for a verb's flags.\n", group, strings.Join(names, "|"), group)
		if len(args) > 0 {
			return flag.ErrHelp
		}
		return &usageError{msg: "missing " + group + " verb", shown: true}
	}
	f, ok := verbs[args[0]]
	if !ok {
		if near := nearest(args[0], names); near != "" {
			return usageErrorf("unknown %s verb %q: did you mean %q? (want %s; herald %s -h)", group, args[0], near, strings.Join(names, ", "), group)
		}
		return usageErrorf("unknown %s verb %q (want %s; herald %s -h)", group, args[0], strings.Join(names, ", "), group)
	}
	return f(ctx, a, args[1:])
}

// subcommandOr is subcommand with a default verb: `herald GROUP`, bare or
// with flags straight after it, runs verbs[def].
func subcommandOr(ctx context.Context, a *app, group, def string, args []string, verbs map[string]func(context.Context, *app, []string) error) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && args[0] != "-h" && args[0] != "--help" {
		return verbs[def](ctx, a, args)
	}
	return subcommand(ctx, a, group, args, verbs)
}

// version is the module version and VCS revision herald was built from.
func version() string { return node.Version() }

func cmdVersion(_ context.Context, a *app, args []string) error {
	fs := a.newFlagSet("version", "", "")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, "herald", version())
	return nil
}
