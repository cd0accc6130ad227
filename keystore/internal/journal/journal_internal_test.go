//go:build linux

package journal

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
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"github.com/keyctl-go/keyctl-go/keystore/internal/crc32c"
)

// The tests' databases have these buckets, as a store has its own; the
// store's UUID is meta["uuid"].
var testBuckets = [][]byte{[]byte("meta"), []byte("rows"), []byte("names"), []byte("quota"), []byte("orphans"), []byte("expiry")}

const (
	tMeta BucketID = iota
	tRows
	_
	_
	tOrphans
)

func testIdentify(tx *bolt.Tx) uuid.UUID {
	if v := tx.Bucket(testBuckets[tMeta]).Get([]byte("uuid")); len(v) == 16 {
		return uuid.UUID(v)
	}
	return uuid.Nil
}

// openTest opens the journaled database at path as package keystore
// opens a store: the log locked, read and refused if corrupt, the file
// recovered from it, the buckets and a UUID made if new, then the
// journal.
func openTest(t testing.TB, path string) (*DB, error) {
	t.Helper()
	opts := Options{Buckets: testBuckets, Identify: testIdentify, LockTimeout: time.Second}
	w, err := OpenLog(LogPath(path), opts.LockTimeout)
	if err != nil {
		return nil, err
	}
	db, err := func() (*DB, error) {
		state, err := w.Read()
		if err != nil {
			return nil, err
		}
		if err := state.Refusal(w.Path()); err != nil {
			return nil, err
		}
		bdb, mapSize, err := Recover(path, w, &state, opts)
		if err != nil {
			return nil, err
		}
		err = bdb.Update(func(tx *bolt.Tx) error {
			for _, name := range testBuckets {
				if _, err := tx.CreateBucketIfNotExists(name); err != nil {
					return err
				}
			}
			if testIdentify(tx) == uuid.Nil {
				id := uuid.New()
				return tx.Bucket(testBuckets[tMeta]).Put([]byte("uuid"), id[:])
			}
			return nil
		})
		if err == nil {
			var db *DB
			if db, err = New(bdb, mapSize, w, opts); err == nil {
				return db, nil
			}
		}
		bdb.Close()
		return nil, err
	}()
	if err != nil {
		w.Close()
	}
	return db, err
}

// openInternal opens a new journaled database in a temporary directory.
func openInternal(t *testing.T) *DB {
	t.Helper()
	db, err := openTest(t, filepath.Join(t.TempDir(), "keys.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// rowKey is the key of row n in the tests' rows bucket.
func rowKey(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }

// addRows commits n rows from first on, each in its own Update, and
// returns their values.
func addRows(t *testing.T, db *DB, first, n uint32) map[uint32][]byte {
	t.Helper()
	want := map[uint32][]byte{}
	for i := range n {
		k, v := first+i, fmt.Appendf(nil, "payload %d", i)
		err := db.Update(context.Background(), func(tx *bolt.Tx) error { return db.Put(tx, tRows, rowKey(k), v) })
		if err != nil {
			t.Fatal(err)
		}
		want[k] = v
	}
	return want
}

// crashCopy copies the open database's files as a crash of the process
// would leave them, and opens the copy.
func crashCopy(t *testing.T, db *DB) *DB {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "keys.db")
	for _, suffix := range []string{"", ".wal"} {
		b, err := os.ReadFile(db.bolt.Path() + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c, err := openTest(t, dst)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// checkRows checks that db holds the rows want and passes bbolt's check.
func checkRows(t *testing.T, db *DB, want map[uint32][]byte) {
	t.Helper()
	err := db.bolt.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		for k, v := range want {
			if got := tx.Bucket(testBuckets[tRows]).Get(rowKey(k)); !bytes.Equal(got, v) {
				return fmt.Errorf("row %d: %q, want %q", k, got, v)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A full log is not an error: a checkpoint makes the batch durable
// through bbolt's file and starts the log afresh, and a crash after many
// such rounds recovers everything.
func TestFullLogCheckpoints(t *testing.T) {
	defer func(c int64) { walCapacity = c }(walCapacity)
	walCapacity = 1 << 10
	db := openInternal(t)
	gen := db.j.wal.header.Generation
	want := addRows(t, db, 1000, 200)
	if got := db.j.wal.header.Generation; got < gen+5 {
		t.Fatalf("200 commits into a 1 KiB log made %d checkpoints, want several", got-gen)
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
	db.j.mapSize = 2 * db.j.size // pretend the file is at half its mapping
	want := addRows(t, db, 2000, 20)
	for k, v := range before {
		want[k] = v
	}
	if db.j.on {
		t.Fatal("the journal is still on past half the mapping")
	}
	if db.bolt.NoSync {
		t.Fatal("bbolt does not sync its own commits after the journal is off")
	}
	if db.j.wal.header.Txid != 0 {
		t.Fatalf("the log's header names checkpoint %d after the journal went off, want none", db.j.wal.header.Txid)
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
	path := db.bolt.Path()
	db.j.wal.f.Close() // the next write to it fails with EBADF

	update := func() error {
		return db.Update(context.Background(), func(tx *bolt.Tx) error { return db.Put(tx, tRows, rowKey(5000), []byte("lost")) })
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
	db.j.pin.Rollback()
	db.bolt.Close()
	db.j.file.Close()

	again, err := openTest(t, path)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	checkRows(t, again, want)
}

// After Close, Update fails with ErrClosed, which unwraps to EBADF.
func TestUpdateAfterClose(t *testing.T) {
	db := openInternal(t)
	db.Close()
	err := db.Update(context.Background(), func(tx *bolt.Tx) error { return nil })
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("Update after Close: %v, want ErrClosed", err)
	}
}

// FuzzRedoRecord feeds the redo decoder arbitrary bodies: it accepts
// exactly what the encoder makes, and rejects the rest with ErrCorrupt.
func FuzzRedoRecord(f *testing.F) {
	body := appendRedoPut(nil, tRows, []byte("k1"), []byte("value"))
	body = appendRedoDelete(body, tOrphans, []byte{0, 0, 0, 7})
	body = appendRedoPut(body, tMeta, []byte("revision"), nil)
	f.Add(body)
	f.Add([]byte{'P', 9, 1, 'k', 0})
	f.Add([]byte{'D', 0, 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		ops, err := decodeRedo(data, len(testBuckets))
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
		ops2, err := decodeRedo(again, len(testBuckets))
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
	store := uuid.MustParse("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
	f.Add(marshalHeader(Header{Format: walFormat, Generation: 2, Txid: 9, PageSize: 4096, Meta: make([]byte, metaHeadLen), Store: store}), uint64(2))
	f.Add(marshalHeader(Header{Format: walFormatV2, Generation: 3, PageSize: 4096, Meta: make([]byte, metaHeadLen)}), uint64(3))
	f.Fuzz(func(t *testing.T, area []byte, gen uint64) {
		s := State{Size: walRecordsAt + int64(len(area)), Header: Header{Generation: gen, Txid: 1}, HasHeader: true}
		s.scanRecords(area)
		at, synced := walRecordsAt, walRecordsAt
		var again []byte
		for i, r := range s.Records {
			if r.At != at || r.Seq != uint32(i+1) || r.Synced < synced || r.Synced > r.At {
				t.Fatalf("record %d: at %d, seq %d, synced %d, after a record ending at %d synced to %d", i, r.At, r.Seq, r.Synced, at, synced)
			}
			again = appendWALRecord(again, gen, r.Seq, r.Synced, r.Body)
			at, synced = r.End(), r.Synced
		}
		if s.end != at || !bytes.Equal(again, area[:at-walRecordsAt]) {
			t.Fatalf("records end at %d, read up to %d; % x reframe as % x", at, s.end, area[:s.end-walRecordsAt], again)
		}
		if d := s.Damage; d != nil {
			if d.At != s.end {
				t.Fatalf("damage at %d, records end at %d", d.At, s.end)
			}
			for _, r := range d.After {
				if r.At < d.At || r.End() > s.Size {
					t.Fatalf("record found at %d..%d, outside %d..%d", r.At, r.End(), d.At, s.Size)
				}
				if framed := appendWALRecord(nil, gen, r.Seq, r.Synced, r.Body); !bytes.Equal(framed, area[r.At-walRecordsAt:r.End()-walRecordsAt]) {
					t.Fatalf("record at %d reframes as % x", r.At, framed)
				}
			}
		}
		if h, ok := parseWALHeader(area); ok {
			n := headerLen(h.Format)
			if binary.LittleEndian.Uint32(area[36:]) != walHeaderSum(area[:n]) || len(h.Meta) != metaHeadLen {
				t.Fatalf("accepted a header whose checksum does not match")
			}
			if again := marshalHeader(h); !bytes.Equal(again, area[:n]) {
				t.Fatalf("header % x reframes as % x", area[:n], again)
			}
		}
	})
}

// FuzzWALRecordsV1 does the same for the format-1 reader, kept for
// upgrading schema-4 stores: what it yields is what was framed.
func FuzzWALRecordsV1(f *testing.F) {
	area := appendWALRecordV1(nil, 7, []byte("first"))
	area = appendWALRecordV1(area, 7, appendRedoPut(nil, tRows, []byte("k"), []byte("v")))
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
	sum := crc32c.Update(crc32c.Checksum(g[:]), body)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(body)))
	dst = binary.LittleEndian.AppendUint32(dst, sum)
	return append(dst, body...)
}

// testWALArea is a record area of generation gen holding n records, each
// framed once the one before it was synced (a lone writer), then zeros.
func testWALArea(gen uint64, n int) []byte {
	var area []byte
	for i := range n {
		body := appendRedoPut(nil, tRows, fmt.Appendf(nil, "key %d", i), bytes.Repeat([]byte{byte(i)}, 40+i))
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
	gen := db.j.wal.header.Generation
	// The batch is the store's first commit: the journal starts with a
	// checkpoint, so the batch meets an empty log.
	big := bytes.Repeat([]byte("x"), 2*int(walChunk))
	err := db.Update(context.Background(), func(tx *bolt.Tx) error { return db.Put(tx, tRows, rowKey(2000), big) })
	if err != nil {
		t.Fatal(err)
	}
	if got := db.j.wal.header.Generation; got != gen+2 {
		t.Errorf("a 512 KiB batch into an empty 16 KiB log made %d checkpoints, want 2 (the journal's start, then the batch's)", got-gen)
	}
	st, err := os.Stat(LogPath(db.bolt.Path()))
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > max(walChunk, walRecordsAt+walCapacity) {
		t.Errorf("the log grew to %d bytes for one big batch", st.Size())
	}
	checkRows(t, crashCopy(t, db), map[uint32][]byte{2000: big})
}
