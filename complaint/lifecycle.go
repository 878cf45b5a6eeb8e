package complaint

// State is where a complaint is in its life.
type State string

// States. A complaint starts new, is acknowledged when the automatic
// answer is queued, is worked on (in_progress, waiting_on_customer), and
// ends resolved (with an outcome and a remedy) and then closed. Resolved
// and closed complaints may be reopened.
const (
	StateNew               State = "new"
	StateAcknowledged      State = "acknowledged"
	StateInProgress        State = "in_progress"
	StateWaitingOnCustomer State = "waiting_on_customer"
	StateResolved          State = "resolved"
	StateClosed            State = "closed"
)

// States lists every state, in lifecycle order.
var States = []State{StateNew, StateAcknowledged, StateInProgress, StateWaitingOnCustomer, StateResolved, StateClosed}

// Open reports whether a complaint in state s still needs work.
func (s State) Open() bool { return s != StateResolved && s != StateClosed && s != "" }

// transitions lists where each state may go. Resolving needs an outcome
// and a remedy, which Service.Resolve asks for; reopening goes back to
// in_progress, to the same owner.
var transitions = map[State][]State{
	StateNew:               {StateAcknowledged, StateInProgress, StateWaitingOnCustomer, StateResolved},
	StateAcknowledged:      {StateInProgress, StateWaitingOnCustomer, StateResolved},
	StateInProgress:        {StateWaitingOnCustomer, StateResolved},
	StateWaitingOnCustomer: {StateInProgress, StateResolved},
	StateResolved:          {StateClosed, StateInProgress},
	StateClosed:            {StateInProgress},
}

// CanMove reports whether a complaint may go from state from to state to.
func CanMove(from, to State) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// valid reports whether s is a known state.
func (s State) valid() bool {
	_, ok := transitions[s]
	return ok
}
