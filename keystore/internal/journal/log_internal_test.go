//go:build linux

package journal

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Every bit of every record but the last is covered by a checksum, and
// the record after it, framed once it was synced, proves it was synced:
// any single flipped bit there is damage at that record's start. A flip
// in the last record has nothing after it and reads as a torn write.
func TestWALEveryBitFlipIsCaught(t *testing.T) {
	const n = 5
	area := testWALArea(3, n)
	var starts []int
	for i, at := 0, 0; i < n; i++ {
		starts = append(starts, at)
		at += walRecordHead + int(le32(area[at+4:]))
	}
	ends := append(starts[1:], len(area)-64)
	for rec := range n {
		for byteAt := starts[rec]; byteAt < ends[rec]; byteAt++ {
			for bit := range 8 {
				damaged := bytes.Clone(area)
				damaged[byteAt] ^= 1 << bit
				s := State{Header: Header{Generation: 3, Txid: 1}, HasHeader: true}
				s.scanRecords(damaged)
				switch {
				case len(s.Records) != rec || s.end != walRecordsAt+int64(starts[rec]):
					t.Fatalf("bit %d of byte %d (record %d): %d records, ending at %d", bit, byteAt, rec+1, len(s.Records), s.end)
				case rec < n-1 && (!s.Corrupt() || s.Damage.At != s.end):
					t.Fatalf("bit %d of byte %d (record %d) taken for a torn write: %s", bit, byteAt, rec+1, s.Damage)
				case rec == n-1 && s.Corrupt():
					t.Fatalf("bit %d of byte %d of the last record taken for damage: %s", bit, byteAt, s.Damage)
				}
			}
		}
	}
}

// String says what the damage is, for test failures.
func (d *Damage) String() string {
	if d == nil {
		return "none"
	}
	return fmt.Sprintf("at %d: %s; proof %q; %d intact records after", d.At, d.Problem, d.Proof, len(d.After))
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// testLog is a log file in a temporary directory, written by Log as
// the journal writes it, with generation 2 holding a checkpoint.
func testLog(t *testing.T) *Log {
	t.Helper()
	w, err := OpenLog(filepath.Join(t.TempDir(), "keys.db.wal"), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	if err := w.writeHeader(Header{Format: walFormat, Generation: 2, Txid: 9, PageSize: 4096, Meta: make([]byte, metaHeadLen)}); err != nil {
		t.Fatal(err)
	}
	return w
}

// batch frames n records of size bytes each, tagged with name, and writes
// them; the caller syncs them or not.
func (w *Log) testBatch(t *testing.T, name string, n, size int) mark {
	t.Helper()
	for i := range n {
		w.appendRecord(appendRedoPut(nil, tRows, fmt.Appendf(nil, "%s%d", name, i), bytes.Repeat([]byte{'v'}, size)))
	}
	m, full, err := w.write()
	if err != nil || full {
		t.Fatalf("writing batch %s: full %t, %v", name, full, err)
	}
	return m
}

// readAs reads the log as a crash left it: the file's bytes, with edit
// applied, in a file of its own.
func readAs(t *testing.T, w *Log, edit func(b []byte)) State {
	t.Helper()
	b, err := os.ReadFile(w.path)
	if err != nil {
		t.Fatal(err)
	}
	edit(b)
	path := filepath.Join(t.TempDir(), "crashed.wal")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := OpenLog(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.Read()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Group commit is pipelined: batch B is written while A's fdatasync
// runs, and C while B's does. A crash then may tear B in any pattern of
// sectors and keep C whole: C's records say the log was synced only up to
// B, so neither was acknowledged, and the log reads as A and a torn tail.
// Once a batch framed after B's sync exists, damage to B is damage.
func TestWALPipelinedTornBatches(t *testing.T) {
	w := testLog(t)
	a := w.testBatch(t, "a", 3, 100)
	if err := w.sync(a); err != nil {
		t.Fatal(err)
	}
	bStart := w.end
	w.testBatch(t, "b", 4, 900) // not synced
	bEnd := w.end
	c := w.testBatch(t, "c", 2, 100) // nor this
	const sector = 512
	patterns := []struct {
		name    string
		written func(s int64) bool
	}{
		{"none", func(int64) bool { return false }},
		{"the first sector only", func(s int64) bool { return s == bStart/sector }},
		{"all but the first", func(s int64) bool { return s != bStart/sector }},
		{"every other sector", func(s int64) bool { return s%2 == 0 }},
		{"all but the last", func(s int64) bool { return s != (bEnd-1)/sector }},
	}
	tear := func(written func(int64) bool) func(b []byte) {
		return func(b []byte) {
			for s := bStart / sector; s <= (bEnd-1)/sector; s++ {
				if !written(s) {
					clear(b[max(s*sector, bStart):min((s+1)*sector, bEnd)])
				}
			}
		}
	}
	for _, p := range patterns {
		t.Run(p.name, func(t *testing.T) {
			s := readAs(t, w, tear(p.written))
			if s.Corrupt() {
				t.Fatalf("a torn, unacknowledged batch taken for damage: %s", s.Damage)
			}
			if len(s.Records) < 3 || len(s.Records) > 3+4 || s.Damage == nil || len(s.Damage.After) < 2 {
				t.Fatalf("%d records, damage %s; want a's 3 and whatever of b is whole, then c's 2 after the tear", len(s.Records), s.Damage)
			}
		})
	}
	// C synced, and D framed after: D says the log was synced past B.
	if err := w.sync(c); err != nil {
		t.Fatal(err)
	}
	w.testBatch(t, "d", 1, 100)
	for _, p := range patterns {
		t.Run("then synced/"+p.name, func(t *testing.T) {
			s := readAs(t, w, tear(p.written))
			if !s.Corrupt() || s.Damage.At < bStart || s.Damage.At >= bEnd {
				t.Fatalf("damage to a synced batch not refused: %s", s.Damage)
			}
		})
	}
}

// A record whose head checks but whose sequence number skips one is
// refused, even where every mark is in order: records were cut out.
func TestWALSequenceGapIsCaught(t *testing.T) {
	w := testLog(t)
	w.testBatch(t, "a", 5, 50) // none synced: every mark is the start
	s := readAs(t, w, func(b []byte) {
		second := walRecordsAt + walRecordHead + int64(le32(b[walRecordsAt+4:]))
		third := second + walRecordHead + int64(le32(b[second+4:]))
		copy(b[second:], b[third:]) // the second record cut out, the rest moved back
	})
	if !s.Corrupt() || len(s.Records) != 1 {
		t.Fatalf("%d records, damage %s; want the first, then a gap refused", len(s.Records), s.Damage)
	}
}

// The writer keeps the rules the reader relies on: the log's size is a
// whole number of chunks, and every record is written where the size was
// already synced, even for a batch larger than the headroom or one that
// reaches the growth before the batch that made it has synced.
func TestWALWriterKeepsItsRules(t *testing.T) {
	w := testLog(t)
	check := func(what string) {
		t.Helper()
		st, err := w.f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		w.syncMu.Lock()
		syncedSize := w.syncedSize
		w.syncMu.Unlock()
		if st.Size()%walChunk != 0 || st.Size() != w.size {
			t.Fatalf("after %s the log is %d bytes (%d kept), not whole chunks", what, st.Size(), w.size)
		}
		if w.end > syncedSize {
			t.Fatalf("after %s records reach byte %d, but the size is synced only to %d", what, w.end, syncedSize)
		}
	}
	check("the header")
	for i := range 300 { // past the first chunk, and the growth never synced by a batch
		w.testBatch(t, fmt.Sprint("small", i), 3, 300)
		check(fmt.Sprintf("small batch %d", i))
	}
	w.testBatch(t, "big", 1, int(walChunk)+1000)
	check("a batch bigger than the headroom")
}

// erase, which an upgrade that rewrites the store uses, leaves nothing of
// the log on disk and a Log as OpenLog leaves one on an empty file, so
// that the log starts afresh and keeps the writer's rules; it refuses a
// log whose header in force has a checkpoint to recover.
func TestWALEraseStartsAfresh(t *testing.T) {
	w := testLog(t)
	if err := w.Erase(); err == nil {
		t.Fatal("erased a log with a checkpoint to recover")
	}
	for i := range 200 { // past the first chunk: more than the headroom synced
		if err := w.sync(w.testBatch(t, fmt.Sprint("old", i), 3, 300)); err != nil {
			t.Fatal(err)
		}
	}
	// What recovery leaves: a clean header in force, the records behind it.
	if err := w.writeHeader(Header{Format: walFormat, Generation: 3, PageSize: 4096, Meta: make([]byte, metaHeadLen)}); err != nil {
		t.Fatal(err)
	}
	if err := w.Erase(); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(w.path); err != nil || st.Size() != 0 {
		t.Fatalf("the erased log: %v, %v; want it empty", st, err)
	}
	fresh, err := OpenLog(filepath.Join(t.TempDir(), "fresh.wal"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if _, err := fresh.Read(); err != nil {
		t.Fatal(err)
	}
	state := func(w *Log) string {
		w.syncMu.Lock()
		defer w.syncMu.Unlock()
		return fmt.Sprintf("header %+v, end %d, size %d, seq %d, %d pending; synced generation %d to %d, size %d",
			w.header, w.end, w.size, w.seq, len(w.pending), w.syncedGen, w.synced, w.syncedSize)
	}
	if got, want := state(w), state(fresh); got != want {
		t.Fatalf("erased: %s\nwant as a new log: %s", got, want)
	}

	if err := w.writeHeader(Header{Format: walFormat, Generation: 1, Txid: 5, PageSize: 4096, Meta: make([]byte, metaHeadLen)}); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		m := w.testBatch(t, fmt.Sprint("new", i), 3, 300)
		w.syncMu.Lock()
		syncedSize := w.syncedSize
		w.syncMu.Unlock()
		if w.end > syncedSize || w.size%walChunk != 0 {
			t.Fatalf("batch %d reaches byte %d of a %d-byte log synced to %d", i, w.end, w.size, syncedSize)
		}
		if err := w.sync(m); err != nil {
			t.Fatal(err)
		}
	}
	s := readAs(t, w, func([]byte) {})
	if s.Header.Generation != 1 || len(s.Records) != 30 || s.Damage != nil {
		t.Fatalf("after the erase, generation %d, %d records, damage %s; want generation 1's 30, nothing else", s.Header.Generation, len(s.Records), s.Damage)
	}
}
