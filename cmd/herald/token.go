package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/node"
)

// The token commands open the store directly rather than call the API: the
// first token has to come from somewhere, and whoever can read the data
// directory or reach the Redis is already trusted with everything in it.
// SQLite's WAL mode and busy timeout let them run beside a serving herald.

func cmdToken(ctx context.Context, a *app, args []string) error {
	return subcommand(ctx, a, "token", args, map[string]func(context.Context, *app, []string) error{
		"create": cmdTokenCreate,
		"list":   cmdTokenList,
		"revoke": cmdTokenRevoke,
	})
}

// openForToken parses the store flags and opens the store with a quiet
// logger. A SQLite store that is not there yet is made only to create a
// token in (a first token before the first serve), and said so: a list or
// a revoke there, or a token made where serve does not look (its store is
// on Redis, or in another --data), would otherwise look like success.
func (a *app) openForToken(ctx context.Context, cf *configFlags, creating bool) (*incident.Service, func(), error) {
	cfg, err := cf.load(a.getenv)
	if err != nil {
		return nil, nil, err
	}
	if cfg.RedisURL == "" {
		path := node.SQLitePath(cfg.DataDir)
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			if !creating {
				return nil, nil, fmt.Errorf("no herald store at %s: token works on the store herald serve uses; give the same --data DIR or --redis URL (HERALD_REDIS_URL) as serve", path)
			}
			fmt.Fprintf(a.stderr, "note: there was no herald store at %s; this token is made in a new one. If herald serve keeps its store elsewhere (another --data, or --redis), the token will not work there.\n", path)
		}
	}
	cfg.LogLevel = "warn" // a CLI run prints its answer, not the service's info lines
	log := node.NewLogger(a.stderr, cfg)
	eng, err := node.OpenEngine(ctx, cfg, nil)
	if err != nil {
		return nil, nil, err
	}
	svc := incident.NewService(eng.Incidents, nil, log)
	return svc, func() { _ = eng.Close() }, nil
}

const tokenAbout = `Works on the store directly (no running server or token needed), so it must
point at the same store as serve: --data DIR (default ./data) or --redis URL.`

func cmdTokenCreate(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("token create", "--role admin|manager|agent [--name NAME] [--data DIR | --redis URL]",
		"Creates an API token and prints it on the last line. herald keeps only its hash,\nso it cannot be shown again.\n\n"+tokenAbout)
	role := fs.String("role", "", "what the token may do, its `ROLE`: admin (everything), manager (components, incidents, maintenance) or agent (read) (required)")
	name := fs.String("name", "", "a `NAME` to recognise the token by (default: the role)")
	cf := newConfigFlags(fs, storeSettings...)
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	if !incident.Role(*role).Valid() {
		fs.Usage()
		if *role == "" {
			return &usageError{msg: "--role is required", shown: true}
		}
		return &usageError{msg: fmt.Sprintf("--role: want admin, manager or agent, got %q", *role), shown: true}
	}
	svc, closeStore, err := a.openForToken(ctx, cf, true)
	if err != nil {
		return err
	}
	defer closeStore()
	ctx = incident.WithActor(ctx, incident.Actor{Name: "cli"})
	var namesakes []*incident.Token
	if *name != "" {
		if namesakes, err = liveNamesakes(ctx, svc, *name); err != nil {
			return err
		}
	}
	secret, t, err := svc.CreateToken(ctx, *name, incident.Role(*role))
	if err != nil {
		return err
	}
	if len(namesakes) > 0 {
		// herald knows a person by name: complaints are given to, and
		// grants recorded under, the name, not the token. Said on stderr,
		// so that `| tail -n 1` still takes the secret.
		var ids []string
		for _, o := range namesakes {
			ids = append(ids, fmt.Sprintf("%s (%s)", o.ID, o.Role))
		}
		these := "both tokens act"
		if len(namesakes) > 1 {
			these = "these tokens all act"
		}
		fmt.Fprintf(a.stderr, "note: %q already has a token: %s. herald knows people by name, so %s as the same person (one complaint queue, one name on what they do). For another person, revoke this one (herald token revoke %s) and give them a name of their own.\n",
			t.Name, strings.Join(ids, ", "), these, t.ID)
	}
	fmt.Fprintf(a.stdout, "Created %s token %s (%q). Keep it secret; herald stores only its hash and cannot show it again:\n", t.Role, t.ID, t.Name)
	fmt.Fprintln(a.stdout, secret)
	return nil
}

// liveNamesakes are the unrevoked tokens whose name is name, ignoring
// case (as herald matches an agent's name).
func liveNamesakes(ctx context.Context, svc *incident.Service, name string) ([]*incident.Token, error) {
	tokens, err := svc.Tokens(ctx)
	if err != nil {
		return nil, err
	}
	var out []*incident.Token
	for _, t := range tokens {
		if t.RevokedAt == nil && strings.EqualFold(t.Name, name) {
			out = append(out, t)
		}
	}
	return out, nil
}

func cmdTokenList(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("token list", "[--data DIR | --redis URL]", "Lists API tokens (never their secrets).\n\n"+tokenAbout)
	all := fs.Bool("all", false, "include revoked tokens")
	cf := newConfigFlags(fs, storeSettings...)
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	svc, closeStore, err := a.openForToken(ctx, cf, false)
	if err != nil {
		return err
	}
	defer closeStore()
	tokens, err := svc.Tokens(ctx)
	if err != nil {
		return err
	}
	tw := newTable(a.stdout)
	fmt.Fprintln(tw, "ID\tNAME\tROLE\tCREATED (UTC)\tLAST USED (UTC)\tSTATE")
	stamp := func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04")
	}
	for _, t := range tokens {
		state := "active"
		if t.RevokedAt != nil {
			if !*all {
				continue
			}
			state = "revoked " + stamp(t.RevokedAt)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, stamp(&t.CreatedAt), stamp(t.LastUsedAt), state)
	}
	return tw.Flush()
}

func cmdTokenRevoke(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("token revoke", "ID... [--data DIR | --redis URL]", "Revokes tokens at once; requests with them get 401.\n\n"+tokenAbout)
	cf := newConfigFlags(fs, storeSettings...)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		fs.Usage()
		return &usageError{msg: "missing token ID (see `herald token list`)", shown: true}
	}
	svc, closeStore, err := a.openForToken(ctx, cf, false)
	if err != nil {
		return err
	}
	defer closeStore()
	ctx = incident.WithActor(ctx, incident.Actor{Name: "cli"})
	for _, id := range pos {
		if err := svc.RevokeToken(ctx, strings.TrimSpace(id)); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "revoked token %s\n", id)
	}
	return nil
}
