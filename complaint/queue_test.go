package complaint

import (
	"testing"
	"time"
)

func TestAtRisk(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 20, 0, time.UTC) // cut: 12:31:00 (12:30:20 rounded up)
	at := func(h, m, s int) time.Time { return time.Date(2026, 12, 4, h, m, s, 0, time.UTC) }
	answered := at(11, 0, 0)
	tests := []struct {
		name string
		c    Complaint
		want bool
	}{
		{"resolution due in 10 minutes", Complaint{State: StateInProgress, ResolveDue: at(12, 10, 0)}, true},
		{"resolution overdue", Complaint{State: StateInProgress, ResolveDue: at(11, 0, 0)}, true},
		{"resolution due in 30 minutes and a bit (the cut's minute)", Complaint{State: StateInProgress, ResolveDue: at(12, 30, 59)}, true},
		{"resolution due at the cut", Complaint{State: StateInProgress, ResolveDue: at(12, 31, 0)}, false},
		{"first answer due soon, not given", Complaint{State: StateNew, FirstAnswerDue: at(12, 5, 0), ResolveDue: at(20, 0, 0)}, true},
		{"first answer due soon, given", Complaint{State: StateInProgress, FirstAnswerDue: at(12, 5, 0), FirstAnswerAt: &answered, ResolveDue: at(20, 0, 0)}, false},
		{"no due times", Complaint{State: StateNew}, false},
		{"overdue but resolved", Complaint{State: StateResolved, ResolveDue: at(11, 0, 0)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.AtRisk(now); got != tt.want {
				t.Errorf("AtRisk = %v, want %v (DueAt %v, cut %v)", got, tt.want, tt.c.DueAt(), AtRiskBefore(now))
			}
			// The queue's tally counts it exactly when the rule says so.
			tally := Tally{}
			for _, l := range tt.c.queueLines() {
				if scope, f, _ := SplitTallyLine(l); scope == QueueAll {
					tally[f]++
				}
			}
			if got := tally.Queue("", now).AtRisk == 1; got != tt.want {
				t.Errorf("the queue tally counts it at risk: %v, want %v", got, tt.want)
			}
		})
	}
	if got := AtRiskBefore(at(12, 0, 0)); !got.Equal(at(12, 30, 0)) {
		t.Errorf("AtRiskBefore(12:00:00) = %v, want 12:30:00 (a whole minute stays)", got)
	}
}
