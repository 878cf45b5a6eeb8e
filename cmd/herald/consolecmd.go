package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/heraldhq/herald/console"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/node"
)

// The console commands work on the store directly, like the token
// commands: a sign-in link carries a new token.

func cmdConsole(ctx context.Context, a *app, args []string) error {
	return subcommand(ctx, a, "console", args, map[string]func(context.Context, *app, []string) error{
		"link": cmdConsoleLink,
	})
}

func cmdConsoleLink(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("console link", "--role admin|manager|agent --name NAME [--valid 15m] [--data DIR | --redis URL]",
		"Prints, on the last line, a one-time link that signs its holder in to the web\nconsole as NAME with ROLE: with the live token NAME has with ROLE, or a new one.\nSend it to the person; it works once, within --valid. Revoke the token (herald\ntoken revoke) to end their sessions.\n\n"+tokenAbout)
	role := fs.String("role", "", "what the person may do, their `ROLE`: admin, manager or agent (required)")
	name := fs.String("name", "", "the person's `NAME`, shown in the console and the audit log (required)")
	valid := fs.Duration("valid", console.DefaultLinkLifetime, "how long the link may be used (`DURATION`)")
	server := fs.String("url", "", "the `URL` the server is reached at, which the link points to (env HERALD_URL; default: the public URL, else the page's URL, else http://ADDR)")
	cf := newConfigFlags(fs, "data_dir", "redis_url", "redis_prefix", "public_url", "addr")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	if !incident.Role(*role).Valid() {
		fs.Usage()
		return &usageError{msg: fmt.Sprintf("--role: want admin, manager or agent, got %q", *role), shown: true}
	}
	if *name == "" {
		fs.Usage()
		return &usageError{msg: "--name is required", shown: true}
	}
	if *valid < time.Minute || *valid > 7*24*time.Hour {
		return &usageError{msg: "--valid: want between 1m and 168h"}
	}
	cfg, err := cf.load(a.getenv)
	if err != nil {
		return err
	}
	cfg.LogLevel = "warn"
	log := node.NewLogger(a.stderr, cfg)
	eng, err := node.OpenEngine(ctx, cfg, nil)
	if err != nil {
		return err
	}
	defer eng.Close()
	svc := incident.NewService(eng.Incidents, nil, log)
	ctx = incident.WithActor(ctx, incident.Actor{Name: "cli"})
	secret, tok, created, err := console.CreateSignInLink(ctx, svc, eng.Sessions, *name, incident.Role(*role), *valid)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(a.stdout, "Created %s token %s (%q) and a one-time console sign-in link, valid for %s:\n", tok.Role, tok.ID, tok.Name, *valid)
	} else {
		fmt.Fprintf(a.stdout, "A one-time console sign-in link for %q's %s token %s (made %s UTC), valid for %s:\n", tok.Name, tok.Role, tok.ID, tok.CreatedAt.UTC().Format("2006-01-02 15:04"), *valid)
	}
	base, err := linkBase(ctx, svc, firstNonEmpty(*server, a.getenv("HERALD_URL")), cfg)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, base+console.Prefix+"/link/"+secret)
	return nil
}

// linkBase is the address a sign-in link points to, the one the server is
// reached at: --url or HERALD_URL (what the other commands reach it at),
// else the configured public URL, else the URL the server gave its first
// page when it started (its public URL, or the address it listened on),
// else the listen address. --addr alone would say 8080 for a server that
// runs elsewhere and was started with its own --addr.
func linkBase(ctx context.Context, svc *incident.Service, server string, cfg node.Config) (string, error) {
	if server != "" {
		return serverURL(server, "--url")
	}
	if cfg.PublicURL != "" {
		return cfg.PublicURLFor(cfg.Addr), nil
	}
	pages, err := svc.Pages(ctx)
	if err != nil {
		return "", err
	}
	if len(pages) > 0 && pages[0].URL != "" {
		return strings.TrimRight(pages[0].URL, "/"), nil
	}
	return cfg.PublicURLFor(cfg.Addr), nil
}
