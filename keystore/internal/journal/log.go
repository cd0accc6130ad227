//go:build linux

package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keystore/internal/crc32c"
)

// The write-ahead log is a file beside the database, its path with ".wal"
// appended (LogPath). A commit is durable once its redo record (redo.go)
// is in the log and the log is fsynced: one small write and one
// fdatasync, where bbolt's own commit costs two fdatasyncs and a dozen
// scattered pages. bbolt writes its pages without syncing them, and a
// checkpoint (db.go) syncs them now and then and starts the log afresh.
//
// Layout, format 3. Two header slots, then the records:
//
//	slot 0 at 0, slot 1 at 4096, records from 8192:
//	  0  8  magic "kgwal\x00\x00\x03" (format 2, of schemas 5 and 6:
//	        "\x02"; format 1, of schema 4: "\x01")
//	  8  8  u64 generation: one more at each checkpoint
//	 16  8  u64 txid: the bbolt transaction of the checkpoint; 0 for none
//	 24  4  u32 the bbolt page size
//	 28  4  u32 CRC-32C of the checkpoint's root page, and
//	 32  4  u32 of its freelist page: both are kept as they are until
//	        the next checkpoint, so they tell the file the log was
//	        written for from another
//	 36  4  u32 CRC-32C of bytes 0..36 and 40..136 (40..120 in formats
//	        1 and 2)
//	 40 80  the head of that transaction's bbolt meta page as it was on
//	        disk: page header and meta (meta.go; the rest of a meta page
//	        is zeros)
//	120 16  the UUID of the store the log belongs to (format 3 only);
//	        all zeros when the writer did not know it (a log recovered
//	        beside no database)
//	record:
//	  0  4  u32 CRC-32C of the generation (8 bytes, not stored) and of
//	        bytes 4..24: the head checks apart from the body, so that a
//	        record whose body is damaged still says where it ends
//	  4  4  u32 body length, at least 1
//	  8  4  u32 sequence number: 1 for the generation's first record,
//	        one more for each next
//	 12  4  u32 CRC-32C of the body
//	 16  8  u64 synced: the offset up to which the generation's records
//	        were known to be on disk (fdatasynced) when this one was
//	        framed; 8192 when none were
//	 24  …  body
//
// Integers are little-endian (the meta page is in bbolt's native order
// anyway and is copied whole). The header in force is the valid slot of
// the higher generation; a checkpoint writes the other slot, so a torn
// header write leaves the previous one. Its records are those from the
// start of the record area on, each the next in sequence, up to the first
// that does not check.
//
// The writer keeps three rules, so that the reader (walread.go) can tell
// a torn write, which was never acknowledged, from damage to what was:
//
//   - Records of a generation are written only once its header is synced.
//   - The file's size is a whole number of walChunks once it has a
//     header. It grows by ftruncate, which file systems journal as one
//     change, so a crash leaves the old size or the new one.
//   - A record is written only where the file's size is already synced:
//     the file grows walHeadroom ahead of the records, so that the
//     batch that grows it syncs the growth long before records reach it.
//
// What the reader can and cannot tell from these is in the package
// doc's caveats.
var walMagic = [8]byte{'k', 'g', 'w', 'a', 'l', 0, 0, walFormat}

// The log's formats: walFormat is what this package writes. A log of
// format 1 (schema 4) or 2 (schemas 5 and 6) is read to recover a store
// before it is upgraded, and retired with a clean header of its own
// format (Recover).
const (
	walFormatV1 = 1
	walFormatV2 = 2
	walFormat   = 3
)

const (
	walHeaderFixed       = 40
	walSlotSize          = 4096
	walRecordsAt   int64 = 2 * walSlotSize
	walRecordHead        = 24
	walHeaderLenV2       = walHeaderFixed + metaHeadLen // formats 1 and 2
	walHeaderLen         = walHeaderLenV2 + 16          // and the store's UUID
)

// walCapacity is how long the log may grow before a checkpoint starts it
// afresh. Longer means fewer checkpoints (each syncs every bbolt page
// written since the last) but a longer replay after a crash and more
// pages held back from reuse in between; 8 MiB is some 15,000 small
// adds, replayed in tens of milliseconds.
var walCapacity int64 = 8 << 20

// walChunk is how far the log file grows, with zeros, when records come
// near its end, and the log's size is always a multiple of it (bytes; a
// rule of the format). Overwriting blocks a file already has makes
// fdatasync write the data alone; appending makes it also commit the file
// system's journal for the new size and blocks, which costs as much
// again. So the log grows a chunk at a time and is then overwritten in
// place.
const walChunk int64 = 256 << 10

// walHeadroom is how far ahead of the records the file grows (bytes):
// half a chunk is some 400 small adds, far more than are written while
// one fdatasync runs, so the growth is synced by the batch that made it
// before any record is written into it.
const walHeadroom = walChunk / 2

// Header is one header slot's contents.
type Header struct {
	Format      byte   // walFormat, or walFormatV1 or V2 for a log being retired
	Generation  uint64 // one more at each checkpoint
	Txid        uint64 // the checkpoint's bbolt transaction; 0: nothing to recover
	PageSize    int
	RootSum     uint32    // CRC-32C of the checkpoint's root page
	FreelistSum uint32    // and of its freelist page
	Meta        []byte    // the head of the meta page, metaHeadLen bytes
	Store       uuid.UUID // the store the log belongs to; Nil before format 3, or unknown
}

// Log is the open write-ahead log, locked against other openers.
type Log struct {
	f       *os.File
	path    string
	header  Header // the header in force
	end     int64  // where the next record goes
	size    int64  // the file's size, all of it written (zeros at least)
	seq     uint32 // the sequence number of the last record framed
	pending []byte // framed records not yet written

	// What fdatasync has made durable. A batch's sync runs outside the
	// committer's lead, while the next batch is framed and written.
	syncMu     sync.Mutex
	syncedGen  uint64 // the generation synced is of
	synced     int64  // its records are on disk up to here
	syncedSize int64  // and the file's size up to here
}

// mark is how far a batch's write reached: what its sync makes
// durable.
type mark struct {
	gen  uint64
	end  int64
	size int64
}

// LogPath is the path of the log of the database file at path.
func LogPath(path string) string { return path + ".wal" }

// OpenLog opens (creating, mode 0600) and locks the log at path, waiting
// up to timeout for another process that holds it; then it fails with
// ErrLocked.
func OpenLog(path string, timeout time.Duration) (*Log, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	return lockWAL(f, path, unix.LOCK_EX, timeout)
}

// OpenLogReadOnly opens the log at path to read it, with a shared lock:
// no opener of the store can hold it meanwhile. It fails as OpenLog does,
// and with an error matching fs.ErrNotExist when there is no log.
func OpenLogReadOnly(path string, timeout time.Duration) (*Log, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return lockWAL(f, path, unix.LOCK_SH, timeout)
}

func lockWAL(f *os.File, path string, how int, timeout time.Duration) (*Log, error) {
	if err := lockFile(f, how, timeout); err != nil {
		f.Close()
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Log{f: f, path: path, size: st.Size()}, nil
}

// lockFile takes a flock (how: LOCK_EX or LOCK_SH) on f, retrying until
// timeout, as bbolt does for the database file.
func lockFile(f *os.File, how int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if err == nil {
			return nil
		}
		if err != unix.EWOULDBLOCK {
			return err
		}
		if time.Now().After(deadline) {
			return errLocked("%s (waited %v)", f.Name(), timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Path is the log file's path.
func (w *Log) Path() string { return w.path }

// Close closes the log, which drops its lock.
func (w *Log) Close() error { return w.f.Close() }

// headerLen is how long a header slot of format is, in bytes; 0 for a
// format this package does not read.
func headerLen(format byte) int {
	switch format {
	case walFormat:
		return walHeaderLen
	case walFormatV2, walFormatV1:
		return walHeaderLenV2
	}
	return 0
}

// parseWALHeader checks one slot, of any format.
func parseWALHeader(b []byte) (Header, bool) {
	if len(b) < walHeaderFixed || !bytes.Equal(b[:7], walMagic[:7]) {
		return Header{}, false
	}
	n := headerLen(b[7])
	if n == 0 || len(b) < n || binary.LittleEndian.Uint32(b[36:]) != walHeaderSum(b[:n]) {
		return Header{}, false
	}
	h := Header{
		Format:      b[7],
		Generation:  binary.LittleEndian.Uint64(b[8:]),
		Txid:        binary.LittleEndian.Uint64(b[16:]),
		PageSize:    int(binary.LittleEndian.Uint32(b[24:])),
		RootSum:     binary.LittleEndian.Uint32(b[28:]),
		FreelistSum: binary.LittleEndian.Uint32(b[32:]),
		Meta:        bytes.Clone(b[walHeaderFixed:walHeaderLenV2]),
	}
	if n == walHeaderLen {
		h.Store = uuid.UUID(b[walHeaderLenV2:walHeaderLen])
	}
	return h, true
}

// walHeaderSum is the checksum a header slot b, as long as its format's
// header, carries.
func walHeaderSum(b []byte) uint32 {
	return crc32c.Update(crc32c.Checksum(b[:36]), b[walHeaderFixed:])
}

// appendWALRecord frames body as record seq of generation gen, framed
// when the generation's records were on disk up to synced.
func appendWALRecord(dst []byte, gen uint64, seq uint32, synced int64, body []byte) []byte {
	at := len(dst)
	dst = append(dst, make([]byte, walRecordHead)...)
	head := dst[at:]
	binary.LittleEndian.PutUint32(head[4:], uint32(len(body)))
	binary.LittleEndian.PutUint32(head[8:], seq)
	binary.LittleEndian.PutUint32(head[12:], crc32c.Checksum(body))
	binary.LittleEndian.PutUint64(head[16:], uint64(synced))
	binary.LittleEndian.PutUint32(head, walHeadSum(gen, head))
	return append(dst, body...)
}

// walHeadSum is the checksum the head of a record of generation gen
// carries: the generation is in it, so that an older generation's records
// left past the end of this one's never check.
func walHeadSum(gen uint64, head []byte) uint32 {
	var g [8]byte
	binary.LittleEndian.PutUint64(g[:], gen)
	return crc32c.Update(crc32c.Checksum(g[:]), head[4:walRecordHead])
}

// appendRecord frames body as the next record of the current generation
// and keeps it for the next flush.
func (w *Log) appendRecord(body []byte) {
	w.syncMu.Lock()
	synced := w.synced
	w.syncMu.Unlock()
	w.seq++
	w.pending = appendWALRecord(w.pending, w.header.Generation, w.seq, synced, body)
}

// write writes the pending records and returns how far they reach, for
// sync. full says they did not fit (the log is at walCapacity, or the
// disk would not let it grow): nothing was written, and the caller must
// checkpoint instead, which makes them durable through bbolt's own file.
func (w *Log) write() (m mark, full bool, err error) {
	m = mark{gen: w.header.Generation, end: w.end, size: w.size}
	if len(w.pending) == 0 {
		return m, false, nil
	}
	end := w.end + int64(len(w.pending))
	if end > walRecordsAt+walCapacity {
		// Also for a batch bigger than the whole log (a few hundred 1 MiB
		// big_key payloads): the checkpoint takes it, and the file keeps
		// its size.
		return m, true, nil
	}
	if end+walHeadroom > w.size {
		if err := w.grow(roundUp(end+walHeadroom, walChunk)); err != nil {
			if errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) || errors.Is(err, unix.EFBIG) {
				return m, true, nil
			}
			return m, false, err
		}
	}
	w.syncMu.Lock()
	unsyncedSize := end > w.syncedSize
	w.syncMu.Unlock()
	if unsyncedSize {
		// Only a batch bigger than the headroom, or one that reaches the
		// growth while the batch that made it is still syncing, pays this.
		if err := w.syncNow(); err != nil {
			return m, false, err
		}
	}
	if _, err := w.f.WriteAt(w.pending, w.end); err != nil {
		return m, false, fmt.Errorf("journal: writing the write-ahead log %s: %w", w.path, err)
	}
	w.end = end
	w.pending = w.pending[:0]
	m.end, m.size = w.end, w.size
	return m, false, nil
}

// sync fdatasyncs the log. It may run while the next batch is written: it
// makes durable at least everything written before it was called, which
// includes m.
func (w *Log) sync(m mark) error {
	if err := unix.Fdatasync(int(w.f.Fd())); err != nil {
		return fmt.Errorf("journal: syncing the write-ahead log %s: %w", w.path, err)
	}
	w.syncMu.Lock()
	defer w.syncMu.Unlock()
	// A batch of a generation a checkpoint has since ended says nothing
	// about the new one's records.
	if m.gen == w.syncedGen && m.end > w.synced {
		w.synced = m.end
	}
	w.syncedSize = max(w.syncedSize, m.size)
	return nil
}

// syncNow syncs what is written so far, from the committer's lead.
func (w *Log) syncNow() error {
	return w.sync(mark{gen: w.header.Generation, end: w.end, size: w.size})
}

// grow makes the file target bytes long: ftruncate first, so that the
// new size reaches the disk in one piece, then zeros over the new part,
// so that the file has the blocks before records overwrite them.
func (w *Log) grow(target int64) error {
	if err := w.f.Truncate(target); err != nil {
		return fmt.Errorf("journal: growing the write-ahead log %s: %w", w.path, err)
	}
	if _, err := w.f.WriteAt(make([]byte, target-w.size), w.size); err != nil {
		w.f.Truncate(w.size) // give back what a failed write took
		return fmt.Errorf("journal: growing the write-ahead log %s: %w", w.path, err)
	}
	w.size = target
	return nil
}

// marshalHeader lays h out as a header slot of its format, which must be
// one this package reads.
func marshalHeader(h Header) []byte {
	n := headerLen(h.Format)
	buf := make([]byte, n)
	copy(buf, walMagic[:])
	buf[7] = h.Format
	binary.LittleEndian.PutUint64(buf[8:], h.Generation)
	binary.LittleEndian.PutUint64(buf[16:], h.Txid)
	binary.LittleEndian.PutUint32(buf[24:], uint32(h.PageSize))
	binary.LittleEndian.PutUint32(buf[28:], h.RootSum)
	binary.LittleEndian.PutUint32(buf[32:], h.FreelistSum)
	copy(buf[walHeaderFixed:walHeaderLenV2], h.Meta)
	if n == walHeaderLen {
		copy(buf[walHeaderLenV2:], h.Store[:])
	}
	binary.LittleEndian.PutUint32(buf[36:], walHeaderSum(buf))
	return buf
}

// roundUp is n rounded up to a multiple of unit.
func roundUp(n, unit int64) int64 { return (n + unit - 1) / unit * unit }

// writeHeader starts generation h.Generation: it writes the slot the
// header in force does not use, fdatasyncs, and empties the log. Pending
// records are dropped: the caller has made them durable in bbolt's file.
// A log that is not yet a whole number of chunks grows to one first.
func (w *Log) writeHeader(h Header) error {
	if len(h.Meta) != metaHeadLen {
		return fmt.Errorf("journal: meta page head of %d bytes, want %d", len(h.Meta), metaHeadLen)
	}
	if headerLen(h.Format) == 0 {
		return fmt.Errorf("journal: write-ahead log format %d", h.Format)
	}
	if target := max(walChunk, roundUp(w.size, walChunk)); target != w.size {
		if err := w.grow(target); err != nil {
			return err
		}
	}
	buf := marshalHeader(h)
	at := int64(h.Generation%2) * walSlotSize
	if _, err := w.f.WriteAt(buf, at); err != nil {
		return fmt.Errorf("journal: writing the write-ahead log %s: %w", w.path, err)
	}
	if err := unix.Fdatasync(int(w.f.Fd())); err != nil {
		return fmt.Errorf("journal: syncing the write-ahead log %s: %w", w.path, err)
	}
	h.Meta = bytes.Clone(h.Meta)
	if headerLen(h.Format) != walHeaderLen {
		h.Store = uuid.Nil // formats 1 and 2 have no room for it
	}
	w.header = h
	w.end = walRecordsAt
	w.seq = 0
	w.pending = w.pending[:0]
	w.syncMu.Lock()
	w.syncedGen, w.synced, w.syncedSize = h.Generation, walRecordsAt, w.size
	w.syncMu.Unlock()
	return nil
}

// Erase zeroes the log and truncates it to nothing, synced, and leaves w
// as OpenLog leaves a new log: no header, no records, nothing written or
// synced. The next writeHeader starts generation 1 on a file it grows
// from nothing. It is for a log whose database holds everything it says
// (a store rewritten by an upgrade, rewrite.go): the header in force must
// say there is nothing to recover.
//
// The records go first, then the other slot, whose header may be an older
// checkpoint, and the header in force last: a crash part way leaves that
// header in force, or no record and no header at all, and never a
// checkpoint whose pages the database has since reused.
func (w *Log) Erase() error {
	if w.header.Txid != 0 || len(w.pending) != 0 {
		return fmt.Errorf("journal: erasing the write-ahead log %s: it holds changes its database may not", w.path)
	}
	st, err := w.f.Stat()
	if err != nil {
		return fmt.Errorf("journal: erasing the write-ahead log %s: %w", w.path, err)
	}
	size := st.Size()
	inForce := int64(w.header.Generation%2) * walSlotSize
	other := walSlotSize - inForce
	for _, r := range [][2]int64{
		{walRecordsAt, size},
		{other, other + walSlotSize},
		{inForce, inForce + walSlotSize},
	} {
		if r[0] >= size {
			continue
		}
		if err := zeroRange(w.f, r[0], min(r[1], size)); err != nil {
			return fmt.Errorf("journal: erasing the write-ahead log %s: %w", w.path, err)
		}
	}
	if err := w.f.Truncate(0); err != nil {
		return fmt.Errorf("journal: erasing the write-ahead log %s: %w", w.path, err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("journal: erasing the write-ahead log %s: %w", w.path, err)
	}
	w.header = Header{}
	w.end, w.size, w.seq = walRecordsAt, 0, 0
	w.pending = w.pending[:0]
	// What was synced of the old file says nothing of the new one: a
	// record must wait again for a synced size (walHeadroom) and for the
	// mark of a synced batch of its own generation.
	w.syncMu.Lock()
	w.syncedGen, w.synced, w.syncedSize = 0, 0, 0
	w.syncMu.Unlock()
	return nil
}

// readSlots reads both header slots as they are, short or damaged.
func (w *Log) readSlots() ([2][]byte, error) {
	var slots [2][]byte
	for i := range slots {
		buf := make([]byte, walHeaderLen)
		n, err := w.f.ReadAt(buf, int64(i)*walSlotSize)
		if err != nil && err != io.EOF {
			return slots, fmt.Errorf("journal: reading the write-ahead log %s: %w", w.path, err)
		}
		slots[i] = buf[:n]
	}
	return slots, nil
}
