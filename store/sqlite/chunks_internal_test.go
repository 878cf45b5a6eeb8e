package sqlite

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
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
	if n := len(s.hi) + len(s.delta); n != 1 || len(s.more) != 2 {
		t.Errorf("kept %d keys and %d more; want 1 and 2 (the second ID of a front, the text)", n, len(s.more))
	}
}

// TestPlanIDsMerge adds keys across several merges into the sorted arrays,
// with fronts repeated before and after a merge, and asks about every key
// and about as many that were never added.
func TestPlanIDsMerge(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	key := func() []byte {
		b := make([]byte, 12)
		binary.BigEndian.PutUint64(b, rng.Uint64())
		binary.BigEndian.PutUint32(b[8:], rng.Uint32())
		return b
	}
	s := newPlanIDs("lease")
	var in, out [][]byte
	for i := range 20 * minMerge {
		k := key()
		in = append(in, k)
		s.add(k)
		if i%1000 == 0 { // the same front, another tail: kept in more
			twin := slices.Clone(k)
			twin[11]++
			in = append(in, twin)
			s.add(twin)
		}
		out = append(out, key())
	}
	if len(s.hi) == 0 || !slices.IsSorted(s.hi) {
		t.Fatalf("after %d adds: %d merged keys, sorted %v", len(in), len(s.hi), slices.IsSorted(s.hi))
	}
	for _, k := range in {
		if !s.has(k) {
			t.Fatalf("has(%x) = false after add", k)
		}
	}
	for _, k := range out {
		if s.has(k) {
			t.Fatalf("has(%x) = true, never added", k)
		}
	}
	if n := len(s.hi) + len(s.delta) + len(s.more); n != len(in) {
		t.Errorf("kept %d keys for %d distinct adds", n, len(in))
	}
}

// BenchmarkPlanIDs reports the heap a plan's ID set holds for 2 000 000
// deliveries (-benchtime 1x).
func BenchmarkPlanIDs(b *testing.B) {
	const n = 2_000_000
	rng := rand.New(rand.NewPCG(3, 4))
	k := make([]byte, 12)
	for b.Loop() {
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		s := newPlanIDs("lease")
		for range n {
			binary.BigEndian.PutUint64(k, rng.Uint64())
			binary.BigEndian.PutUint32(k[8:], rng.Uint32())
			s.add(k)
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/n, "heap-bytes/id")
		runtime.KeepAlive(s)
	}
}
