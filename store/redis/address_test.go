package redis

import (
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

func TestParseAddress(t *testing.T) {
	t.Run("single", func(t *testing.T) {
		a, err := ParseAddress("redis://herald:s3cret@10.0.0.5:6380/2?dial_timeout=3s&pool_size=40")
		if err != nil {
			t.Fatal(err)
		}
		o := a.single
		if a.Kind() != "single" || o.Addr != "10.0.0.5:6380" || o.DB != 2 || o.Username != "herald" || o.Password != "s3cret" ||
			o.DialTimeout != 3*time.Second || o.PoolSize != 40 || o.TLSConfig != nil {
			t.Errorf("got %+v", o)
		}
		if _, ok := a.NewClient().(*goredis.Client); !ok {
			t.Errorf("single: client %T", a.NewClient())
		}
		tls, err := ParseAddress("rediss://:pw@redis.example.com:6380")
		if err != nil || tls.single.TLSConfig == nil || tls.single.TLSConfig.ServerName != "redis.example.com" || tls.single.Password != "pw" {
			t.Errorf("rediss: %+v, %v", tls.single, err)
		}
	})
	t.Run("sentinel", func(t *testing.T) {
		a, err := ParseAddress("redis-sentinel://app:p%40ss@s1:26379,s2:26379,[::1]:26380/mymaster/3?sentinel_password=sp&read_timeout=2s")
		if err != nil {
			t.Fatal(err)
		}
		o := a.failover
		want := []string{"s1:26379", "s2:26379", "[::1]:26380"}
		if a.Kind() != "sentinel" || strings.Join(o.SentinelAddrs, " ") != strings.Join(want, " ") || o.MasterName != "mymaster" || o.DB != 3 ||
			o.Username != "app" || o.Password != "p@ss" || o.SentinelPassword != "sp" || o.SentinelUsername != "" || o.ReadTimeout != 2*time.Second || o.TLSConfig != nil {
			t.Errorf("got %+v", o)
		}
		tls, err := ParseAddress("rediss-sentinel://s1:26379?master_name=m")
		if err != nil || tls.failover.TLSConfig == nil || tls.failover.MasterName != "m" {
			t.Errorf("rediss-sentinel with master_name: %+v, %v", tls.failover, err)
		}
		a.SetPassword("from-file")
		if a.failover.Password != "from-file" || a.failover.Username != "app" {
			t.Errorf("SetPassword: %+v", a.failover)
		}
	})
	t.Run("cluster", func(t *testing.T) {
		a, err := ParseAddress("redis-cluster://:pw@n1:7000,n2:7001,n3:7002?max_redirects=5")
		if err != nil {
			t.Fatal(err)
		}
		o := a.cluster
		if a.Kind() != "cluster" || strings.Join(o.Addrs, " ") != "n1:7000 n2:7001 n3:7002" || o.Password != "pw" || o.MaxRedirects != 5 || o.TLSConfig != nil {
			t.Errorf("got %+v", o)
		}
		if _, ok := a.NewClient().(*goredis.ClusterClient); !ok {
			t.Errorf("cluster: client %T", a.NewClient())
		}
		tls, err := ParseAddress("rediss-cluster://n1:7000")
		if err != nil || tls.cluster.TLSConfig == nil {
			t.Errorf("rediss-cluster: %+v, %v", tls.cluster, err)
		}
	})
	for _, bad := range []struct{ url, want string }{
		{"", "want redis://"},
		{"127.0.0.1:6379", "want redis://"},
		{"http://127.0.0.1:6379", "unknown scheme"},
		{"redis-sentinel://s1:26379", "name the master"},
		{"redis-sentinel://s1:26379/m/0/x", "want /MASTER or /MASTER/DB"},
		{"redis-sentinel://s1:26379/m/notanumber", "database"},
		{"redis-sentinel://s1/m", "want host:port"},
		{"redis-sentinel://s1:26379,/m", "want host:port"},
		{"redis-cluster://", "no host"},
		{"redis-cluster://n1:7000/2", "no database number"},
		{"redis-cluster://n1:7000?no_such_option=1", "no_such_option"},
		{"redis://127.0.0.1:6379?no_such_option=1", "no_such_option"},
		{"redis-sentinel://:hunter2@s1:26379/m?bogus=1", "bogus"},
	} {
		_, err := ParseAddress(bad.url)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("ParseAddress(%q) = %v, want an error about %q", bad.url, err, bad.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("ParseAddress(%q): error shows the password: %v", bad.url, err)
		}
	}
}

func TestRedact(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"},
		{"redis://:hunter2@127.0.0.1:6379/0", "redis://:redacted@127.0.0.1:6379/0"},
		{"rediss://herald:hunter2@h:6380", "rediss://herald:redacted@h:6380"},
		{"redis-sentinel://app:hunter2@s1:26379,s2:26379/mymaster?sentinel_password=hunter2",
			"redis-sentinel://app:redacted@s1:26379,s2:26379/mymaster?sentinel_password=redacted"},
		{"redis-cluster://:hun@ter2@n1:7000,n2:7001", "redis-cluster://:redacted@n1:7000,n2:7001"},
		{"redis://h:6379?password=hunter2", "redis://h:6379?password=redacted"},
		{"user:hunter2@h:6379", "redacted"},
	} {
		got := Redact(tt.in)
		if got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if strings.Contains(got, "hunter2") || strings.Contains(got, "ter2") {
			t.Errorf("Redact(%q) = %q: the password shows", tt.in, got)
		}
		a, err := ParseAddress(tt.in)
		if err == nil && strings.Contains(a.String(), "ter2") {
			t.Errorf("Address(%q).String() = %q: the password shows", tt.in, a)
		}
	}
}
