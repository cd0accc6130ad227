package keystore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// The write-ahead log is a file beside the database, its path with ".wal"
// appended. A commit is durable once its redo record (redo.go) is in the
// log and the log is fsynced: one small write and one fdatasync, where
// bbolt's own commit costs two fdatasyncs and a dozen scattered pages.
// bbolt writes its pages without syncing them, and a checkpoint
// (journal.go) syncs them now and then and starts the log afresh.
//
// Layout. Two header slots, then the records:
//
//	slot 0 at 0, slot 1 at 4096, records from 8192:
//	  0  8  magic "kgwal\x00\x00\x01"
//	  8  8  u64 generation: one more at each checkpoint
//	 16  8  u64 txid: the bbolt transaction of the checkpoint; 0 for none
//	 24  4  u32 the bbolt page size
//	 28  4  u32 CRC-32C of the checkpoint's root page, and
//	 32  4  u32 of its freelist page: both are kept as they are until
//	        the next checkpoint, so they tell the file the log was
//	        written for from another
//	 36  4  u32 CRC-32C of bytes 0..36 and 40..120
//	 40 80  the head of that transaction's bbolt meta page as it was on
//	        disk: page header and meta (the rest of a meta page is zeros)
//	record:
//	  0  4  u32 body length
//	  4  4  u32 CRC-32C of the generation (8 bytes) and the body
//	  8  …  body
//
// Integers are little-endian (the meta page is in bbolt's native order
// anyway and is copied whole). The header in force is the valid slot of
// the higher generation; a checkpoint writes the other slot, so a torn
// header write leaves the previous one. Its records are those from the
// start of the record area up to the first that does not check: one of
// an older generation left from before the checkpoint (the generation is
// in its CRC), a torn write, or zeros.
var walMagic = [8]byte{'k', 'g', 'w', 'a', 'l', 0, 0, 1}

const (
	walHeaderFixed       = 40
	walSlotSize          = 4096
	walRecordsAt   int64 = 2 * walSlotSize
	walRecordHead        = 8
	walHeaderLen         = walHeaderFixed + metaHeadLen
)

// walCapacity is how long the log may grow before a checkpoint starts it
// afresh. Longer means fewer checkpoints (each syncs every bbolt page
// written since the last) but a longer replay after a crash and more
// pages held back from reuse in between; 8 MiB is some 15,000 small
// adds, replayed in tens of milliseconds.
var walCapacity int64 = 8 << 20

// walChunk is how far the log file is extended, with zeros, when records
// reach its end. Overwriting blocks a file already has makes fdatasync
// write the data alone; appending makes it also commit the file system's
// journal for the new size and blocks, which costs as much again. So the
// log grows a chunk at a time and is then overwritten in place.
var walChunk int64 = 256 << 10

// walHeader is one header slot's contents.
type walHeader struct {
	Generation  uint64
	Txid        uint64
	PageSize    int
	RootSum     uint32 // CRC-32C of the checkpoint's root page
	FreelistSum uint32 // and of its freelist page
	Meta        []byte // the head of the meta page, metaHeadLen bytes
}

// walFile is the open log, locked against other openers.
type walFile struct {
	f       *os.File
	path    string
	header  walHeader // the header in force
	end     int64     // where the next record goes
	size    int64     // bytes of the file written at least once
	pending []byte    // framed records not yet written
}

// openWAL opens (creating, mode 0600) and locks the log at path, waiting
// up to timeout for another process that holds it.
func openWAL(path string, timeout time.Duration) (*walFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := lockFile(f, timeout); err != nil {
		f.Close()
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &walFile{f: f, path: path, size: st.Size()}, nil
}

// lockFile takes an exclusive flock on f, retrying until timeout, as
// bbolt does for the database file.
func lockFile(f *os.File, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return nil
		}
		if err != unix.EWOULDBLOCK {
			return err
		}
		if time.Now().After(deadline) {
			return errWALLocked
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var errWALLocked = errors.New("keystore: write-ahead log locked")

func (w *walFile) close() error { return w.f.Close() } // closing drops the flock

// readHeader finds the header in force: ok is false for a log that has
// none yet (new, or never checkpointed).
func (w *walFile) readHeader() (ok bool, err error) {
	var best *walHeader
	for i := range int64(2) {
		buf := make([]byte, walHeaderLen)
		n, err := w.f.ReadAt(buf, i*walSlotSize)
		if err != nil && err != io.EOF {
			return false, fmt.Errorf("keystore: reading the write-ahead log %s: %w", w.path, err)
		}
		h, valid := parseWALHeader(buf[:n])
		if valid && (best == nil || h.Generation > best.Generation) {
			best = &h
		}
	}
	if best == nil {
		return false, nil
	}
	w.header = *best
	w.end = walRecordsAt
	return true, nil
}

// parseWALHeader checks one slot.
func parseWALHeader(b []byte) (walHeader, bool) {
	if len(b) < walHeaderLen || !bytes.Equal(b[:8], walMagic[:]) {
		return walHeader{}, false
	}
	if binary.LittleEndian.Uint32(b[36:]) != walHeaderSum(b) {
		return walHeader{}, false
	}
	return walHeader{
		Generation:  binary.LittleEndian.Uint64(b[8:]),
		Txid:        binary.LittleEndian.Uint64(b[16:]),
		PageSize:    int(binary.LittleEndian.Uint32(b[24:])),
		RootSum:     binary.LittleEndian.Uint32(b[28:]),
		FreelistSum: binary.LittleEndian.Uint32(b[32:]),
		Meta:        bytes.Clone(b[walHeaderFixed:walHeaderLen]),
	}, true
}

// walHeaderSum is the checksum a header slot b carries.
func walHeaderSum(b []byte) uint32 {
	return crc32.Update(crc32.Checksum(b[:36], castagnoli()), castagnoli(), b[walHeaderFixed:walHeaderLen])
}

// records reads the bodies of the header's records, in order, up to the
// first that does not check, and sets end after the last.
func (w *walFile) records() ([][]byte, error) {
	start := walRecordsAt
	st, err := w.f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() <= start {
		return nil, nil
	}
	area := make([]byte, st.Size()-start)
	if _, err := w.f.ReadAt(area, start); err != nil && err != io.EOF {
		return nil, fmt.Errorf("keystore: reading the write-ahead log %s: %w", w.path, err)
	}
	bodies, used := splitWALRecords(area, w.header.Generation)
	w.end = start + int64(used)
	return bodies, nil
}

// splitWALRecords cuts area into the bodies of generation gen's records,
// stopping at the first that does not check, and says how many bytes
// they took.
func splitWALRecords(area []byte, gen uint64) (bodies [][]byte, used int) {
	var g [8]byte
	binary.LittleEndian.PutUint64(g[:], gen)
	seed := crc32.Checksum(g[:], castagnoli())
	for len(area)-used >= walRecordHead {
		n := binary.LittleEndian.Uint32(area[used:])
		if n == 0 || uint64(n) > uint64(len(area)-used-walRecordHead) {
			break
		}
		body := area[used+walRecordHead : used+walRecordHead+int(n)]
		if crc32.Update(seed, castagnoli(), body) != binary.LittleEndian.Uint32(area[used+4:]) {
			break
		}
		bodies = append(bodies, body)
		used += walRecordHead + int(n)
	}
	return bodies, used
}

// appendRecord frames body as a record of the current generation and
// keeps it for the next flush.
func (w *walFile) appendRecord(body []byte) {
	var g [8]byte
	binary.LittleEndian.PutUint64(g[:], w.header.Generation)
	sum := crc32.Update(crc32.Checksum(g[:], castagnoli()), castagnoli(), body)
	w.pending = binary.LittleEndian.AppendUint32(w.pending, uint32(len(body)))
	w.pending = binary.LittleEndian.AppendUint32(w.pending, sum)
	w.pending = append(w.pending, body...)
}

// write writes the pending records; sync makes them durable. full says
// they did not fit (the log is at walCapacity, or the disk would not let
// it grow): nothing was written, and the caller must checkpoint instead,
// which makes them durable through bbolt's own file.
func (w *walFile) write() (full bool, err error) {
	if len(w.pending) == 0 {
		return false, nil
	}
	end := w.end + int64(len(w.pending))
	if end > walRecordsAt+walCapacity {
		// Also for a batch bigger than the whole log (a few hundred 1 MiB
		// big_key payloads): the checkpoint takes it, and the file keeps
		// its size.
		return true, nil
	}
	if end > w.size {
		if err := w.extend(end); err != nil {
			if errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) || errors.Is(err, unix.EFBIG) {
				return true, nil
			}
			return false, err
		}
	}
	if _, err := w.f.WriteAt(w.pending, w.end); err != nil {
		return false, fmt.Errorf("keystore: writing the write-ahead log %s: %w", w.path, err)
	}
	w.end = end
	w.pending = w.pending[:0]
	return false, nil
}

// sync fdatasyncs the log. It may run while the next batch is written:
// it makes durable at least everything written before it was called.
func (w *walFile) sync() error {
	if err := unix.Fdatasync(int(w.f.Fd())); err != nil {
		return fmt.Errorf("keystore: syncing the write-ahead log %s: %w", w.path, err)
	}
	return nil
}

// extend grows the file with zeros to cover end, a chunk at a time.
func (w *walFile) extend(end int64) error {
	target := (end + walChunk - 1) / walChunk * walChunk
	zeros := make([]byte, target-w.size)
	if _, err := w.f.WriteAt(zeros, w.size); err != nil {
		w.f.Truncate(w.size) // give back what a failed write took
		return fmt.Errorf("keystore: growing the write-ahead log %s: %w", w.path, err)
	}
	w.size = target
	return nil
}

// writeHeader starts generation h.Generation: it writes the slot the
// header in force does not use, fdatasyncs, and empties the log. Pending
// records are dropped: the caller has made them durable in bbolt's file.
func (w *walFile) writeHeader(h walHeader) error {
	if len(h.Meta) != metaHeadLen {
		return fmt.Errorf("keystore: meta page head of %d bytes, want %d", len(h.Meta), metaHeadLen)
	}
	buf := make([]byte, walHeaderLen)
	copy(buf, walMagic[:])
	binary.LittleEndian.PutUint64(buf[8:], h.Generation)
	binary.LittleEndian.PutUint64(buf[16:], h.Txid)
	binary.LittleEndian.PutUint32(buf[24:], uint32(h.PageSize))
	binary.LittleEndian.PutUint32(buf[28:], h.RootSum)
	binary.LittleEndian.PutUint32(buf[32:], h.FreelistSum)
	copy(buf[walHeaderFixed:], h.Meta)
	binary.LittleEndian.PutUint32(buf[36:], walHeaderSum(buf))
	at := int64(h.Generation%2) * walSlotSize
	if _, err := w.f.WriteAt(buf, at); err != nil {
		return fmt.Errorf("keystore: writing the write-ahead log %s: %w", w.path, err)
	}
	w.size = max(w.size, at+int64(len(buf)))
	if err := unix.Fdatasync(int(w.f.Fd())); err != nil {
		return fmt.Errorf("keystore: syncing the write-ahead log %s: %w", w.path, err)
	}
	h.Meta = bytes.Clone(h.Meta)
	w.header = h
	w.end = walRecordsAt
	w.pending = w.pending[:0]
	return nil
}
