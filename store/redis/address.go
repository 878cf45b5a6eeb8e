package redis

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// Address says where the Redis engine lives and how to reach it: one Redis,
// a Sentinel group watching a master and its replicas, or a Cluster. It is
// read from a URL by ParseAddress; go-redis parses each kind's options
// (timeouts, pool sizes, TLS) with its own URL parser.
type Address struct {
	kind     string // "single", "sentinel" or "cluster"
	single   *goredis.Options
	failover *goredis.FailoverOptions
	cluster  *goredis.ClusterOptions
	redacted string
}

// The URL schemes ParseAddress reads. The "s" forms use TLS.
const (
	SchemeSingle   = "redis"          // redis://[user:pass@]host:port[/db][?options]
	SchemeSentinel = "redis-sentinel" // redis-sentinel://[user:pass@]host:port[,host:port…]/MASTER[/db][?options]
	SchemeCluster  = "redis-cluster"  // redis-cluster://[user:pass@]host:port[,host:port…][?options]
)

// ParseAddress reads a Redis address:
//
//	redis://[user:pass@]host:port[/db][?options]       one Redis (rediss:// with TLS; unix:///path.sock)
//	redis-sentinel://[user:pass@]h:p[,h:p…]/MASTER[/db] a Sentinel group (rediss-sentinel:// with TLS)
//	redis-cluster://[user:pass@]h:p[,h:p…]              a Cluster, any of its nodes (rediss-cluster:// with TLS)
//
// The user and password are the data nodes' (an ACL user, or the password
// alone); a Sentinel that wants its own gives them as the options
// sentinel_username and sentinel_password. Every other option is go-redis's
// own (dial_timeout, read_timeout, pool_size, skip_verify, …): an unknown
// one is an error, not silently ignored.
func ParseAddress(raw string) (Address, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return Address{}, fmt.Errorf("redis address: want redis://host:port, redis-sentinel://host:port/MASTER or redis-cluster://host:port, got %q", Redact(raw))
	}
	switch scheme {
	case "redis", "rediss", "unix":
		o, err := goredis.ParseURL(raw)
		if err != nil {
			return Address{}, fmt.Errorf("redis address %s: %w", Redact(raw), err)
		}
		return Address{kind: "single", single: o, redacted: Redact(raw)}, nil
	case SchemeSentinel, "rediss-sentinel", SchemeCluster, "rediss-cluster":
	default:
		return Address{}, fmt.Errorf("redis address: unknown scheme %q: want redis, rediss, unix, redis-sentinel, rediss-sentinel, redis-cluster or rediss-cluster", scheme)
	}
	tls := strings.HasPrefix(scheme, "rediss")
	m, err := splitMulti(rest)
	if err != nil {
		return Address{}, fmt.Errorf("redis address %s: %w", Redact(raw), err)
	}
	// go-redis reads the first host from the URL and the others from addr
	// options; build that URL and let it parse every option.
	base := "redis"
	if tls {
		base = "rediss"
	}
	q := m.query
	sentinelUser, sentinelPass := q.Get("sentinel_username"), q.Get("sentinel_password")
	q.Del("sentinel_username")
	q.Del("sentinel_password")
	for _, h := range m.hosts[1:] {
		q.Add("addr", h)
	}
	u := url.URL{Scheme: base, Host: m.hosts[0]}
	if strings.HasPrefix(scheme, SchemeCluster) || strings.HasPrefix(scheme, "rediss-cluster") {
		if len(m.path) > 0 {
			return Address{}, fmt.Errorf("redis address %s: a cluster has no database number or master name in the path (Redis Cluster has only database 0)", Redact(raw))
		}
		u.User = m.user
		u.RawQuery = q.Encode()
		o, err := goredis.ParseClusterURL(u.String())
		if err != nil {
			return Address{}, fmt.Errorf("redis address %s: %w", Redact(raw), err)
		}
		return Address{kind: "cluster", cluster: o, redacted: Redact(raw)}, nil
	}
	// Sentinel: the path is /MASTER[/db]; the userinfo is the data nodes'.
	switch {
	case len(m.path) == 0 && q.Get("master_name") == "":
		return Address{}, fmt.Errorf("redis address %s: name the master the Sentinels watch: redis-sentinel://host:port/MASTER", Redact(raw))
	case len(m.path) > 2:
		return Address{}, fmt.Errorf("redis address %s: want /MASTER or /MASTER/DB after the hosts", Redact(raw))
	}
	if len(m.path) >= 1 {
		q.Set("master_name", m.path[0])
	}
	if len(m.path) == 2 {
		q.Set("db", m.path[1])
	}
	u.RawQuery = q.Encode()
	o, err := goredis.ParseFailoverURL(u.String())
	if err != nil {
		return Address{}, fmt.Errorf("redis address %s: %w", Redact(raw), err)
	}
	if m.user != nil {
		o.Username = m.user.Username()
		o.Password, _ = m.user.Password()
	}
	o.SentinelUsername, o.SentinelPassword = sentinelUser, sentinelPass
	return Address{kind: "sentinel", failover: o, redacted: Redact(raw)}, nil
}

// SetPassword replaces the data nodes' password (read from a secret file,
// say), keeping the user the address names.
func (a *Address) SetPassword(password string) {
	switch a.kind {
	case "single":
		a.single.Password = password
	case "sentinel":
		a.failover.Password = password
	case "cluster":
		a.cluster.Password = password
	}
}

// Kind is "single", "sentinel" or "cluster".
func (a Address) Kind() string { return a.kind }

// String is the address with any password replaced, for logs.
func (a Address) String() string { return a.redacted }

// NewClient returns a client for the address: a *goredis.Client (one Redis,
// or the master a Sentinel group names, following failovers) or a
// *goredis.ClusterClient.
func (a Address) NewClient() goredis.UniversalClient {
	switch a.kind {
	case "sentinel":
		return goredis.NewFailoverClient(a.failover)
	case "cluster":
		return goredis.NewClusterClient(a.cluster)
	default:
		return goredis.NewClient(a.single)
	}
}

type multiURL struct {
	user  *url.Userinfo
	hosts []string
	path  []string
	query url.Values
}

// splitMulti splits the part of a multi-host URL after "scheme://":
// [user[:pass]@]host:port[,host:port…][/a[/b]][?query].
func splitMulti(rest string) (multiURL, error) {
	var m multiURL
	rest, rawQuery, _ := strings.Cut(rest, "?")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return m, fmt.Errorf("options: %w", err)
	}
	m.query = q
	authority, path, _ := strings.Cut(rest, "/")
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		userinfo := authority[:i]
		authority = authority[i+1:]
		name, pass, hasPass := strings.Cut(userinfo, ":")
		var err1, err2 error
		if name, err1 = url.PathUnescape(name); err1 == nil && hasPass {
			pass, err2 = url.PathUnescape(pass)
		}
		if err := errors.Join(err1, err2); err != nil {
			return m, fmt.Errorf("user and password: %w", err)
		}
		if hasPass {
			m.user = url.UserPassword(name, pass)
		} else {
			m.user = url.User(name)
		}
	}
	if authority == "" {
		return m, errors.New("no host: want host:port[,host:port…]")
	}
	for _, h := range strings.Split(authority, ",") {
		host, port, err := net.SplitHostPort(h)
		if err != nil || host == "" || port == "" {
			return m, fmt.Errorf("host %q: want host:port", h)
		}
		m.hosts = append(m.hosts, net.JoinHostPort(host, port))
	}
	for _, p := range strings.Split(path, "/") {
		if p != "" {
			p, err := url.PathUnescape(p)
			if err != nil {
				return m, fmt.Errorf("path: %w", err)
			}
			m.path = append(m.path, p)
		}
	}
	return m, nil
}

// Redact returns a Redis address with its passwords replaced by
// "redacted", for logs and errors. It works on the multi-host forms that
// net/url cannot parse, and on the sentinel_password option; when it cannot
// find the password's end, it hides everything after the scheme.
func Redact(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		if strings.ContainsAny(raw, "@:") {
			return "redacted"
		}
		return raw
	}
	rest, rawQuery, hasQuery := strings.Cut(rest, "?")
	authority, path, hasPath := strings.Cut(rest, "/")
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		if name, _, hasPass := strings.Cut(authority[:i], ":"); hasPass {
			authority = name + ":redacted" + authority[i:]
		}
	}
	out := scheme + "://" + authority
	if hasPath {
		out += "/" + path
	}
	if hasQuery {
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return scheme + "://redacted"
		}
		for _, k := range []string{"password", "sentinel_password"} {
			if q.Has(k) {
				q.Set(k, "redacted")
			}
		}
		out += "?" + q.Encode()
	}
	return out
}
