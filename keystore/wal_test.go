//go:build linux

package keystore_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keystore"
)

// logRecord is where a record sits in a log file.
type logRecord struct{ at, size int }

// logRecords walks the records of the header in force, as package journal
// lays them out (format 3), up to the first that does not check.
func logRecords(t *testing.T, wal []byte) []logRecord {
	t.Helper()
	var gen uint64
	for _, slot := range []int{0, 4096} {
		if string(wal[slot:slot+8]) == "kgwal\x00\x00\x03" {
			gen = max(gen, binary.LittleEndian.Uint64(wal[slot+8:]))
		}
	}
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	var recs []logRecord
	for at := 8192; at+24 <= len(wal); {
		n := int(binary.LittleEndian.Uint32(wal[at+4:]))
		sum := crc32.Update(crc32.Checksum(binary.LittleEndian.AppendUint64(nil, gen), castagnoli), castagnoli, wal[at+4:at+24])
		if n == 0 || at+24+n > len(wal) || sum != binary.LittleEndian.Uint32(wal[at:]) {
			break
		}
		recs = append(recs, logRecord{at, 24 + n})
		at += 24 + n
	}
	return recs
}

// crashedStore writes n keys (serials 1000 on), one Update each, with
// payloads of size bytes, into a new store, and returns a copy of its
// files as a power failure may leave them: the database file as it was at
// the journal's only checkpoint, the log holding every commit since, one
// record each (as a lone writer frames them, each once the one before it
// is synced). want is each key's payload.
func crashedStore(t *testing.T, n, size int) (path string, recs []logRecord, want map[uint32][]byte) {
	t.Helper()
	t.Cleanup(keystore.SetWALGrowth(1 << 40)) // no checkpoint but the journal's first
	db, live := openTemp(t, keystore.Options{})
	atCheckpoint, err := os.ReadFile(live)
	if err != nil {
		t.Fatal(err)
	}
	want = map[uint32][]byte{}
	for i := range uint32(n) {
		p := fmt.Appendf(nil, "payload %d ", i)
		p = append(p, bytes.Repeat([]byte{'.'}, max(0, size-len(p)))...)
		putKey(t, db, userKey(1000+i), p)
		want[1000+i] = p
	}
	path = keystore.CopyStoreFiles(t, live)
	if err := os.WriteFile(path, atCheckpoint, 0o600); err != nil {
		t.Fatal(err)
	}
	wal, err := os.ReadFile(path + ".wal")
	if err != nil {
		t.Fatal(err)
	}
	if recs = logRecords(t, wal); len(recs) != n {
		t.Fatalf("the log holds %d records, want one for each of the %d commits", len(recs), n)
	}
	return path, recs, want
}

// editLog changes the log of the store at path with edit.
func editLog(t *testing.T, path string, edit func(wal []byte) []byte) {
	t.Helper()
	wal, err := os.ReadFile(path + ".wal")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".wal", edit(wal), 0o600); err != nil {
		t.Fatal(err)
	}
}

// flipBit flips one bit of byte at of the store's log.
func flipBit(t *testing.T, path string, at int) {
	t.Helper()
	editLog(t, path, func(wal []byte) []byte {
		wal[at] ^= 0x08
		return wal
	})
}

// wantRefused opens the store at path, which must fail with ErrCorrupt
// (EBADMSG) naming the log and the byte at which its damage starts, and
// change neither the database nor the log.
func wantRefused(t *testing.T, path string, at int) {
	t.Helper()
	dbBefore, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	walBefore, err := os.ReadFile(path + ".wal")
	if err != nil {
		t.Fatal(err)
	}
	db, err := keystore.Open(path, keystore.Options{})
	if err == nil {
		db.Close()
		t.Fatal("a store whose log is damaged opened")
	}
	wantErr(t, err, keystore.ErrCorrupt, unix.EBADMSG)
	if msg := err.Error(); !strings.Contains(msg, path+".wal") || !strings.Contains(msg, fmt.Sprintf("byte %d:", at)) {
		t.Errorf("the error %q does not name the log %s.wal and byte %d", msg, path, at)
	}
	if dbAfter, _ := os.ReadFile(path); !bytes.Equal(dbAfter, dbBefore) {
		t.Error("the refused open changed the database file")
	}
	if walAfter, _ := os.ReadFile(path + ".wal"); !bytes.Equal(walAfter, walBefore) {
		t.Error("the refused open changed the log")
	}
}

// A bit flipped in any part of any record but the last is damage to a
// change that was acknowledged: a later record says the log was synced
// past it. The store is refused, naming the log and the record's place,
// and left as it was; before format 2 it opened without every change
// from the damaged one on.
func TestDamagedLogIsRefused(t *testing.T) {
	base, recs, _ := crashedStore(t, 101, 40)
	fields := []struct {
		name string
		at   int // in the record
	}{
		{"head checksum", 1},
		{"length", 4},
		{"sequence number", 8},
		{"body checksum", 12},
		{"synced mark", 16},
		{"body", 24 + 20},
	}
	for _, rec := range []struct {
		name string
		i    int
	}{{"first", 0}, {"middle", 50}, {"last but one", 99}} {
		for _, f := range fields {
			t.Run(rec.name+"/"+f.name, func(t *testing.T) {
				path := keystore.CopyStoreFiles(t, base)
				flipBit(t, path, recs[rec.i].at+f.at)
				wantRefused(t, path, recs[rec.i].at)
			})
		}
	}
}

// Damage to the last record cannot be told from a torn write (the
// package doc's caveats): the store opens without that one change.
func TestDamageToTheLastRecordLooksTorn(t *testing.T) {
	path, recs, want := crashedStore(t, 20, 40)
	flipBit(t, path, recs[19].at+24+20)
	want[1019] = nil
	wantKeys(t, path, want)
}

// A crash in the middle of the last batch's write leaves any of its
// sectors as they were (zeros here), in any pattern. That batch was never
// acknowledged: the store opens with every change before it.
func TestTornLastBatchOpens(t *testing.T) {
	base, recs, want := crashedStore(t, 20, 3000)
	want[1019] = nil
	last := recs[19]
	const sector = 512
	first, final := last.at/sector, (last.at+last.size-1)/sector
	if final-first < 4 {
		t.Fatalf("the last record spans sectors %d to %d; the patterns need more", first, final)
	}
	patterns := []struct {
		name    string
		written func(s int) bool // whether sector s reached the disk
	}{
		{"none", func(int) bool { return false }},
		{"the first sector only", func(s int) bool { return s == first }},
		{"all but the first", func(s int) bool { return s != first }},
		{"all but one in the middle", func(s int) bool { return s != (first+final)/2 }},
		{"the last sector only", func(s int) bool { return s == final }},
		{"every other sector", func(s int) bool { return (s-first)%2 == 0 }},
	}
	for _, p := range patterns {
		t.Run(p.name, func(t *testing.T) {
			path := keystore.CopyStoreFiles(t, base)
			editLog(t, path, func(wal []byte) []byte {
				for s := first; s <= final; s++ {
					if !p.written(s) {
						clear(wal[max(s*sector, last.at):min((s+1)*sector, last.at+last.size)])
					}
				}
				return wal
			})
			wantKeys(t, path, want)
		})
	}
}

// A log cut short anywhere in its records is refused: its size is no
// longer a whole number of chunks.
func TestCutLogIsRefused(t *testing.T) {
	base, recs, _ := crashedStore(t, 101, 40)
	for _, c := range []struct {
		name string
		size int
	}{
		{"between two records", recs[50].at},
		{"in a record's head", recs[50].at + 10},
		{"in a record's body", recs[50].at + 30},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := keystore.CopyStoreFiles(t, base)
			if err := os.Truncate(path+".wal", int64(c.size)); err != nil {
				t.Fatal(err)
			}
			wantRefused(t, path, recs[50].at)
		})
	}
}

// A log cut at a chunk boundary, which keeps the size rule, is refused
// when the cut goes through a record: records are written only where the
// file's size was already synced, so a torn write never runs past the end.
func TestLogCutAtAChunkBoundaryIsRefused(t *testing.T) {
	path, recs, _ := crashedStore(t, 80, 4000)
	cut := int(keystore.WALChunk)
	i := 0
	for i < len(recs) && recs[i].at+recs[i].size <= cut {
		i++
	}
	if i == len(recs) || recs[i].at+24 > cut {
		t.Fatalf("no record's body spans byte %d; the test needs one", cut)
	}
	if err := os.Truncate(path+".wal", int64(cut)); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, path, recs[i].at)
}

// Bytes cut out of the middle of the log move the records after them
// back: refused, whether the gap is a whole record (the sequence skips
// one) or falls across records (a moved record's mark is past its place,
// and past the damage), and whether the file keeps its size or not.
func TestLogWithBytesCutOutIsRefused(t *testing.T) {
	base, recs, _ := crashedStore(t, 101, 40)
	for _, c := range []struct {
		name     string
		from, to int
		keepSize bool
	}{
		{"a whole record", recs[50].at, recs[51].at, true},
		{"across records", recs[50].at + 30, recs[52].at + 30, true},
		{"across records, the file shorter", recs[50].at + 30, recs[52].at + 30, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := keystore.CopyStoreFiles(t, base)
			editLog(t, path, func(wal []byte) []byte {
				cut := append(wal[:c.from:c.from], wal[c.to:]...)
				if c.keepSize {
					cut = append(cut, make([]byte, c.to-c.from)...)
				}
				return cut
			})
			wantRefused(t, path, recs[50].at)
		})
	}
}

// A header in force that was damaged leaves the older one, which would
// recover nothing of what came after it: the records of the damaged
// header's generation give it away, and the store is refused.
func TestDamagedHeaderIsRefused(t *testing.T) {
	path, _, _ := crashedStore(t, 20, 40)
	wal, err := os.ReadFile(path + ".wal")
	if err != nil {
		t.Fatal(err)
	}
	slot := 0
	if binary.LittleEndian.Uint64(wal[4096+8:]) > binary.LittleEndian.Uint64(wal[8:]) {
		slot = 4096
	}
	flipBit(t, path, slot+60) // in the checkpoint's meta page
	wantRefused(t, path, slot)
}
