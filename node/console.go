package node

import (
	"fmt"
	"strings"
	"time"

	"github.com/heraldhq/herald/console"
	"github.com/heraldhq/herald/locale"
)

// Console holds the web console's session settings.
type Console struct {
	IdleTimeout time.Duration // a session unused this long ends
	MaxAge      time.Duration // a session ends this long after sign-in
}

// DefaultConsole returns the console settings herald runs with when nothing is set.
func DefaultConsole() Console {
	return Console{IdleTimeout: console.DefaultIdleTimeout, MaxAge: console.DefaultMaxAge}
}

func (k *Console) settings() []Setting {
	dur := func(p *time.Duration) func(string) error {
		return func(v string) error {
			d, err := time.ParseDuration(strings.TrimSpace(v))
			if err != nil || d < time.Minute {
				return fmt.Errorf("want a duration of a minute or more (like 30m), got %q", v)
			}
			*p = d
			return nil
		}
	}
	return []Setting{
		{"console_idle_timeout", "HERALD_CONSOLE_IDLE_TIMEOUT", "", "", dur(&k.IdleTimeout), func() string { return k.IdleTimeout.String() }},
		{"console_max_age", "HERALD_CONSOLE_MAX_AGE", "", "", dur(&k.MaxAge), func() string { return k.MaxAge.String() }},
	}
}

// buildConsole mounts the web console, last, so it sees every service.
func (a *Node) buildConsole() error {
	words, err := locale.Default()
	if err != nil {
		return err
	}
	return a.Server.EnableConsole(console.Config{Sessions: a.Engine.Sessions, Events: a.Engine.Events, Words: words,
		PublicURL: a.URL, IdleTimeout: a.Config.Console.IdleTimeout, MaxAge: a.Config.Console.MaxAge, Log: a.Log})
}
