package main

import (
	"context"
	"fmt"
	"io"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/node"
	"github.com/heraldhq/herald/sandbox"
)

// benchURL is the public URL of the bench's nodes: what message links
// point at. It is not a loopback URL, so the sandbox's Twilio sends no
// status callbacks to the node and the figures count sending alone.
const benchURL = "https://status.acme.test"

// sqliteConfig is the config of a bench node on SQLite under dir: herald's
// defaults, listening on a free loopback port, with no provider rate
// limits (a scenario that wants one sets it).
func sqliteConfig(dir string) node.Config {
	c := node.DefaultConfig()
	c.Addr = "127.0.0.1:0"
	c.DataDir = dir
	c.Broadcast.SMSRate, c.Broadcast.EmailRate = 0, 0
	return c
}

// redisConfig is sqliteConfig on the Redis at url, every key under prefix.
func redisConfig(url, prefix string) node.Config {
	c := sqliteConfig("")
	c.RedisURL, c.RedisPrefix = url, prefix
	return c
}

// withSandbox points cfg's Twilio and SMTP providers at sb, as `herald
// sandbox` prints them, so the node sends there in configured-provider mode.
func withSandbox(cfg node.Config, sb *sandbox.Sandbox) node.Config {
	return withProviders(cfg, sb.TwilioURL(), sb.SMTPAddr())
}

// withProviders is withSandbox for a sandbox in another process.
func withProviders(cfg node.Config, twilioURL, smtpAddr string) node.Config {
	p := &cfg.Providers
	p.TwilioAccountSID, p.TwilioAuthToken, p.TwilioFrom, p.TwilioAPIURL = sandbox.DefaultAccountSID, sandbox.DefaultAuthToken, "+15005550006", twilioURL
	p.SMTPAddr, p.SMTPFrom, p.SMTPTLS = smtpAddr, "Acme Status <status@acme.test>", "none"
	return cfg
}

// dropRedisPrefix deletes every key under prefix, the bench's leftovers.
func dropRedisPrefix(url, prefix string, stderr io.Writer) {
	o, err := goredis.ParseURL(url)
	if err != nil {
		return
	}
	rdb := goredis.NewClient(o)
	defer rdb.Close()
	// A plan of two million deliveries leaves millions of keys, which a
	// busy machine takes minutes to delete: a shorter limit left them in
	// the shared Redis.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	iter := rdb.Scan(ctx, 0, prefix+"*", 5000).Iterator()
	var keys []string
	flush := func() {
		if len(keys) > 0 {
			if err := rdb.Unlink(ctx, keys...).Err(); err != nil {
				fmt.Fprintf(stderr, "herald-bench: delete keys of %s: %v\n", prefix, err)
			}
			keys = keys[:0]
		}
	}
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
		if len(keys) == 1000 {
			flush()
		}
	}
	flush()
	if err := iter.Err(); err != nil {
		fmt.Fprintf(stderr, "herald-bench: delete keys of %s: %v (some are left)\n", prefix, err)
	}
}
