package sandbox

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// start runs a sandbox for one test and closes it afterwards.
func start(t *testing.T, cfg Config) *Sandbox {
	t.Helper()
	sb, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := sb.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return sb
}

// waitCtx bounds a wait for something asynchronous.
func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// rewriteTransport sends every request to the sandbox, keeping the path, the
// way a provider SDK with a hard-coded base URL is pointed at a fake.
type rewriteTransport struct{ target *url.URL }

func (rt rewriteTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme = rt.target.Scheme
	r.URL.Host = rt.target.Host
	r.Host = ""
	return http.DefaultTransport.RoundTrip(r)
}

func TestStartDefaultsAndClose(t *testing.T) {
	sb, err := Start(t.Context(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := sb.Config()
	if cfg.AccountSID != DefaultAccountSID || cfg.AuthToken != DefaultAuthToken || cfg.SlackToken != DefaultSlackToken || cfg.Capacity != DefaultCapacity {
		t.Errorf("defaults not applied: %+v", cfg)
	}
	if got := sb.SlackURL(); got[len(got)-5:] != "/api/" {
		t.Errorf("SlackURL %q must end with /api/", got)
	}
	if err := sb.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := sb.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := http.Get(sb.InboxURL()); err == nil {
		t.Error("inbox still answers after Close")
	}
}

func TestStartStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	sb, err := Start(ctx, Config{})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := http.Get(sb.InboxURL())
		if err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("sandbox still serving after its context ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestStartRejectsBadFaults(t *testing.T) {
	tests := []struct {
		name string
		f    Faults
	}{
		{"error rate above 1", Faults{ErrorRate: 1.5}},
		{"negative rate", Faults{RatePerSecond: -1}},
		{"negative burst", Faults{Burst429Every: -1}},
		{"negative latency", Faults{Latency: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb, err := Start(t.Context(), Config{Faults: tt.f})
			if err == nil {
				sb.Close()
				t.Fatal("Start accepted bad faults")
			}
		})
	}
}
