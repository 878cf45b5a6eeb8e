package sqlite

import (
	"bytes"
	"reflect"
	"testing"
)

func TestChunkRoundTrip(t *testing.T) {
	id := func(b byte) []byte { return bytes.Repeat([]byte{b}, 12) }
	ds := []chunkDelivery{
		{rid: 100, key: id(1), address: "+36201234567", recipient: "c1", info: []byte{1, 2, 3}},
		{rid: 102, key: "confirm-1", address: "a@example.com", recipient: "c2", info: []byte{4}, errorCode: "x", reason: "why"},
		{rid: 103, key: id(3), address: "", recipient: "", info: []byte{}},
		{rid: 1 << 40, key: id(4), address: "https://hooks.slack.test/ü", recipient: "s9", info: bytes.Repeat([]byte{9}, 300)},
	}
	data := encodeChunk(nil, 100, ds)
	for from := range len(ds) + 1 {
		got, err := decodeChunk(data, 100, from, len(ds))
		if err != nil {
			t.Fatalf("from %d: %v", from, err)
		}
		want := ds[from:]
		if len(got) != len(want) {
			t.Fatalf("from %d: %d deliveries, want %d", from, len(got), len(want))
		}
		for i := range want {
			g, w := got[i], want[i]
			if len(g.info) == 0 && len(w.info) == 0 {
				g.info, w.info = nil, nil
			}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("from %d, delivery %d: got %+v, want %+v", from, i, g, w)
			}
		}
	}
	t.Run("the keys are copies", func(t *testing.T) {
		got, _ := decodeChunk(data, 100, 0, len(ds))
		for i := range data {
			data[i] = 0xff
		}
		if !sameKey(got[0].key, id(1)) {
			t.Errorf("key changed with the data: %x", got[0].key)
		}
		data = encodeChunk(nil, 100, ds)
	})
	t.Run("malformed", func(t *testing.T) {
		for n := 1; n < len(data); n++ {
			if _, err := decodeChunk(data[:n], 100, 0, len(ds)); err == nil {
				t.Errorf("decodeChunk of %d of %d bytes: no error", n, len(data))
			}
		}
		for _, bad := range [][]byte{nil, {}, {2}, append([]byte{chunkFormat, 0, 7}, data[1:]...)} {
			if _, err := decodeChunk(bad, 100, 0, len(ds)); err == nil {
				t.Errorf("decodeChunk(%x): no error", bad)
			}
		}
	})
}

func TestPlanIDs(t *testing.T) {
	a := []byte("AAAAAAAA0001")
	sameFront := []byte("AAAAAAAA0002") // shares a's first 8 bytes
	other := []byte("BBBBBBBB0001")
	s := newPlanIDs("lease")
	for _, k := range []any{a, sameFront, "confirm-1"} {
		s.add(k)
	}
	s.add(a) // twice is once
	tests := []struct {
		key  any
		want bool
	}{
		{a, true}, {sameFront, true}, {"confirm-1", true},
		{other, false}, {[]byte("AAAAAAAA0003"), false}, {"confirm-2", false},
		{string(a), false}, // text is never a 12-byte key
	}
	for _, tt := range tests {
		if got := s.has(tt.key); got != tt.want {
			t.Errorf("has(%q) = %v, want %v", tt.key, got, tt.want)
		}
	}
	if len(s.keys) != 1 || len(s.more) != 2 {
		t.Errorf("kept %d keys and %d more; want 1 and 2 (the second ID of a front, the text)", len(s.keys), len(s.more))
	}
}
