package node

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/heraldhq/herald/server"
	"github.com/heraldhq/herald/store/redis"
)

// Defaults for every setting; configs/herald.example.yaml repeats them.
const (
	DefaultAddr            = "127.0.0.1:8080"
	DefaultDataDir         = "./data"
	DefaultLogLevel        = "info"
	DefaultLogFormat       = "text"
	DefaultBodyLimit       = 1 << 20 // 1 MiB: an update body is at most 10,000 characters
	DefaultShutdownTimeout = 10 * time.Second
)

// Config is what a Node runs with (`herald serve`, the bench, tests), and
// what `herald token` opens the store with. It is built in layers:
// DefaultConfig, then the YAML file (LoadFile), then HERALD_* environment
// variables (LoadEnv), then flags (package main, from Settings). Secrets
// never come from the YAML file: see Providers.
type Config struct {
	Addr string // host:port to listen on
	// Sandbox allows the built-in provider sandbox (no provider configured)
	// on an address that is not loopback; without it such a start is
	// refused, since the sandbox's inbox would be open to the network.
	Sandbox         bool
	DataDir         string         // SQLite engine: directory of herald.db
	RedisURL        string         // set: use the Redis engine instead of SQLite
	RedisPrefix     string         // Redis engine: start every key with this (several deployments can share one Redis)
	RedisSentinel   string         // Sentinel addresses (host:port,…): the Redis engine on the master RedisMaster names
	RedisMaster     string         // the master's name in the Sentinels' configuration
	RedisCluster    string         // Cluster node addresses (host:port,…): the Redis engine on a Redis Cluster
	PublicURL       string         // base URL of the status page; "" derives http://<addr>
	TrustedProxies  []netip.Prefix // reverse proxies whose X-Forwarded-* herald believes; none by default
	LogLevel        string         // debug, info, warn, error
	LogFormat       string         // text or json
	BodyLimit       int            // largest request body, bytes
	ShutdownTimeout time.Duration  // how long in-flight requests get on SIGINT/SIGTERM
	// Connection limits (server/conns.go, server/streams.go).
	MaxConns                 int // connections open at once; 0: the open-file limit less a reserve
	MaxConnsPerClient        int // connections from one address (not a trusted proxy's)
	MaxEventStreams          int // /events streams open at once
	MaxEventStreamsPerClient int // /events streams from one client address

	Broadcast  Broadcast    // the fan-out: policy, quiet hours, rates, SMS budget
	Complaints Complaints   // complaint SLA and assignment
	Surveys    Surveys      // follow-up surveys after resolution
	Email      InboundEmail // inbound email: the SMTP listener and its domains
	Slack      SlackApp     // the Slack front door: incident channel, roles
	Console    Console      // the web console's sessions
	Providers  Providers
}

// DefaultConfig returns the configuration herald runs with when nothing is set.
func DefaultConfig() Config {
	return Config{
		Addr:            DefaultAddr,
		DataDir:         DefaultDataDir,
		LogLevel:        DefaultLogLevel,
		LogFormat:       DefaultLogFormat,
		BodyLimit:       DefaultBodyLimit,
		ShutdownTimeout: DefaultShutdownTimeout,

		MaxConnsPerClient:        server.DefaultMaxConnsPerClient,
		MaxEventStreams:          server.DefaultMaxEventStreams,
		MaxEventStreamsPerClient: server.DefaultMaxEventStreamsPerClient,

		Broadcast:  DefaultBroadcast(),
		Complaints: DefaultComplaints(),
		Surveys:    DefaultSurveys(),
		Console:    DefaultConsole(),
	}
}

// Setting is one configuration key and the three names it goes by. The one
// table drives the YAML keys, the environment, the flags (registered by
// package main), the usage text and the test that the example file
// documents every key.
type Setting struct {
	Key   string // YAML key
	Env   string // environment variable
	Flag  string // command-line flag ("" when none)
	Usage string
	Set   func(string) error // parses and stores a value
	Get   func() string      // the value as it would be written
}

// Settings is the table of every setting but the providers', in the order
// usage and String list them; Set and Get act on c.
func (c *Config) Settings() []Setting {
	str := func(p *string) func(string) error { return func(v string) error { *p = v; return nil } }
	return append([]Setting{
		{"addr", "HERALD_ADDR", "addr", "the `HOST:PORT` herald listens on", str(&c.Addr), func() string { return c.Addr }},
		{"sandbox", "HERALD_SANDBOX", "", "", func(v string) error {
			ok, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("want true or false, got %q", v)
			}
			c.Sandbox = ok
			return nil
		}, func() string { return strconv.FormatBool(c.Sandbox) }},
		{"data_dir", "HERALD_DATA_DIR", "data", "SQLite engine: keep herald.db in `DIR`", str(&c.DataDir), func() string { return c.DataDir }},
		{"redis_url", "HERALD_REDIS_URL", "redis", "use the Redis engine at `URL` (redis://host:6379/0) instead of SQLite", str(&c.RedisURL), func() string { return c.RedisURL }},
		{"redis_sentinel", "HERALD_REDIS_SENTINEL", "redis-sentinel", "use the Redis engine on a Sentinel group: its `ADDRS` (host:port,…), with --redis-master", str(&c.RedisSentinel), func() string { return c.RedisSentinel }},
		{"redis_master", "HERALD_REDIS_MASTER", "redis-master", "the `NAME` of the master the Sentinels watch", str(&c.RedisMaster), func() string { return c.RedisMaster }},
		{"redis_cluster", "HERALD_REDIS_CLUSTER", "redis-cluster", "use the Redis engine on a Redis Cluster: some of its nodes' `ADDRS` (host:port,…)", str(&c.RedisCluster), func() string { return c.RedisCluster }},
		{"redis_prefix", "HERALD_REDIS_PREFIX", "redis-prefix", "Redis engine: start every key with `PREFIX` (default herald)", str(&c.RedisPrefix), func() string { return c.RedisPrefix }},
		{"public_url", "HERALD_PUBLIC_URL", "public-url", "public base `URL` of the status page (default http://ADDR)", str(&c.PublicURL), func() string { return c.PublicURL }},
		{"trusted_proxies", "HERALD_TRUSTED_PROXIES", "trusted-proxies", "believe X-Forwarded-For, -Proto and -Host from these proxies (`ADDRS`: addresses or CIDRs, comma-separated)", func(v string) error {
			p, err := server.ParseTrustedProxies(v)
			if err != nil {
				return err
			}
			c.TrustedProxies = p
			return nil
		}, func() string { return joinPrefixes(c.TrustedProxies) }},
		{"log_level", "HERALD_LOG_LEVEL", "log-level", "log `LEVEL`: debug, info, warn or error", str(&c.LogLevel), func() string { return c.LogLevel }},
		{"log_format", "HERALD_LOG_FORMAT", "log-format", "log `FORMAT`: text or json", str(&c.LogFormat), func() string { return c.LogFormat }},
		{"body_limit", "HERALD_BODY_LIMIT", "body-limit", "largest request body, e.g. 1MiB or 65536 (`SIZE`)", func(v string) error {
			n, err := parseSize(v)
			if err != nil {
				return err
			}
			c.BodyLimit = n
			return nil
		}, func() string { return strconv.Itoa(c.BodyLimit) }},
		{"shutdown_timeout", "HERALD_SHUTDOWN_TIMEOUT", "shutdown-timeout", "time in-flight requests get on shutdown (`DURATION`)", func(v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("not a duration (like 10s): %q", v)
			}
			c.ShutdownTimeout = d
			return nil
		}, func() string { return c.ShutdownTimeout.String() }},
		{"max_conns", "HERALD_MAX_CONNS", "max-conns", "hold at most `N` connections open, shedding new ones above (0: the open-file limit less a reserve)", count(&c.MaxConns, 0), func() string { return strconv.Itoa(c.MaxConns) }},
		{"max_conns_per_client", "HERALD_MAX_CONNS_PER_CLIENT", "max-conns-per-client", "hold at most `N` connections from one address (a trusted proxy's are not capped)", count(&c.MaxConnsPerClient, 1), func() string { return strconv.Itoa(c.MaxConnsPerClient) }},
		{"max_event_streams", "HERALD_MAX_EVENT_STREAMS", "max-event-streams", "hold at most `N` live-update streams (/events) open", count(&c.MaxEventStreams, 1), func() string { return strconv.Itoa(c.MaxEventStreams) }},
		{"max_event_streams_per_client", "HERALD_MAX_EVENT_STREAMS_PER_CLIENT", "max-event-streams-per-client", "hold at most `N` live-update streams from one client address", count(&c.MaxEventStreamsPerClient, 1), func() string { return strconv.Itoa(c.MaxEventStreamsPerClient) }},
	}, append(append(append(c.Broadcast.settings(), c.Complaints.settings()...), c.Surveys.settings()...), append(append(c.Email.settings(), c.Slack.settings()...), c.Console.settings()...)...)...)
}

// count parses a whole number of at least least into p.
func count(p *int, least int) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < least {
			return fmt.Errorf("want a whole number from %d, got %q", least, v)
		}
		*p = n
		return nil
	}
}

// joinPrefixes prints trusted_proxies: addresses alone, ranges as CIDRs.
func joinPrefixes(ps []netip.Prefix) string {
	var out []string
	for _, p := range ps {
		if p.IsSingleIP() {
			out = append(out, p.Addr().String())
		} else {
			out = append(out, p.String())
		}
	}
	return strings.Join(out, ", ")
}

// parseSize reads a byte count: 65536, 64KiB, 1MiB, 1MB, 512k.
func parseSize(v string) (int, error) {
	s := strings.TrimSpace(v)
	mult := 1
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"k", 1 << 10}, {"K", 1 << 10}, {"M", 1 << 20}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || n > (1<<31-1)/mult {
		return 0, fmt.Errorf("not a size (like 1MiB or 65536): %q", v)
	}
	return n * mult, nil
}

// LoadFile overlays the YAML file at path. Every key must be a known
// setting, so that a typo fails loudly instead of being ignored.
func (c *Config) LoadFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return c.loadYAML(path, b)
}

func (c *Config) loadYAML(name string, b []byte) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("config %s: %w", name, err)
	}
	if len(doc.Content) == 0 {
		return nil // only comments
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return fmt.Errorf("config %s: the top level must be a mapping of settings", name)
	}
	byKey := map[string]Setting{}
	for _, s := range c.Settings() {
		byKey[s.Key] = s
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		s, ok := byKey[k.Value]
		if !ok {
			if secretEnv(k.Value) {
				return fmt.Errorf("config %s:%d: %s is a secret: set it in the environment or a file (%s_FILE), not in the config file", name, k.Line, k.Value, envName(k.Value))
			}
			return fmt.Errorf("config %s:%d: unknown setting %q", name, k.Line, k.Value)
		}
		if v.Kind != yaml.ScalarNode {
			return fmt.Errorf("config %s:%d: %s must be a single value", name, v.Line, k.Value)
		}
		if v.Tag == "!!null" {
			continue
		}
		if err := s.Set(v.Value); err != nil {
			return fmt.Errorf("config %s:%d: %s: %w", name, v.Line, k.Value, err)
		}
	}
	return nil
}

// envName maps a YAML-style key to its HERALD_ variable.
func envName(key string) string { return "HERALD_" + strings.ToUpper(key) }

// LoadEnv overlays the HERALD_* variables that are set (non-empty), and
// reads the providers' settings, which come only from the environment (or
// a <VAR>_FILE).
func (c *Config) LoadEnv(getenv func(string) string) error {
	for _, s := range c.Settings() {
		if v := getenv(s.Env); v != "" {
			if err := s.Set(v); err != nil {
				return fmt.Errorf("%s: %w", s.Env, err)
			}
		}
	}
	return c.Providers.load(getenv)
}

// Validate reports the first setting that cannot work.
func (c *Config) Validate() error {
	if _, port, err := net.SplitHostPort(c.Addr); err != nil || port == "" {
		return fmt.Errorf("addr: want HOST:PORT, got %q", c.Addr)
	} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("addr: bad port in %q", c.Addr)
	}
	if err := c.composeRedis(); err != nil {
		return err
	}
	if c.RedisURL == "" && strings.TrimSpace(c.DataDir) == "" {
		return errors.New("data_dir: must not be empty (or set redis_url)")
	}
	if c.RedisURL != "" {
		if _, err := redis.ParseAddress(c.RedisURL); err != nil {
			return fmt.Errorf("redis_url: %w", err)
		}
	}
	if strings.ContainsAny(c.RedisPrefix, "{} ") {
		return fmt.Errorf("redis_prefix: must not contain braces or spaces, got %q", c.RedisPrefix)
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("public_url: want an absolute http(s) URL, got %q", c.PublicURL)
		}
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("log_format: want text or json, got %q", c.LogFormat)
	}
	if c.BodyLimit <= 0 {
		return fmt.Errorf("body_limit: must be positive")
	}
	if c.ShutdownTimeout <= 0 {
		return fmt.Errorf("shutdown_timeout: must be positive")
	}
	if c.MaxConns < 0 {
		return fmt.Errorf("max_conns: must not be negative (0: the open-file limit less a reserve)")
	}
	for _, v := range []struct {
		key string
		n   int
	}{{"max_conns_per_client", c.MaxConnsPerClient}, {"max_event_streams", c.MaxEventStreams}, {"max_event_streams_per_client", c.MaxEventStreamsPerClient}} {
		if v.n < 1 {
			return fmt.Errorf("%s: must be at least 1", v.key)
		}
	}
	if err := c.Broadcast.validate(); err != nil {
		return err
	}
	if err := c.Surveys.validate(); err != nil {
		return err
	}
	if err := c.Complaints.validate(); err != nil {
		return err
	}
	if err := c.Email.validate(); err != nil {
		return err
	}
	return c.Providers.validate()
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log_level: want debug, info, warn or error, got %q", s)
}

// PublicURLFor is the configured public URL, or http://<addr> with a
// loopback host for a wildcard listen address (0.0.0.0 is no address to
// link to).
func (c *Config) PublicURLFor(listenAddr string) string {
	if c.PublicURL != "" {
		return strings.TrimRight(c.PublicURL, "/")
	}
	host, port, err := net.SplitHostPort(listenAddr)
	if err != nil {
		return "http://" + listenAddr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// derivedURL reports whether u is an address PublicURLFor derives when no
// public URL is configured: http, a loopback host, a port, no path. No
// person gives customers such a link on purpose.
func derivedURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "http" || (p.Path != "" && p.Path != "/") || p.RawQuery != "" || p.Port() == "" {
		return false
	}
	if p.Hostname() == "localhost" {
		return true
	}
	ip := net.ParseIP(p.Hostname())
	return ip != nil && ip.IsLoopback()
}

// LogValue implements slog.LogValuer: the settings with the Redis password
// and every provider secret redacted, so the config can be logged whole.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("addr", c.Addr),
		slog.String("data_dir", c.DataDir),
		slog.String("redis_url", RedactURL(c.RedisURL)),
		slog.String("redis_prefix", c.RedisPrefix),
		slog.String("public_url", c.PublicURL),
		slog.String("trusted_proxies", joinPrefixes(c.TrustedProxies)),
		slog.String("log_level", c.LogLevel),
		slog.String("log_format", c.LogFormat),
		slog.Int("body_limit", c.BodyLimit),
		slog.Duration("shutdown_timeout", c.ShutdownTimeout),
		slog.Int("max_conns", c.MaxConns),
		slog.Int("max_conns_per_client", c.MaxConnsPerClient),
		slog.Int("max_event_streams", c.MaxEventStreams),
		slog.Int("max_event_streams_per_client", c.MaxEventStreamsPerClient),
		slog.Any("broadcast", c.Broadcast),
		slog.Any("complaints", c.Complaints),
		slog.String("inbound_smtp_addr", c.Email.SMTPAddr),
		slog.String("inbound_email_domains", c.Email.Domains),
		slog.Any("slack", c.Slack),
		slog.Any("providers", c.Providers),
	)
}

// String prints the settings one per line, secrets redacted.
func (c Config) String() string {
	var b strings.Builder
	for _, s := range c.Settings() {
		v := s.Get()
		if s.Key == "redis_url" {
			v = RedactURL(v)
		}
		fmt.Fprintf(&b, "%s: %s\n", s.Key, v)
	}
	b.WriteString(c.Providers.String())
	return b.String()
}

// RedactURL hides a Redis address's passwords (every form ParseAddress
// reads, including the multi-host ones net/url cannot parse).
func RedactURL(raw string) string { return redis.Redact(raw) }

// composeRedis turns redis_sentinel + redis_master or redis_cluster into
// the one Redis address the engine opens (redis_url), refusing two ways
// of naming the Redis at once. The data nodes' user and password come from
// redis_url's form only, or HERALD_REDIS_PASSWORD(_FILE).
func (c *Config) composeRedis() error {
	set := 0
	for _, v := range []string{c.RedisURL, c.RedisSentinel, c.RedisCluster} {
		if strings.TrimSpace(v) != "" {
			set++
		}
	}
	if set > 1 {
		return errors.New("redis_url, redis_sentinel and redis_cluster name the Redis three ways: set one")
	}
	if c.RedisMaster != "" && c.RedisSentinel == "" && !strings.HasPrefix(c.RedisURL, redis.SchemeSentinel) {
		return errors.New("redis_master: only with redis_sentinel")
	}
	hosts := func(key, v string) (string, error) {
		var out []string
		for _, h := range strings.Split(v, ",") {
			h = strings.TrimSpace(h)
			if host, port, err := net.SplitHostPort(h); err != nil || host == "" || port == "" {
				return "", fmt.Errorf("%s: want host:port[,host:port…], got %q", key, h)
			}
			out = append(out, h)
		}
		return strings.Join(out, ","), nil
	}
	switch {
	case c.RedisSentinel != "":
		if c.RedisMaster == "" {
			return errors.New("redis_master: name the master the Sentinels watch (--redis-master NAME)")
		}
		h, err := hosts("redis_sentinel", c.RedisSentinel)
		if err != nil {
			return err
		}
		c.RedisURL = redis.SchemeSentinel + "://" + h + "/" + url.PathEscape(c.RedisMaster)
		c.RedisSentinel, c.RedisMaster = "", ""
	case c.RedisCluster != "":
		h, err := hosts("redis_cluster", c.RedisCluster)
		if err != nil {
			return err
		}
		c.RedisURL = redis.SchemeCluster + "://" + h
		c.RedisCluster = ""
	}
	return nil
}

// Providers holds the settings of the message providers used by the
// broadcast feature. They come only from the environment, or for secrets
// from a file named by <VAR>_FILE (Docker and Kubernetes secrets), never from
// the YAML file, and they are redacted whenever printed.
type Providers struct {
	TwilioAccountSID          string
	TwilioAuthToken           string
	TwilioFrom                string
	TwilioMessagingServiceSID string
	TwilioAPIURL              string
	SMTPAddr                  string
	SMTPUsername              string
	SMTPPassword              string
	SMTPFrom                  string
	SlackToken                string
	SlackAPIURL               string
	SlackSigningSecret        string
	TwilioMaxPrice            string
	SMTPTLS                   string
	WebhookSecret             string
	// InboundEmailSecret is the HTTP Basic credential ("user:password",
	// or a password alone) an email provider posts inbound mail with.
	InboundEmailSecret string
	// RedisPassword, when set, is the Redis data nodes' password,
	// replacing any in redis_url (so the URL need hold no secret).
	RedisPassword string
}

type providerVar struct {
	env    string
	dst    *string
	secret bool
}

func (p *Providers) vars() []providerVar {
	return []providerVar{
		{"HERALD_REDIS_PASSWORD", &p.RedisPassword, true},
		{"HERALD_TWILIO_ACCOUNT_SID", &p.TwilioAccountSID, false},
		{"HERALD_TWILIO_AUTH_TOKEN", &p.TwilioAuthToken, true},
		{"HERALD_TWILIO_FROM", &p.TwilioFrom, false},
		{"HERALD_TWILIO_MESSAGING_SERVICE_SID", &p.TwilioMessagingServiceSID, false},
		{"HERALD_TWILIO_API_URL", &p.TwilioAPIURL, false},
		{"HERALD_SMTP_ADDR", &p.SMTPAddr, false},
		{"HERALD_SMTP_USERNAME", &p.SMTPUsername, false},
		{"HERALD_SMTP_PASSWORD", &p.SMTPPassword, true},
		{"HERALD_SMTP_FROM", &p.SMTPFrom, false},
		{"HERALD_SLACK_TOKEN", &p.SlackToken, true},
		{"HERALD_SLACK_API_URL", &p.SlackAPIURL, false},
		{"HERALD_SLACK_SIGNING_SECRET", &p.SlackSigningSecret, true},
		{"HERALD_TWILIO_MAX_PRICE", &p.TwilioMaxPrice, false},
		{"HERALD_SMTP_TLS", &p.SMTPTLS, false},
		{"HERALD_WEBHOOK_SECRET", &p.WebhookSecret, true},
		{"HERALD_INBOUND_EMAIL_SECRET", &p.InboundEmailSecret, true},
	}
}

// secretEnv reports whether a YAML key names a provider setting, which
// belongs in the environment.
func secretEnv(key string) bool {
	var p Providers
	for _, v := range p.vars() {
		if v.env == envName(key) {
			return true
		}
	}
	return false
}

func (p *Providers) load(getenv func(string) string) error {
	for _, v := range p.vars() {
		val := getenv(v.env)
		if file := getenv(v.env + "_FILE"); file != "" {
			if val != "" {
				return fmt.Errorf("%s and %s_FILE are both set: choose one", v.env, v.env)
			}
			b, err := os.ReadFile(file)
			if err != nil {
				return fmt.Errorf("%s_FILE: %w", v.env, err)
			}
			val = strings.TrimRight(string(b), "\r\n")
		}
		if val != "" {
			*v.dst = val
		}
	}
	return nil
}

func (p Providers) redacted() [][2]string {
	var out [][2]string
	for _, v := range p.vars() {
		val := *v.dst
		if val == "" {
			continue
		}
		if v.secret {
			val = "[redacted]"
		}
		out = append(out, [2]string{strings.ToLower(strings.TrimPrefix(v.env, "HERALD_")), val})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// LogValue implements slog.LogValuer with secrets redacted.
func (p Providers) LogValue() slog.Value {
	var attrs []slog.Attr
	for _, kv := range p.redacted() {
		attrs = append(attrs, slog.String(kv[0], kv[1]))
	}
	return slog.GroupValue(attrs...)
}

// String lists the providers' settings that are set, secrets redacted.
func (p Providers) String() string {
	var b strings.Builder
	for _, kv := range p.redacted() {
		fmt.Fprintf(&b, "%s: %s\n", kv[0], kv[1])
	}
	return b.String()
}
