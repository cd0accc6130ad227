package keystore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// addRows commits n small keys from serial first on, each in its own
// Update, and returns their payloads.
func addRows(t *testing.T, db *DB, first, n uint32) map[uint32][]byte {
	t.Helper()
	want := map[uint32][]byte{}
	for i := range n {
		r := &KeyRecord{Serial: first + i, Type: "user", Description: "d", Perm: 0x3f010000, Pins: 1}
		p := fmt.Appendf(nil, "payload %d", i)
		err := db.Update(context.Background(), func(tx *Tx) error {
			if err := tx.PutKey(r); err != nil {
				return err
			}
			return tx.PutPayload(r, p)
		})
		if err != nil {
			t.Fatal(err)
		}
		want[r.Serial] = p
	}
	return want
}

// crashCopy copies the open store's files as a crash of the process would
// leave them, and opens the copy.
func crashCopy(t *testing.T, db *DB) *DB {
	t.Helper()
	dst := CopyStoreFiles(t, db.path)
	c, err := Open(dst, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func checkRows(t *testing.T, db *DB, want map[uint32][]byte) {
	t.Helper()
	err := db.View(func(tx *Tx) error {
		for serial, p := range want {
			r, err := tx.Key(serial)
			if err != nil || r == nil {
				return fmt.Errorf("key %d: %v, %v", serial, r, err)
			}
			got, err := tx.Payload(r)
			if err != nil || !bytes.Equal(got, p) {
				return fmt.Errorf("key %d: payload %q, %v; want %q", serial, got, err, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Check(); err != nil {
		t.Fatal(err)
	}
}

func openInternal(t *testing.T) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "keys.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// A full log is not an error: a checkpoint makes the batch durable
// through bbolt's file and starts the log afresh, and a crash after many
// such rounds recovers everything.
func TestFullLogCheckpoints(t *testing.T) {
	defer func(c int64) { walCapacity = c }(walCapacity)
	walCapacity = 4 << 10
	db := openInternal(t)
	gen := db.journal.wal.header.Generation
	want := addRows(t, db, 1000, 200)
	if got := db.journal.wal.header.Generation; got < gen+5 {
		t.Fatalf("200 commits into a 4 KiB log made %d checkpoints, want several", got-gen)
	}
	checkRows(t, crashCopy(t, db), want)
}

// A store that grows to half of its mapping leaves the journal (bbolt
// could not remap under the pin): it goes on taking writes, synced by
// bbolt, and the log says there is nothing to recover, so a crash then
// loses nothing either.
func TestGrowingPastHalfTheMappingLeavesTheJournal(t *testing.T) {
	db := openInternal(t)
	before := addRows(t, db, 1000, 5)
	db.journal.mapSize = 2 * db.journal.size // pretend the file is at half its mapping
	want := addRows(t, db, 2000, 20)
	for k, v := range before {
		want[k] = v
	}
	if db.journal.on {
		t.Fatal("the journal is still on past half the mapping")
	}
	if db.bolt.NoSync {
		t.Fatal("bbolt does not sync its own commits after the journal is off")
	}
	if db.journal.wal.header.Txid != 0 {
		t.Fatalf("the log's header names checkpoint %d after the journal went off, want none", db.journal.wal.header.Txid)
	}
	checkRows(t, crashCopy(t, db), want)
}

// When the log cannot be written, the commit is visible but not durable:
// its caller is told so, later writes are refused with the same error
// (they would build on it), reads go on, and reopening recovers the store
// as the log has it.
func TestUnwritableLogStopsWrites(t *testing.T) {
	db := openInternal(t)
	want := addRows(t, db, 1000, 10)
	path := db.path
	db.journal.wal.f.Close() // the next write to it fails with EBADF

	r := &KeyRecord{Serial: 5000, Type: "user", Description: "d", Perm: 0x3f010000, Pins: 1}
	update := func() error {
		return db.Update(context.Background(), func(tx *Tx) error { return tx.PutKey(r) })
	}
	err := update()
	if err == nil || !strings.Contains(err.Error(), "reopen") {
		t.Fatalf("Update with an unwritable log: %v, want an error saying to reopen", err)
	}
	if err2 := update(); err2 == nil || !strings.Contains(err2.Error(), "reopen") {
		t.Fatalf("a later Update: %v, want it refused as the first was", err2)
	}
	checkRows(t, db, want) // reads still work
	// As a crash would: no clean close. bbolt's Close waits for readers,
	// so the pin goes first.
	db.journal.pin.Rollback()
	db.bolt.Close()
	db.journal.file.Close()

	again, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	checkRows(t, again, want)
}

// FuzzRedoRecord feeds the redo decoder arbitrary bodies: it accepts
// exactly what the encoder makes, and rejects the rest with ErrCorrupt.
func FuzzRedoRecord(f *testing.F) {
	body := appendRedoPut(nil, idRows, []byte("k1"), []byte("value"))
	body = appendRedoDelete(body, idOrphans, []byte{0, 0, 0, 7})
	body = appendRedoPut(body, idMeta, []byte("revision"), nil)
	f.Add(body)
	f.Add([]byte{'P', 9, 1, 'k', 0})
	f.Add([]byte{'D', 0, 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		ops, err := decodeRedo(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decoder error %v is not ErrCorrupt", err)
			}
			return
		}
		var again []byte
		for _, op := range ops {
			if op.Kind == redoPut {
				again = appendRedoPut(again, op.Bucket, op.Key, op.Value)
			} else {
				again = appendRedoDelete(again, op.Bucket, op.Key)
			}
		}
		// Varints have more than one encoding; what decodes must decode
		// the same from the canonical form.
		ops2, err := decodeRedo(again)
		if err != nil || len(ops2) != len(ops) {
			t.Fatalf("re-encoded % x does not decode alike: %v", again, err)
		}
		for i := range ops {
			if ops[i].Kind != ops2[i].Kind || ops[i].Bucket != ops2[i].Bucket ||
				!bytes.Equal(ops[i].Key, ops2[i].Key) || !bytes.Equal(ops[i].Value, ops2[i].Value) {
				t.Fatalf("op %d: %+v, then %+v", i, ops[i], ops2[i])
			}
		}
	})
}

// FuzzWALRecords feeds the log's record reader and header parser
// arbitrary bytes: they never panic; the records read are in sequence from
// 1, back to back from the start of the record area, with their synced
// marks in order, and reframe as exactly the bytes they were read from;
// damage starts where they end, and the intact records found after it are
// inside the area and reframe as theirs.
func FuzzWALRecords(f *testing.F) {
	f.Add(testWALArea(7, 3), uint64(7))
	f.Add(testWALArea(7, 3), uint64(8))
	f.Add([]byte{5, 0, 0, 0, 1, 2, 3, 4, 'a'}, uint64(0))
	f.Fuzz(func(t *testing.T, area []byte, gen uint64) {
		s := walState{size: walRecordsAt + int64(len(area)), header: walHeader{Generation: gen, Txid: 1}, hasHeader: true}
		s.scanRecords(area)
		at, synced := walRecordsAt, walRecordsAt
		var again []byte
		for i, r := range s.records {
			if r.at != at || r.seq != uint32(i+1) || r.synced < synced || r.synced > r.at {
				t.Fatalf("record %d: at %d, seq %d, synced %d, after a record ending at %d synced to %d", i, r.at, r.seq, r.synced, at, synced)
			}
			again = appendWALRecord(again, gen, r.seq, r.synced, r.body)
			at, synced = r.end(), r.synced
		}
		if s.end != at || !bytes.Equal(again, area[:at-walRecordsAt]) {
			t.Fatalf("records end at %d, read up to %d; % x reframe as % x", at, s.end, area[:s.end-walRecordsAt], again)
		}
		if d := s.damage; d != nil {
			if d.at != s.end {
				t.Fatalf("damage at %d, records end at %d", d.at, s.end)
			}
			for _, r := range d.after {
				if r.at < d.at || r.end() > s.size {
					t.Fatalf("record found at %d..%d, outside %d..%d", r.at, r.end(), d.at, s.size)
				}
				if framed := appendWALRecord(nil, gen, r.seq, r.synced, r.body); !bytes.Equal(framed, area[r.at-walRecordsAt:r.end()-walRecordsAt]) {
					t.Fatalf("record at %d reframes as % x", r.at, framed)
				}
			}
		}
		if h, ok := parseWALHeader(area); ok {
			if binary.LittleEndian.Uint32(area[36:]) != walHeaderSum(area) || len(h.Meta) != metaHeadLen {
				t.Fatalf("accepted a header whose checksum does not match")
			}
		}
	})
}

// FuzzWALRecordsV1 does the same for the format-1 reader, kept for
// upgrading schema-4 stores: what it yields is what was framed.
func FuzzWALRecordsV1(f *testing.F) {
	area := appendWALRecordV1(nil, 7, []byte("first"))
	area = appendWALRecordV1(area, 7, appendRedoPut(nil, idRows, []byte("k"), []byte("v")))
	f.Add(area, uint64(7))
	f.Add(area, uint64(8))
	f.Add([]byte{5, 0, 0, 0, 1, 2, 3, 4, 'a'}, uint64(0))
	f.Fuzz(func(t *testing.T, area []byte, gen uint64) {
		bodies, used := splitWALRecordsV1(area, gen)
		if used > len(area) {
			t.Fatalf("used %d of %d bytes", used, len(area))
		}
		var again []byte
		for _, b := range bodies {
			again = appendWALRecordV1(again, gen, b)
		}
		if !bytes.Equal(again, area[:used]) {
			t.Fatalf("records % x reframe as % x", area[:used], again)
		}
	})
}

// appendWALRecordV1 frames body as a format-1 record of generation gen.
func appendWALRecordV1(dst []byte, gen uint64, body []byte) []byte {
	var g [8]byte
	binary.LittleEndian.PutUint64(g[:], gen)
	sum := crc32c(crc32c(0, g[:]), body)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(body)))
	dst = binary.LittleEndian.AppendUint32(dst, sum)
	return append(dst, body...)
}

// testWALArea is a record area of generation gen holding n records, each
// framed once the one before it was synced (a lone writer), then zeros.
func testWALArea(gen uint64, n int) []byte {
	var area []byte
	for i := range n {
		body := appendRedoPut(nil, idRows, fmt.Appendf(nil, "key %d", i), bytes.Repeat([]byte{byte(i)}, 40+i))
		area = appendWALRecord(area, gen, uint32(i+1), walRecordsAt+int64(len(area)), body)
	}
	return append(area, make([]byte, 64)...)
}

// A batch bigger than the whole log is made durable by a checkpoint: the
// log file does not grow past its capacity for it (nor past the one chunk
// every log has).
func TestBatchBiggerThanTheLogCheckpoints(t *testing.T) {
	defer func(c int64) { walCapacity = c }(walCapacity)
	walCapacity = 16 << 10
	db := openInternal(t)
	gen := db.journal.wal.header.Generation
	// The batch is the store's first commit: the journal starts with a
	// checkpoint, so the batch meets an empty log.
	r := &KeyRecord{Serial: 2000, Type: "big_key", Description: "big", Perm: 0x3f010000, Pins: 1}
	big := bytes.Repeat([]byte("x"), 2*int(walChunk))
	err := db.Update(context.Background(), func(tx *Tx) error {
		if err := tx.PutKey(r); err != nil {
			return err
		}
		return tx.PutPayload(r, big)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := db.journal.wal.header.Generation; got != gen+2 {
		t.Errorf("a 512 KiB batch into an empty 16 KiB log made %d checkpoints, want 2 (the journal's start, then the batch's)", got-gen)
	}
	st, err := os.Stat(db.path + ".wal")
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > max(walChunk, walRecordsAt+walCapacity) {
		t.Errorf("the log grew to %d bytes for one big batch", st.Size())
	}
	checkRows(t, crashCopy(t, db), map[uint32][]byte{2000: big})
}
