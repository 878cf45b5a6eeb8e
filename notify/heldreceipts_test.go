package notify

import (
	"testing"
	"time"
)

func TestReceiptHold(t *testing.T) {
	h := newReceiptHold(2)
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	if !h.add(heldReceipt{providerID: "SM1", next: t0}) || !h.add(heldReceipt{providerID: "SM2", next: t0.Add(time.Second)}) {
		t.Fatal("the hold refused a receipt below its bound")
	}
	if h.add(heldReceipt{providerID: "SM3", next: t0}) {
		t.Error("the hold took a receipt beyond its bound")
	}
	if got := h.due(t0); len(got) != 1 || got[0].providerID != "SM1" {
		t.Errorf("due at t0: %+v, want SM1 only", got)
	}
	if h.Len() != 1 {
		t.Errorf("held after taking one: %d, want 1", h.Len())
	}
	if got := h.due(t0.Add(time.Second)); len(got) != 1 || got[0].providerID != "SM2" {
		t.Errorf("due a second later: %+v, want SM2", got)
	}
	if got := h.due(t0.Add(time.Hour)); len(got) != 0 || h.Len() != 0 {
		t.Errorf("an empty hold gave %+v (len %d)", got, h.Len())
	}
}
