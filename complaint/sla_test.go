package complaint

import (
	"testing"

	"time"

	"github.com/heraldhq/herald/channel"
)

func TestCanMove(t *testing.T) {
	tests := []struct {
		from, to State
		want     bool
	}{
		{StateNew, StateAcknowledged, true},
		{StateNew, StateResolved, true},
		{StateAcknowledged, StateNew, false},
		{StateInProgress, StateWaitingOnCustomer, true},
		{StateWaitingOnCustomer, StateInProgress, true},
		{StateResolved, StateClosed, true},
		{StateResolved, StateInProgress, true}, // reopen
		{StateClosed, StateInProgress, true},   // reopen
		{StateClosed, StateResolved, false},
		{StateInProgress, StateClosed, false}, // never a silent close: resolve first
		{StateAcknowledged, StateAcknowledged, false},
	}
	for _, tt := range tests {
		if got := CanMove(tt.from, tt.to); got != tt.want {
			t.Errorf("CanMove(%s, %s) = %v, want %v", tt.from, tt.to, got, tt.want)
		}
	}
	for _, s := range States {
		if s.Open() != (s != StateResolved && s != StateClosed) {
			t.Errorf("%s.Open() = %v", s, s.Open())
		}
	}
}

func TestPromises(t *testing.T) {
	p := DefaultPolicy()
	p.ByCategory = map[Category]Durations{CategoryRefund: {FirstAnswer: 8 * time.Hour, Resolve: 72 * time.Hour}}
	p.ByPlan = map[string]Durations{"gold": {FirstAnswer: 4 * time.Hour, Resolve: 96 * time.Hour}}
	tests := []struct {
		name   string
		cat    Category
		plan   string
		repeat bool
		want   Durations
	}{
		{"default", CategoryOutage, "", false, Durations{24 * time.Hour, 48 * time.Hour}},
		{"category", CategoryRefund, "", false, Durations{8 * time.Hour, 72 * time.Hour}},
		{"plan", CategoryOutage, "gold", false, Durations{4 * time.Hour, 96 * time.Hour}},
		{"both: the stricter of each", CategoryRefund, "gold", false, Durations{4 * time.Hour, 72 * time.Hour}},
		{"repeat: half the time", CategoryOutage, "", true, Durations{12 * time.Hour, 24 * time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.promises(tt.cat, tt.plan, tt.repeat); got != tt.want {
				t.Errorf("promises = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	p := DefaultPolicy()
	created := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	fresh := func() *Complaint {
		c := &Complaint{State: StateAcknowledged, CreatedAt: created, Category: CategoryOutage}
		p.setDue(c, "")
		return c
	}
	answered := fresh()
	answered.FirstAnswerAt = ptrTime(created.Add(time.Hour))
	warned := fresh()
	warned.Warned = true
	escalated := fresh()
	escalated.Escalated = true
	waiting := fresh()
	waiting.State = StateWaitingOnCustomer
	resolved := fresh()
	resolved.State = StateResolved
	tests := []struct {
		name      string
		c         *Complaint
		at        time.Duration // after creation
		want      SLACheck
		wantCheck time.Duration // CheckAt after creation; -1: never
	}{
		{"early", fresh(), time.Hour, SLANothing, 22 * time.Hour},
		{"first answer due within 2 h", fresh(), 22 * time.Hour, SLAWarn, 22 * time.Hour},
		{"first answer broken", fresh(), 24 * time.Hour, SLAEscalate, 22 * time.Hour},
		{"warned, not yet due", warned, 23 * time.Hour, SLANothing, 24 * time.Hour},
		{"warned, now broken", warned, 25 * time.Hour, SLAEscalate, 24 * time.Hour},
		{"escalated once only", escalated, 30 * time.Hour, SLANothing, -1},
		{"answered: the resolution counts", answered, 25 * time.Hour, SLANothing, 46 * time.Hour},
		{"answered, resolution due soon", answered, 46 * time.Hour, SLAWarn, 46 * time.Hour},
		{"waiting on the customer: the clock stops", waiting, 50 * time.Hour, SLANothing, -1},
		{"resolved", resolved, 50 * time.Hour, SLANothing, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Check(tt.c, created.Add(tt.at)); got != tt.want {
				t.Errorf("Check = %d, want %d", got, tt.want)
			}
			got := p.CheckAt(tt.c)
			if tt.wantCheck < 0 {
				if !got.IsZero() {
					t.Errorf("CheckAt = %s, want never", got)
				}
			} else if want := created.Add(tt.wantCheck); !got.Equal(want) {
				t.Errorf("CheckAt = %s, want %s", got, want)
			}
		})
	}
}

func TestPercentiles(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 10; i++ {
		ds = append(ds, time.Duration(11-i)*time.Minute)
	}
	got := percentiles(ds)
	if got.N != 10 || got.P50 != 5*time.Minute || got.P90 != 9*time.Minute {
		t.Errorf("percentiles = %+v", got)
	}
	if (percentiles(nil) != Percentiles{}) {
		t.Error("percentiles of nothing are not zero")
	}
}

func TestContactKeyAndAddress(t *testing.T) {
	tests := []struct {
		c    Contact
		ch   Channel
		key  string
		kind channel.Kind
		to   string
	}{
		{Contact{CustomerID: "c1", Phone: "+3620", Email: "a@b.hu"}, SMS, "customer:c1", "sms", "+3620"},
		{Contact{Phone: "+3620", Email: "a@b.hu"}, Email, "phone:+3620", "email", "a@b.hu"},
		{Contact{Email: "Anna@B.hu"}, SMS, "email:anna@b.hu", "email", "Anna@B.hu"},
		{Contact{Slack: "U123"}, Slack, "slack:U123", "slack", "U123"},
		{Contact{Name: "caller"}, Phone, "", "", ""},
	}
	for _, tt := range tests {
		if got := tt.c.Key(); got != tt.key {
			t.Errorf("%+v Key = %q, want %q", tt.c, got, tt.key)
		}
		if kind, to := tt.c.Address(tt.ch); kind != tt.kind || to != tt.to {
			t.Errorf("%+v Address(%s) = %s %s, want %s %s", tt.c, tt.ch, kind, to, tt.kind, tt.to)
		}
	}
}
