package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/heraldhq/herald/slackapp"
)

func cmdSlack(_ context.Context, a *app, args []string) error {
	fs := a.newFlagSet("slack", "manifest [--public-url URL] [--json]",
		`Prints the Slack app manifest for herald at its public URL (public_url, from
--public-url, HERALD_PUBLIC_URL or the config file): the /herald and /complaint
commands, the message shortcut, interactivity and the bot scopes. Paste it at
api.slack.com/apps → Create New App → From an app manifest.`)
	cf := newConfigFlags(fs, "public_url", "addr")
	asJSON := fs.Bool("json", false, "print JSON instead of YAML")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 || rest[0] != "manifest" {
		fs.Usage()
		return usageErrorf("want: herald slack manifest")
	}
	cfg, err := cf.load(a.getenv)
	if err != nil {
		return err
	}
	url := cfg.PublicURLFor(cfg.Addr)
	if !strings.HasPrefix(url, "https://") {
		fmt.Fprintf(a.stderr, "herald: Slack calls herald at %s, which is not a public https URL; set --public-url (or HERALD_PUBLIC_URL) to the address Slack can reach\n", url)
	}
	m := slackapp.Manifest(url)
	var out []byte
	if *asJSON {
		out, err = json.MarshalIndent(m, "", "  ")
		out = append(out, '\n')
	} else {
		out, err = yaml.Marshal(m)
	}
	if err != nil {
		return err
	}
	_, err = a.stdout.Write(out)
	return err
}
