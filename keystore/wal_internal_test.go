package keystore

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
				s := walState{header: walHeader{Generation: 3, Txid: 1}, hasHeader: true}
				s.scanRecords(damaged)
				switch {
				case len(s.records) != rec || s.end != walRecordsAt+int64(starts[rec]):
					t.Fatalf("bit %d of byte %d (record %d): %d records, ending at %d", bit, byteAt, rec+1, len(s.records), s.end)
				case rec < n-1 && (!s.corrupt() || s.damage.at != s.end):
					t.Fatalf("bit %d of byte %d (record %d) taken for a torn write: %s", bit, byteAt, rec+1, s.damage)
				case rec == n-1 && s.corrupt():
					t.Fatalf("bit %d of byte %d of the last record taken for damage: %s", bit, byteAt, s.damage)
				}
			}
		}
	}
}

// String says what the damage is, for test failures.
func (d *walDamage) String() string {
	if d == nil {
		return "none"
	}
	return fmt.Sprintf("at %d: %s; proof %q; %d intact records after", d.at, d.problem, d.proof, len(d.after))
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// testLog is a log file in a temporary directory, written by walFile as
// the journal writes it, with generation 2 holding a checkpoint.
func testLog(t *testing.T) *walFile {
	t.Helper()
	w, err := openWAL(filepath.Join(t.TempDir(), "keys.db.wal"), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.close() })
	if err := w.writeHeader(walHeader{Format: walFormat, Generation: 2, Txid: 9, PageSize: 4096, Meta: make([]byte, metaHeadLen)}); err != nil {
		t.Fatal(err)
	}
	return w
}

// batch frames n records of size bytes each, tagged with name, and writes
// them; the caller syncs them or not.
func (w *walFile) testBatch(t *testing.T, name string, n, size int) walMark {
	t.Helper()
	for i := range n {
		w.appendRecord(appendRedoPut(nil, idRows, fmt.Appendf(nil, "%s%d", name, i), bytes.Repeat([]byte{'v'}, size)))
	}
	m, full, err := w.write()
	if err != nil || full {
		t.Fatalf("writing batch %s: full %t, %v", name, full, err)
	}
	return m
}

// readAs reads the log as a crash left it: the file's bytes, with edit
// applied, in a file of its own.
func readAs(t *testing.T, w *walFile, edit func(b []byte)) walState {
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
	c, err := openWAL(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	s, err := c.read()
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
			if s.corrupt() {
				t.Fatalf("a torn, unacknowledged batch taken for damage: %s", s.damage)
			}
			if len(s.records) < 3 || len(s.records) > 3+4 || s.damage == nil || len(s.damage.after) < 2 {
				t.Fatalf("%d records, damage %s; want a's 3 and whatever of b is whole, then c's 2 after the tear", len(s.records), s.damage)
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
			if !s.corrupt() || s.damage.at < bStart || s.damage.at >= bEnd {
				t.Fatalf("damage to a synced batch not refused: %s", s.damage)
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
	if !s.corrupt() || len(s.records) != 1 {
		t.Fatalf("%d records, damage %s; want the first, then a gap refused", len(s.records), s.damage)
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
