package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/node"
)

// configFlags registers the engine and server flags on fs. They are applied
// by load after parsing, over the file and the environment, so only
// the flags actually given override anything.
type configFlags struct {
	fs     *flag.FlagSet
	config string
	vals   map[string]*string
	keys   []string // the settings registered, in table order
	// ignored names the engine settings from the file or environment that
	// an engine flag on the command line set aside (load), for serve to
	// say so: two nodes started with --data and HERALD_REDIS_URL would
	// otherwise each run alone, silently.
	ignored []string
}

func newConfigFlags(fs *flag.FlagSet, keys ...string) *configFlags {
	cf := &configFlags{fs: fs, vals: map[string]*string{}}
	fs.StringVar(&cf.config, "config", "", "read settings from the YAML `FILE` (env HERALD_CONFIG)")
	var c node.Config
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = true
	}
	for _, s := range c.Settings() {
		if s.Flag == "" || (len(keys) > 0 && !want[s.Key]) {
			continue
		}
		v := new(string)
		fs.StringVar(v, s.Flag, "", s.Usage+" (env "+s.Env+")")
		cf.vals[s.Flag] = v
		cf.keys = append(cf.keys, s.Key)
	}
	return cf
}

// load builds the Config: defaults → file (--config or HERALD_CONFIG) →
// env → the flags given.
func (cf *configFlags) load(getenv func(string) string) (node.Config, error) {
	c := node.DefaultConfig()
	path := cf.config
	if path == "" {
		path = getenv("HERALD_CONFIG")
	}
	if path != "" {
		if err := c.LoadFile(path); err != nil {
			return c, err
		}
	}
	if err := c.LoadEnv(getenv); err != nil {
		return c, err
	}
	given := map[string]bool{}
	cf.fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, s := range c.Settings() {
		if v, ok := cf.vals[s.Flag]; ok && given[s.Flag] {
			if err := s.Set(*v); err != nil {
				return c, usageErrorf("--%s: %v", s.Flag, err)
			}
		}
	}
	// --redis and --data choose the engine: a --data given on the command
	// line means SQLite even when HERALD_REDIS_URL is set in the environment.
	// Likewise one of --redis, --redis-sentinel and --redis-cluster on the
	// command line replaces the others' values from the environment.
	redisGiven := given["redis"] || given["redis-sentinel"] || given["redis-cluster"]
	if given["data"] && !redisGiven {
		for _, s := range []struct{ name, value string }{{"redis_url", c.RedisURL}, {"redis_sentinel", c.RedisSentinel}, {"redis_cluster", c.RedisCluster}} {
			if s.value != "" {
				cf.ignored = append(cf.ignored, s.name)
			}
		}
		c.RedisURL, c.RedisSentinel, c.RedisMaster, c.RedisCluster = "", "", "", ""
	}
	if redisGiven {
		if !given["redis"] {
			c.RedisURL = ""
		}
		if !given["redis-sentinel"] {
			c.RedisSentinel = ""
			if !given["redis-master"] {
				c.RedisMaster = ""
			}
		}
		if !given["redis-cluster"] {
			c.RedisCluster = ""
		}
	}
	return c, c.Validate()
}

// storeSettings are the settings that say which store to open, for the
// commands that work on the store directly (token).
var storeSettings = []string{"data_dir", "redis_url", "redis_sentinel", "redis_master", "redis_cluster", "redis_prefix"}

// enumValue is a flag that takes one of a fixed list of values: any other
// is a usage error that lists them, as --component's statuses are
// checked, before anything is sent.
type enumValue[T ~string] struct {
	val     *T
	allowed []T
}

// enumFlag defines a flag whose value must be one of allowed; usage
// names them after its text. The value is "" until the flag is given.
func enumFlag[T ~string](fs *flag.FlagSet, name, usage string, allowed []T) *T {
	return enumFlagSaying(fs, name, usage+" "+incident.Join(allowed), allowed)
}

// enumFlagSaying is enumFlag whose usage lists the values itself (grouped,
// say), as the whole of usage.
func enumFlagSaying[T ~string](fs *flag.FlagSet, name, usage string, allowed []T) *T {
	v := &enumValue[T]{val: new(T), allowed: allowed}
	fs.Var(v, name, usage)
	return v.val
}

func (e *enumValue[T]) String() string {
	if e.val == nil {
		return ""
	}
	return string(*e.val)
}

// Set implements flag.Value.
func (e *enumValue[T]) Set(s string) error {
	for _, v := range e.allowed {
		if string(v) == s {
			*e.val = v
			return nil
		}
	}
	return fmt.Errorf("want one of %s", incident.Join(e.allowed))
}

// stringEnum is enumValue for a flag that fills a plain string (a wire
// field) and may have a default.
type stringEnum[T ~string] struct {
	val     *string
	allowed []T
}

// enumStringVar defines a flag that stores into p (whose value is the
// default) and takes only one of allowed, listed after usage.
func enumStringVar[T ~string](fs *flag.FlagSet, p *string, name, usage string, allowed []T) {
	fs.Var(&stringEnum[T]{val: p, allowed: allowed}, name, usage+" "+incident.Join(allowed))
}

func (e *stringEnum[T]) String() string {
	if e.val == nil {
		return ""
	}
	return *e.val
}

// Set implements flag.Value.
func (e *stringEnum[T]) Set(s string) error {
	for _, v := range e.allowed {
		if string(v) == s {
			*e.val = s
			return nil
		}
	}
	return fmt.Errorf("want one of %s", incident.Join(e.allowed))
}

// enumList is a flag that takes a comma-separated list of values from a
// fixed list (complaints list --state new,acknowledged).
type enumList[T ~string] struct {
	val     *string
	allowed []T
}

// enumListFlag defines such a flag; its value is the list as given, ""
// until the flag is given.
func enumListFlag[T ~string](fs *flag.FlagSet, name, usage string, allowed []T) *string {
	v := &enumList[T]{val: new(string), allowed: allowed}
	fs.Var(v, name, usage+" "+incident.Join(allowed))
	return v.val
}

func (e *enumList[T]) String() string {
	if e.val == nil {
		return ""
	}
	return *e.val
}

// Set implements flag.Value.
func (e *enumList[T]) Set(s string) error {
	var out []string
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		ok := false
		for _, v := range e.allowed {
			ok = ok || string(v) == part
		}
		if !ok {
			return fmt.Errorf("%q is not one of %s", part, incident.Join(e.allowed))
		}
		out = append(out, part)
	}
	if len(out) == 0 {
		return fmt.Errorf("want one or more of %s, comma-separated", incident.Join(e.allowed))
	}
	*e.val = strings.Join(out, ",")
	return nil
}
