//go:build linux

package keystore

import (
	"math/rand/v2"
	"testing"
)

// The permutation is a bijection on [MinSerial, MaxSerial]: row and
// serial undo each other, stay in range, and a run of consecutive rows (as
// NewSerial hands out) gives distinct serials spread over the whole range,
// not a run of serials.
func TestSerialPermutation(t *testing.T) {
	p, err := newSerialPermutation(newSerialKey())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uint32]uint32{}
	var high int
	for row := uint32(MinSerial); row < MinSerial+100000; row++ {
		s := p.serial(row)
		if !inSerialRange(s) {
			t.Fatalf("row %d → serial %d, out of range", row, s)
		}
		if back := p.row(s); back != row {
			t.Fatalf("row %d → serial %d → row %d", row, s, back)
		}
		if other, dup := seen[s]; dup {
			t.Fatalf("rows %d and %d share serial %d", other, row, s)
		}
		seen[s] = row
		if s > MaxSerial/2 {
			high++
		}
	}
	// A uniform draw puts half above the middle; 100,000 draws stray from
	// 50,000 by more than 1,000 with probability below 1e-10.
	if high < 49000 || high > 51000 {
		t.Errorf("%d of 100000 serials above the middle of the range; a uniform spread puts about 50000", high)
	}
	// The edges of the range map in and out too.
	for _, s := range []uint32{MinSerial, MinSerial + 1, MaxSerial - 1, MaxSerial} {
		if r := p.row(s); !inSerialRange(r) || p.serial(r) != s {
			t.Errorf("serial %d → row %d → serial %d", s, r, p.serial(r))
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		s := MinSerial + rng.Uint32N(MaxSerial-MinSerial+1)
		if p.serial(p.row(s)) != s {
			t.Fatalf("serial %d does not survive a round trip", s)
		}
	}
}

// Two stores draw different permutations: one store's serials say nothing
// about another's.
func TestSerialPermutationsDiffer(t *testing.T) {
	a, _ := newSerialPermutation(newSerialKey())
	b, _ := newSerialPermutation(newSerialKey())
	same := 0
	for row := uint32(MinSerial); row < MinSerial+1000; row++ {
		if a.serial(row) == b.serial(row) {
			same++
		}
	}
	if same > 2 {
		t.Errorf("%d of 1000 rows have the same serial under two keys", same)
	}
}

func TestSerialPermutationKeyLength(t *testing.T) {
	if _, err := newSerialPermutation(make([]byte, serialKeyLen-1)); err == nil {
		t.Error("a short permutation key was accepted")
	}
}

func BenchmarkSerialRow(b *testing.B) {
	p, _ := newSerialPermutation(newSerialKey())
	s := uint32(12345678)
	for b.Loop() {
		s = p.serial(p.row(s))
	}
}
