//go:build linux

package watchqueue_test

// One test per fix in the kernel's watch_queue history (the seed commit
// list), named after it. Each asserts the invariant the fix restored, so
// that making the kernel's mistake here fails a test.

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"math/rand/v2"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// c993ee0f9f81 "watch_queue: Fix filter limit check" (CVE-2022-0995): types
// beyond the known ones were counted one way and copied another, writing
// past the filter. Here: any type value, including the largest a u32 holds,
// is validated, skipped if unknown, and cannot make matching misbehave.
func TestFixFilterLimitCheck_c993ee0f9f81(t *testing.T) {
	var entries []watchqueue.TypeFilter
	for _, typ := range []watchqueue.Type{2, 63, 64, 1023, 1 << 23, watchqueue.MaxType, watchqueue.MaxType + 1, 0xffffffff} {
		var all watchqueue.SubtypeSet
		for i := range all {
			all[i] = ^uint32(0)
		}
		entries = append(entries, watchqueue.TypeFilter{Type: typ, Subtypes: all})
	}
	keyLink := watchqueue.TypeFilter{Type: watchqueue.TypeKeyNotify, Subtypes: subtypes(uint8(watchqueue.KeyLinked))}
	entries = append(entries, keyLink)

	// The same filter from the kernel's byte layout, as a hostile caller would send it.
	b, _ := (&watchqueue.Filter{Types: entries}).AppendBinary(nil)
	f, err := watchqueue.ParseFilter(b)
	if err != nil {
		t.Fatalf("a filter with unknown types is not an error: %v", err)
	}
	q := sized(t, 1, watchqueue.Options{})
	if err := q.SetFilter(f); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []watchqueue.Type{2, 63, 64, 1023, 1 << 23, watchqueue.MaxType} {
		if q.Wants(watchqueue.Header{Type: typ, Subtype: 0, Info: 8}) {
			t.Errorf("a record of unregistered type %#x passed the filter", uint32(typ))
		}
	}
	if !q.Wants(keyHeader(watchqueue.KeyLinked, 0)) || q.Wants(keyHeader(watchqueue.KeyUpdated, 0)) {
		t.Error("the known entry beside the unknown ones does not work")
	}
	if _, err := watchqueue.ParseFilter(append(b, make([]byte, 44)...)); err == nil {
		t.Error("a filter longer than its count says was accepted")
	}
}

// 96a4d8912b28 "Fix to always request a pow-of-2 pipe ring size": the ring
// was sized to the notes asked for, but indices are masked. Here: for every
// size 1..512 the ring is a power of two no smaller than the notes, and a
// full queue's worth of records comes back intact and in order.
func TestFixPowerOfTwoRing_96a4d8912b28(t *testing.T) {
	buf := make([]byte, watchqueue.MaxNotes*16)
	for notes := watchqueue.MinNotes; notes <= watchqueue.MaxNotes; notes++ {
		q := watchqueue.New(watchqueue.Options{})
		if err := q.SetSize(notes); err != nil {
			t.Fatal(err)
		}
		slots, capacity := q.RingSlots(), q.Capacity()
		if bits.OnesCount(uint(slots)) != 1 || slots < capacity || capacity < notes {
			t.Fatalf("size %d: ring %d slots, capacity %d", notes, slots, capacity)
		}
		// Wrap the ring twice over so masked indices are exercised.
		for round := range 3 {
			for i := range capacity {
				if !q.Post(keyRec(watchqueue.KeyUpdated, uint32(round*capacity+i), 0), 1, 0) {
					t.Fatalf("size %d: record %d of %d refused", notes, i, capacity)
				}
			}
			n, err := q.TryRead(buf)
			if err != nil || n != capacity*16 {
				t.Fatalf("size %d: read %d, %v", notes, n, err)
			}
			for i := range capacity {
				if id := binary.LittleEndian.Uint32(buf[i*16+8:]); id != uint32(round*capacity+i) {
					t.Fatalf("size %d round %d: record %d has key %d", notes, round, i, id)
				}
			}
		}
		q.Close()
	}
}

// 3b4c0371928c "Fix the alloc bitmap size to reflect notes allocated": the
// allocator was sized to the notes asked for while the capacity counted
// whole pages. Here: the queue takes exactly Capacity records, rounded up to
// whole pages, and refuses the next.
func TestFixAllocBitmapSize_3b4c0371928c(t *testing.T) {
	for _, notes := range []int{1, 31, 32, 33, 100, 255, 256, 257, 300, 511, 512} {
		q := sized(t, notes, watchqueue.Options{})
		want := (notes + 31) / 32 * 32
		if q.Capacity() != want {
			t.Errorf("size %d: capacity %d, want %d", notes, q.Capacity(), want)
		}
		took := 0
		for q.Post(keyRec(watchqueue.KeyUpdated, 1, 0), 1, 0) {
			took++
		}
		if took != want || q.Lost() != 1 {
			t.Errorf("size %d: took %d records before refusing, want %d", notes, took, want)
		}
	}
}

// c1853fbadcba "Fix to release page in ->release()": consuming a record did
// not give its buffer back. Here: a million records through a 32-note queue,
// read as they come, are all delivered and none is lost.
func TestFixReleasePage_c1853fbadcba(t *testing.T) {
	q := sized(t, 32, watchqueue.Options{})
	buf := make([]byte, 16*32)
	const total = 1_000_000
	for sent := 0; sent < total; {
		for i := 0; i < 32 && sent < total; i++ {
			if !q.Post(keyRec(watchqueue.KeyUpdated, uint32(sent), 0), 1, 0) {
				t.Fatalf("record %d refused: consumed notes are not coming back", sent)
			}
			sent++
		}
		if _, err := q.TryRead(buf); err != nil {
			t.Fatal(err)
		}
	}
	if q.Lost() != 0 || q.Len() != 0 {
		t.Errorf("lost %d, left %d", q.Lost(), q.Len())
	}
}

// a635415a06 "Fix NULL dereference in error cleanup" and the later fix of
// SET_SIZE's error paths: a failed sizing must leave the queue as it was,
// unsized and sizeable.
func TestFixErrorCleanup_a635415a06(t *testing.T) {
	q := watchqueue.New(watchqueue.Options{})
	defer q.Close()
	for _, bad := range []int{0, -5, 513, 1 << 30} {
		if err := q.SetSize(bad); !errors.Is(err, unix.EINVAL) {
			t.Fatalf("SetSize(%d) = %v, want EINVAL", bad, err)
		}
		if q.Capacity() != 0 || q.Post(keyRec(watchqueue.KeyUpdated, 1, 0), 1, 0) {
			t.Fatalf("a failed SetSize(%d) left the queue half-sized", bad)
		}
	}
	if err := q.SetSize(64); err != nil {
		t.Fatalf("sizing after failures: %v", err)
	}
	if !q.Post(keyRec(watchqueue.KeyUpdated, 1, 0), 1, 0) {
		t.Fatal("queue unusable after failed sizings")
	}
}

// 2ed147f015af "Fix lack of barrier/sync/lock between post and read": the
// reader could see head move before the record's bytes. Here, under -race:
// several posters and a reader; every record read is intact, each poster's
// records arrive in its order, and delivered plus lost equals posted.
func TestFixPostReadBarrier_2ed147f015af(t *testing.T) {
	const posters, each = 4, 20000
	q := sized(t, 64, watchqueue.Options{})
	var wg sync.WaitGroup
	for p := range posters {
		wg.Go(func() {
			for seq := range each {
				// key id = poster, aux = sequence, and aux mirrored into the
				// subtype-free high bits of the id so a torn record shows.
				q.Post(keyRec(watchqueue.KeyUpdated, uint32(p)|uint32(seq)<<8, uint32(seq)), 1, 0)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	last := make([]int, posters)
	for i := range last {
		last[i] = -1
	}
	delivered := 0
	buf := make([]byte, 4096)
	check := func(n int) {
		for _, r := range decodeAll(t, buf[:n], false) {
			k, ok := r.(watchqueue.KeyNotification)
			if !ok {
				continue // a loss record
			}
			p, seq := int(k.KeyID&0xff), int(k.KeyID>>8)
			if p >= posters || seq != int(k.Aux) || k.Tag != 1 || k.Subtype != watchqueue.KeyUpdated {
				t.Fatalf("torn record %+v", k)
			}
			if seq <= last[p] {
				t.Fatalf("poster %d: record %d after %d", p, seq, last[p])
			}
			last[p] = seq
			delivered++
		}
	}
	for {
		n, err := q.TryRead(buf)
		if err == nil {
			check(n)
			continue
		}
		select {
		case <-done:
			for {
				n, err := q.TryRead(buf)
				if err != nil {
					if uint64(delivered)+q.Lost() != posters*each {
						t.Errorf("delivered %d + lost %d != posted %d", delivered, q.Lost(), posters*each)
					}
					return
				}
				check(n)
			}
		default:
		}
	}
}

// 7ea1a0124b6d "Free the alloc bitmap when the watch_queue is torn down",
// db8facfc9faf "Free watchqueue state after clearing pipe ring", and the
// defunct serialisation fixes: Close racing posters and a reader must not
// crash or corrupt, and once Close has returned nothing more is queued.
func TestFixTeardownRacingPostAndRead_db8facfc9faf(t *testing.T) {
	for range 200 {
		q := watchqueue.New(watchqueue.Options{})
		if err := q.SetSize(32); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				for i := range 200 {
					q.Post(keyRec(watchqueue.KeyUpdated, uint32(i), 0), 1, 0)
				}
			})
		}
		wg.Go(func() {
			buf := make([]byte, 256)
			for {
				if _, err := q.TryRead(buf); err != nil && !errors.Is(err, unix.EAGAIN) {
					return
				}
			}
		})
		q.Close()
		if q.Post(keyRec(watchqueue.KeyUpdated, 1, 0), 1, 0) {
			t.Fatal("a post after Close returned was queued")
		}
		wg.Wait()
		if q.Len() != 0 {
			t.Fatalf("%d records survive Close", q.Len())
		}
	}
}

// e7d553d69c "pipe: Add notification lossage handling": the loss record
// comes right after the record that was newest when the loss happened, and
// at the start of the next read if that record ended a read.
func TestLossLandsWherePipeReadPutsIt_e7d553d69c(t *testing.T) {
	q := sized(t, 1, watchqueue.Options{}) // 32 notes
	post := func(id uint32) bool { return q.Post(keyRec(watchqueue.KeyUpdated, id, 0), 1, 0) }
	for id := range uint32(32) {
		post(id)
	}
	if post(100) || post(101) {
		t.Fatal("a full queue took a record")
	}
	// Take 10 records; the loss is charged to record 31, still unread.
	first := drainN(t, q, 10)
	if ids(first) != "0 1 2 3 4 5 6 7 8 9" {
		t.Fatalf("first read %s", ids(first))
	}
	for id := uint32(32); id < 42; id++ {
		post(id)
	}
	post(200) // lost, charged to record 41
	buf := make([]byte, 4096)
	n, _ := q.TryRead(buf)
	if got := ids(decodeAll(t, buf[:n], false)); got != "10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 LOSS 32 33 34 35 36 37 38 39 40 41" {
		t.Errorf("read %s", got)
	}
	// Record 41 ended that read: its loss opens the next one, alone.
	n, err := q.TryRead(buf)
	if err != nil || ids(decodeAll(t, buf[:n], false)) != "LOSS" {
		t.Errorf("next read = %s, %v; want the owed loss record alone", ids(decodeAll(t, buf[:n], false)), err)
	}
	if _, err := q.TryRead(buf); !errors.Is(err, unix.EAGAIN) {
		t.Errorf("then %v, want EAGAIN", err)
	}

	// A loss owed to a read whose buffer is exactly full also waits.
	for id := range uint32(32) {
		post(id)
	}
	post(300)
	n, _ = q.TryRead(buf[:32*16])
	if n != 32*16 {
		t.Fatalf("read %d", n)
	}
	if n, _ := q.TryRead(buf[:7]); n != 0 {
		t.Error("a 7-byte buffer took the 8-byte loss record")
	}
	if n, err := q.TryRead(buf[:8]); n != 8 || err != nil {
		t.Errorf("8-byte read = %d, %v; want the loss record", n, err)
	}
}

func drainN(t *testing.T, q *watchqueue.Queue, records int) []watchqueue.Record {
	t.Helper()
	buf := make([]byte, records*16)
	n, err := q.TryRead(buf)
	if err != nil {
		t.Fatal(err)
	}
	return decodeAll(t, buf[:n], false)
}

func ids(recs []watchqueue.Record) string {
	s := ""
	for i, r := range recs {
		if i > 0 {
			s += " "
		}
		switch r := r.(type) {
		case watchqueue.KeyNotification:
			s += itoa(int(r.KeyID))
		case watchqueue.Loss:
			s += "LOSS"
		default:
			s += "?"
		}
	}
	return s
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// 8cfba76383 "pipe: Allow buffers to be marked read-whole-or-error": a read
// returns whole records or ENOBUFS, never part of one. Here: records of
// every length 8..127 through reads of random sizes; every read is a run of
// whole records, and together they are exactly what was posted.
func TestReadsNeverSplitRecords_8cfba76383(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	q := sized(t, 512, watchqueue.Options{})
	var posted [][]byte
	for i := range 500 {
		size := 8 + i%120
		rec := make([]byte, size)
		binary.LittleEndian.PutUint32(rec, uint32(0x00abcd)) // some type
		for j := 8; j < size; j++ {
			rec[j] = byte(i + j)
		}
		q.Post(rec, 3, 0)
		posted = append(posted, rec)
	}
	var got [][]byte
	for q.Len() > 0 {
		buf := make([]byte, rng.IntN(300))
		n, err := q.TryRead(buf)
		if errors.Is(err, unix.ENOBUFS) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for b := buf[:n]; len(b) > 0; {
			h, _ := watchqueue.DecodeHeader(b)
			if h.Len() < 8 || h.Len() > len(b) {
				t.Fatalf("read ended inside a record: length %d, %d bytes left", h.Len(), len(b))
			}
			got = append(got, b[:h.Len()])
			b = b[h.Len():]
		}
	}
	if len(got) != len(posted) {
		t.Fatalf("read %d records, posted %d", len(got), len(posted))
	}
	for i := range got {
		if string(got[i][8:]) != string(posted[i][8:]) || len(got[i]) != len(posted[i]) {
			t.Fatalf("record %d differs", i)
		}
	}
}
