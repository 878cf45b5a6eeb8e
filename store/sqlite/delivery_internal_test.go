package sqlite

import (
	"reflect"
	"testing"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/queue"
)

func TestInfoRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		d    queue.Delivery
	}{
		{"empty", queue.Delivery{}},
		{"customer", queue.Delivery{RecipientType: queue.FromCustomer, Name: "Kovács Éva", Language: "hu", TimeZone: "Europe/Budapest"}},
		{"critical with vars", queue.Delivery{RecipientType: queue.FromSubscriber, Critical: true,
			Vars: map[string]string{"code": "123456", "link": "https://status.acme.test/c?t=x", "": ""}}},
		{"long name", queue.Delivery{Name: string(make([]byte, 300))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := encodeInfo(nil, &tt.d)
			var got queue.Delivery
			if err := decodeInfo(b, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.d) {
				t.Errorf("decodeInfo(encodeInfo(%+v)) = %+v", tt.d, got)
			}
			for n := range len(b) {
				var d queue.Delivery
				if err := decodeInfo(b[:n], &d); err == nil {
					t.Errorf("decodeInfo of %d of %d bytes: no error", n, len(b))
				}
			}
		})
	}
}

func TestLease(t *testing.T) {
	for _, tt := range []struct {
		name       string
		s          string
		rid, token int64
		ok         bool
	}{
		{"ours", leaseString(12345, 987654321), 12345, 987654321, true},
		{"empty", "", 0, 0, false},
		{"another engine's", "1700000000000-0", 0, 0, false},
		{"no token", leaseString(5, 0), 0, 0, false},
		{"junk", "x.y!", 0, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rid, token, ok := parseLease(tt.s)
			if ok != tt.ok || ok && (rid != tt.rid || token != tt.token) {
				t.Errorf("parseLease(%q) = %d, %d, %v; want %d, %d, %v", tt.s, rid, token, ok, tt.rid, tt.token, tt.ok)
			}
		})
	}
}

func TestIDKey(t *testing.T) {
	for _, id := range []string{queue.DeliveryID("u1", channel.SMS, "+3620"), "ABCDEF0123456789ABCDEF01", "abc", "", "zzzzzzzzzzzzzzzzzzzzzzzz"} {
		t.Run(id, func(t *testing.T) {
			key := idKey(id)
			if got := idString(key); got != id {
				t.Errorf("idString(idKey(%q)) = %q", id, got)
			}
			if _, blob := key.([]byte); blob != (id == queue.DeliveryID("u1", channel.SMS, "+3620")) {
				t.Errorf("idKey(%q) stored as BLOB: %v", id, blob)
			}
		})
	}
}

func TestIDFilter(t *testing.T) {
	// Filled to the capacity it was sized for (the worst case: 65536 is the
	// smallest size, and its bits per key are the fewest of any size).
	const n = 1 << 16
	f := newIDFilter(n)
	for k := range int64(n) {
		f.add(k * 7919)
	}
	falsePos := 0
	for k := range int64(n) {
		if !f.mayHave(k * 7919) {
			t.Fatalf("mayHave(%d) = false after add", k*7919)
		}
		if f.mayHave(-k - 1) {
			falsePos++
		}
	}
	if rate := float64(falsePos) / n; rate > 0.02 {
		t.Errorf("false-positive rate %.2f%% at capacity; want about 1%%", 100*rate)
	} else {
		t.Logf("false-positive rate %.2f%% at capacity", 100*rate)
	}
}
