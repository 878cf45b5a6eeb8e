package complaint

import "time"

// Durations are the promises of an SLA: by when a person (or the
// incident's resolution) first answers, and by when the complaint is
// resolved.
type Durations struct {
	FirstAnswer time.Duration `json:"first_answer"`
	Resolve     time.Duration `json:"resolve"`
}

// Policy holds the rules a complaint is handled by. The zero value is not
// usable; start from DefaultPolicy.
type Policy struct {
	// Default promises; ByCategory and ByPlan override them, and when both
	// apply the stricter of each promise holds.
	Default    Durations
	ByCategory map[Category]Durations
	ByPlan     map[string]Durations
	// WarnBefore is how long before a promise falls due its owner is
	// warned.
	WarnBefore time.Duration
	// RepeatWindow is how far back a complaint from the same customer about
	// the same incident, or the same category and component, makes a new
	// one a repeat; a repeat's promises are RepeatFactor of the usual.
	RepeatWindow time.Duration
	RepeatFactor float64
	// AttachWindow is how long after a contact's last message a new one
	// from them attaches to their open complaint instead of opening
	// another (and getting another acknowledgement). A threaded reply (to
	// one of herald's messages, or quoting the reference) attaches to the
	// open complaint whenever it comes.
	AttachWindow time.Duration
	// Threshold is the tagger's confidence from which a complaint is
	// tagged without a person.
	Threshold float64
}

// Defaults.
const (
	DefaultFirstAnswer  = 24 * time.Hour
	DefaultResolve      = 48 * time.Hour
	DefaultWarnBefore   = 2 * time.Hour
	DefaultRepeatWindow = 30 * 24 * time.Hour
	DefaultRepeatFactor = 0.5
	DefaultAttachWindow = 10 * time.Minute
)

// DefaultPolicy is first answer in 24 h, resolution in 48 h, a warning 2 h
// before either, repeats within 30 days at half the time, messages within
// 10 minutes attached, tagging from a confidence of 0.5.
func DefaultPolicy() Policy {
	return Policy{
		Default:      Durations{FirstAnswer: DefaultFirstAnswer, Resolve: DefaultResolve},
		WarnBefore:   DefaultWarnBefore,
		RepeatWindow: DefaultRepeatWindow,
		RepeatFactor: DefaultRepeatFactor,
		AttachWindow: DefaultAttachWindow,
		Threshold:    DefaultThreshold,
	}
}

// promises returns the durations for a complaint of category cat from a
// customer on plan.
func (p Policy) promises(cat Category, plan string, repeat bool) Durations {
	d := p.Default
	stricter := func(o Durations) {
		if o.FirstAnswer > 0 && (d.FirstAnswer <= 0 || o.FirstAnswer < d.FirstAnswer) {
			d.FirstAnswer = o.FirstAnswer
		}
		if o.Resolve > 0 && (d.Resolve <= 0 || o.Resolve < d.Resolve) {
			d.Resolve = o.Resolve
		}
	}
	c, okC := p.ByCategory[cat]
	pl, okP := p.ByPlan[plan]
	switch {
	case okC && okP:
		d = c
		stricter(pl)
	case okC:
		d = c
	case okP:
		d = pl
	}
	if repeat && p.RepeatFactor > 0 && p.RepeatFactor < 1 {
		d.FirstAnswer = time.Duration(float64(d.FirstAnswer) * p.RepeatFactor)
		d.Resolve = time.Duration(float64(d.Resolve) * p.RepeatFactor)
	}
	return d
}

// setDue sets c's due times from its creation, category and repeat flag.
func (p Policy) setDue(c *Complaint, plan string) {
	d := p.promises(c.Category, plan, c.Repeat)
	c.FirstAnswerDue = c.CreatedAt.Add(d.FirstAnswer)
	c.ResolveDue = c.CreatedAt.Add(d.Resolve)
}

// reopen takes a resolved or closed complaint back to work at now: its
// resolution promise starts again, as long as it was from its creation
// (the one given was kept, or was judged when it was resolved), and no
// warning or escalation is recorded against the new one yet.
func reopen(c *Complaint, now time.Time) {
	c.ResolveDue = now.Add(c.ResolveDue.Sub(c.CreatedAt))
	c.ResolvedAt, c.ClosedAt = nil, nil
	c.Warned, c.Escalated = false, false
}

// SLACheck is what the periodic check does for one complaint.
type SLACheck int

// SLA checks.
const (
	SLANothing  SLACheck = iota
	SLAWarn              // a promise falls due within WarnBefore: tell the owner
	SLAEscalate          // a promise is broken: tell a manager
)

// nextDue is the promise still to keep: the first answer while none was
// given, then the resolution.
func nextDue(c *Complaint) time.Time {
	if c.FirstAnswerAt == nil && c.FirstAnswerDue.Before(c.ResolveDue) {
		return c.FirstAnswerDue
	}
	return c.ResolveDue
}

// Check says what the periodic check must do for c at now.
func (p Policy) Check(c *Complaint, now time.Time) SLACheck {
	if !c.Open() || c.State == StateWaitingOnCustomer {
		return SLANothing
	}
	due := nextDue(c)
	switch {
	case !now.Before(due) && !c.Escalated:
		return SLAEscalate
	case !now.Before(due.Add(-p.WarnBefore)) && !c.Warned && !c.Escalated:
		return SLAWarn
	}
	return SLANothing
}

// CheckAt is when the periodic check next has something to do for c; zero
// when never (closed, resolved, waiting on the customer, or escalated).
// Engines index it, so the check reads only complaints that are due.
func (p Policy) CheckAt(c *Complaint) time.Time {
	if !c.Open() || c.State == StateWaitingOnCustomer || c.Escalated {
		return time.Time{}
	}
	due := nextDue(c)
	if c.Warned {
		return due
	}
	return due.Add(-p.WarnBefore)
}
