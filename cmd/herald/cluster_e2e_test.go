package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/store/redis/redistest"
)

// TestThreeNodesOnCluster runs three herald nodes on a real three-master
// Redis Cluster, opened as an operator would (--redis-cluster with the
// nodes' addresses): a broadcast declared on one node is dispatched by all
// of them, every recipient gets each message once (the nodes' sandboxes
// together hold exactly one per recipient and channel), and a resolve on
// another node reaches every node's page.
func TestThreeNodesOnCluster(t *testing.T) {
	nodes := redistest.StartCluster(t)
	var hosts []string
	for _, p := range nodes {
		hosts = append(hosts, p.Addr())
	}
	args := []string{"--redis-cluster", strings.Join(hosts, ","), "--redis-prefix", "herald-cluster-e2e"}
	var herald []*instance
	for range 3 {
		n := startServe(t, nil, args...)
		if !strings.Contains(n.log.String(), "engine=redis") || !strings.Contains(n.log.String(), "redis-cluster://") {
			t.Fatalf("node did not start on the Redis Cluster:\n%s", n.log)
		}
		herald = append(herald, n)
	}
	token := mustCLI(t, nil, append([]string{"token", "create", "--role", "admin"}, args...)...).lastLine()
	envOn := func(n *instance) map[string]string { return map[string]string{"HERALD_URL": n.url, "HERALD_TOKEN": token} }
	mustCLI(t, envOn(herald[0]), "components", "create", "--name", "Payments")

	const customers = 60
	var csv strings.Builder
	csv.WriteString("id,name,phone,email,language,components\n")
	for i := range customers {
		fmt.Fprintf(&csv, "c%02d,Customer %d,+3620%07d,c%02d@example.hu,hu,Payments\n", i, i, 1000000+i, i)
	}
	file := filepath.Join(t.TempDir(), "customers.csv")
	if err := os.WriteFile(file, []byte(csv.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := mustCLI(t, envOn(herald[1]), "import", "customers", file); !strings.Contains(r.stdout, fmt.Sprintf("created %d", customers)) {
		t.Fatalf("import: %s", r.stdout)
	}

	id := strings.TrimSpace(mustCLI(t, envOn(herald[1]), "declare", "-q", "--name", "Card payments fail",
		"--component", "Payments=major_outage", "--message", "Investigating.", "--wait").stdout)

	// Every node serves the incident.
	for _, n := range herald {
		eventually(t, 5*time.Second, func() (bool, string) {
			s, body := summaryOf(t, n)
			return s.incidentStatus(id) == "investigating" && s.component("Payments") == "major_outage", body
		})
	}
	// Each recipient got one SMS and one email, whichever node sent it.
	seen := map[string]int{}
	senders := 0
	for _, n := range herald {
		ms := inbox(t, n)
		if len(ms) > 0 {
			senders++
		}
		for _, m := range ms {
			seen[m.Kind+" "+m.To]++
		}
	}
	for i := range customers {
		for _, key := range []string{fmt.Sprintf("sms +3620%07d", 1000000+i), fmt.Sprintf("email c%02d@example.hu", i)} {
			if seen[key] != 1 {
				t.Errorf("%s: %d messages, want 1", key, seen[key])
			}
		}
	}
	if len(seen) != 2*customers {
		t.Errorf("%d distinct recipients and channels, want %d: %v", len(seen), 2*customers, seen)
	}
	t.Logf("the declaration's %d messages were sent by %d of the 3 nodes", 2*customers, senders)

	mustCLI(t, envOn(herald[2]), "resolve", id, "--message", "Fixed.")
	for _, n := range herald {
		eventually(t, 5*time.Second, func() (bool, string) {
			s, body := summaryOf(t, n)
			return s.incidentStatus(id) == "" && s.component("Payments") == "operational", body
		})
	}
}
