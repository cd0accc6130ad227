package keystore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// The journal makes commits durable through the write-ahead log (wal.go)
// instead of bbolt's fsyncs, and keeps bbolt's file recoverable while it
// does.
//
// bbolt is run with NoSync: a commit writes its pages and its meta page
// into the page cache and returns. The committer then appends the
// transaction's redo record to the log and fdatasyncs the log once for
// the whole batch; only then are the callers told and the OnCommit
// handlers (the notifications) run.
//
// What makes this safe is the checkpoint. It fdatasyncs bbolt's file, so
// that the state of transaction C is on disk whole, copies C's meta page
// into the log's header, and starts the log afresh. Until the next
// checkpoint a read transaction stays open on C (the pin): bbolt never
// reuses a page that an open reader can see, so nothing reachable from C's
// meta is overwritten, whatever is written after it. Pages both allocated
// and freed after C are reused as usual (bbolt releases such ranges
// between readers), so the file grows only by the pages C held that later
// transactions replaced.
//
// Recovery, when a store is opened, is therefore always the same: put C's
// meta page back (bbolt then sees C, whole, whatever later pages did or
// did not reach the disk), and replay the log's records onto it. After a
// crash of the process alone, this redoes what bbolt's file already held;
// after a power failure it redoes what was lost. Either way every
// acknowledged commit is there, because it was in the log when it was
// acknowledged.
//
// An open reader stops bbolt from remapping its file when the file
// outgrows its mapping. The store is mapped with room to spare
// (mmapRoom), and a store that grows past half of it leaves the journal
// for the rest of the time it is open: bbolt syncs its own commits again,
// and the log's header says there is nothing to recover.
type journal struct {
	bolt     *bolt.DB
	path     string   // the database file
	file     *os.File // the database file, to read meta pages
	wal      *walFile
	pageSize int
	mapSize  int64 // what bbolt was asked to map

	// Owned by the committer's leader.
	on      bool     // commits go through the log
	off     bool     // the store outgrew the journal (beforeCommit): never on again
	pin     *bolt.Tx // the read transaction holding the checkpoint's pages
	size    int64    // the file's size in use at the last commit (bbolt's high water)
	redo    []byte   // the write transaction's redo record body
	hooks   []func() // its OnCommit handlers
	durable []func() // handlers of the batch's committed transactions
	issued  uint64   // batches handed out a ticket

	// The batches' endings, in order (finish). Lock order: the
	// committer's mu, then seqMu.
	seqMu    sync.Mutex
	seqCond  sync.Cond
	finished uint64 // batches finished: the tickets up to this one
	broken   error  // a commit could not be made durable: writes stop
}

// A ticket is one batch between its commit and its end: whether its
// records wait for an fsync, and its OnCommit handlers.
type ticket struct {
	seq   uint64
	sync  bool
	mark  walMark // what the sync makes durable
	err   error
	hooks []func()
}

// metaHeadLen is how much of a bbolt meta page holds anything: the page
// header (16 bytes) and the meta (64). bbolt writes the rest as zeros.
const metaHeadLen = 80

// bbolt's meta layout, from go.etcd.io/bbolt/internal/common: page id,
// flags, count, overflow; then magic, version, page size, flags, root
// bucket (root page, sequence), freelist page, high water page, txid and
// an FNV-64a checksum of the meta before it. Native byte order.
const (
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	boltMetaAt     = 16
	boltPageSizeAt = boltMetaAt + 8
	boltRootAt     = boltMetaAt + 16
	boltFreelistAt = boltMetaAt + 32
	boltTxidAt     = boltMetaAt + 48
	boltChecksumAt = boltMetaAt + 56
)

// parseMetaHead checks the head of a bbolt meta page and returns its
// transaction id and page size.
func parseMetaHead(b []byte) (txid uint64, pageSize int, ok bool) {
	if len(b) < metaHeadLen {
		return 0, 0, false
	}
	ne := binary.NativeEndian
	if ne.Uint32(b[boltMetaAt:]) != boltMagic || ne.Uint32(b[boltMetaAt+4:]) != boltVersion {
		return 0, 0, false
	}
	h := fnv.New64a()
	h.Write(b[boltMetaAt:boltChecksumAt])
	if h.Sum64() != ne.Uint64(b[boltChecksumAt:]) {
		return 0, 0, false
	}
	return ne.Uint64(b[boltTxidAt:]), int(ne.Uint32(b[boltPageSizeAt:])), true
}

// readMetaHeads reads the heads of both meta pages of the database file f,
// the second at pageSize.
func readMetaHeads(f *os.File, pageSize int) (heads [2][]byte, err error) {
	for i := range heads {
		heads[i] = make([]byte, metaHeadLen)
		if _, err := f.ReadAt(heads[i], int64(i*pageSize)); err != nil && err != io.EOF {
			return heads, err
		}
	}
	return heads, nil
}

// checkpointSums are the checksums of the root and freelist pages that
// the meta page head points to, read from the database file f.
func checkpointSums(f *os.File, head []byte, pageSize int) (root, freelist uint32, err error) {
	sum := func(at []byte) (uint32, error) {
		pgid := binary.NativeEndian.Uint64(at)
		if pgid == ^uint64(0) { // bbolt's "no freelist page"
			return 0, nil
		}
		page := make([]byte, pageSize)
		if _, err := f.ReadAt(page, int64(pgid)*int64(pageSize)); err != nil && err != io.EOF {
			return 0, err
		} // past the end: zeros, which match no checkpoint's page

		return crc32c(0, page), nil
	}
	if root, err = sum(head[boltRootAt:]); err != nil {
		return 0, 0, err
	}
	freelist, err = sum(head[boltFreelistAt:])
	return root, freelist, err
}

// restoreCheckpoint puts the checkpoint's meta page back into the
// database file at path, in both slots, so that bbolt opens the
// checkpoint's state. It does nothing when the file is at the checkpoint
// already, or does not exist (a store deleted since: its log means
// nothing). A file behind the checkpoint, or at it with another meta page,
// was not the one the log was written for.
func restoreCheckpoint(path string, h walHeader) (exists bool, err error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	heads, err := readMetaHeads(f, h.PageSize)
	if err != nil {
		return true, err
	}
	newest, found := uint64(0), false
	for _, head := range heads {
		if txid, ps, ok := parseMetaHead(head); ok && ps == h.PageSize && (!found || txid > newest) {
			newest, found = txid, true
		}
	}
	switch {
	case !found:
		return true, corrupt("neither meta page of the store checks, and its write-ahead log cannot repair that")
	case newest < h.Txid:
		return true, notItsLog(path, "the log's checkpoint is transaction %d but the store is only at %d", h.Txid, newest)
	case newest == h.Txid && string(heads[h.Txid%2]) != string(h.Meta):
		return true, notItsLog(path, "the log's checkpoint is not this store's transaction %d", h.Txid)
	}
	root, freelist, err := checkpointSums(f, h.Meta, h.PageSize)
	if err != nil {
		return true, err
	}
	if root != h.RootSum || freelist != h.FreelistSum {
		return true, notItsLog(path, "the pages of the log's checkpoint (transaction %d) are not in the store", h.Txid)
	}
	if newest == h.Txid {
		return true, nil
	}
	for slot := range 2 {
		page := append([]byte(nil), h.Meta...)
		binary.NativeEndian.PutUint64(page, uint64(slot)) // the page id is the slot
		if _, err := f.WriteAt(page, int64(slot*h.PageSize)); err != nil {
			return true, fmt.Errorf("keystore: restoring the checkpoint: %w", err)
		}
	}
	return true, f.Sync()
}

// notItsLog is ErrCorrupt for a log beside a database it was not written
// for, saying what the user can do about it.
func notItsLog(path, format string, args ...any) error {
	return corrupt(format+": the write-ahead log %s.wal does not belong to this store; remove it to open the store as it is, losing what the log holds", append(args, path)...)
}

// recoverFromLog brings the database file at path to the state the log
// describes, whose contents were read as log (which must not be corrupt:
// open refuses it first, Repair takes only its intact records), and
// returns bbolt open on it, mapped mapSize bytes. It puts back the log's
// checkpoint, replays the records onto it in one transaction committed
// and synced by bbolt itself, and then writes a clean header, in the
// log's own format: the replay's commit, or any after it, may reuse the
// checkpoint's pages, so the checkpoint must never be restored again. A
// damaged log gets a clean header too, newer than any it holds, so that
// what follows the damage is never read again.
func recoverFromLog(path string, w *walFile, log *walState, timeout time.Duration) (bdb *bolt.DB, mapSize int64, err error) {
	exists := false
	if log.header.Txid != 0 {
		if exists, err = restoreCheckpoint(path, log.header); err != nil {
			return nil, 0, openError(path, fmt.Errorf("recovering from %s: %w", w.path, err))
		}
	}
	if bdb, mapSize, err = openBolt(path, timeout); err != nil {
		return nil, 0, err
	}
	if log.header.Txid == 0 && log.damage == nil {
		return bdb, mapSize, nil
	}
	if exists {
		err = replay(bdb, log.bodies())
	}
	if err == nil {
		err = bdb.Sync()
	}
	if err == nil {
		format := log.header.Format
		if format == 0 {
			format = walFormat // no header in force, only a damaged one
		}
		err = w.writeHeader(walHeader{
			Format: format, Generation: log.newest + 1,
			PageSize: bdb.Info().PageSize, Meta: make([]byte, metaHeadLen),
		})
	}
	if err != nil {
		bdb.Close()
		return nil, 0, openError(path, err)
	}
	return bdb, mapSize, nil
}

// openBolt opens bbolt on the file at path, mapped with room to spare
// (mapSizeFor), waiting up to timeout for another process that holds it.
func openBolt(path string, timeout time.Duration) (*bolt.DB, int64, error) {
	var size int64
	if st, err := os.Stat(path); err == nil {
		size = st.Size()
	}
	mapSize := mapSizeFor(size)
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:         timeout,
		FreelistType:    bolt.FreelistMapType,
		InitialMmapSize: int(mapSize),
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, 0, fmt.Errorf("%w: %s (waited %v)", ErrLocked, path, timeout)
	}
	if err != nil {
		return nil, 0, openError(path, err)
	}
	bdb.AllocSize = growStep(size)
	return bdb, mapSize, nil
}

// replay applies the log's records to bdb in one transaction, committed
// and synced by bbolt itself.
func replay(bdb *bolt.DB, bodies [][]byte) error {
	if len(bodies) == 0 {
		return nil
	}
	return bdb.Update(func(tx *bolt.Tx) error {
		for i, body := range bodies {
			ops, err := decodeRedo(body)
			if err != nil {
				return fmt.Errorf("write-ahead log record %d: %w", i+1, err)
			}
			if err := applyRedo(tx, ops); err != nil {
				return err
			}
		}
		return nil
	})
}

// mmapRoom is how much address space bbolt is asked to map beyond twice
// the file's size at open: the journal works until the file reaches half
// the mapping (see journal). Address space is cheap; nothing is read
// until it is used.
var mmapRoom int64 = 1 << 30

// growStep is how far bbolt should grow a file of size bytes past what a
// commit needs. bbolt grows by its AllocSize (16 MiB) once the mapping is
// larger than that, which the journal's roomy mapping always is: left
// alone, a new store would be 16 MiB from its first commit. Growing by the
// file's own size, from 32 KiB up to bbolt's default, keeps bbolt's usual
// doubling, and its fsync per growth stays as rare.
func growStep(size int64) int {
	return int(min(max(size, 32<<10), 16<<20)) // 16 MiB: bbolt's default AllocSize
}

// mapSizeFor is the mapping asked for a file of size bytes: a whole
// number of GiB, at least twice the file.
func mapSizeFor(size int64) int64 {
	return (2*size + mmapRoom + (1<<30 - 1)) &^ (1<<30 - 1)
}

// newJournal takes over the log w for the open bbolt database, which must
// be fully synced (bbolt committed everything so far itself), and whose
// log has nothing left to recover (recoverFromLog). A new log gets its
// first header. The journal itself starts with the first commit
// (beforeCommit), so that a process that only reads, such as most CLI
// invocations, pays no fsync to open and close the store.
func newJournal(bdb *bolt.DB, path string, w *walFile, mapSize int64) (*journal, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	j := &journal{bolt: bdb, path: path, file: f, wal: w, pageSize: bdb.Info().PageSize, mapSize: mapSize}
	j.seqCond.L = &j.seqMu
	if w.header.Generation == 0 {
		if err := j.markClean(); err != nil {
			f.Close()
			return nil, err
		}
	}
	return j, nil
}

// markClean syncs bbolt's file and writes a log header that says there is
// nothing to recover: the file holds everything.
func (j *journal) markClean() error {
	if err := j.bolt.Sync(); err != nil {
		return fmt.Errorf("keystore: syncing %s: %w", j.path, err)
	}
	return j.wal.writeHeader(walHeader{Format: walFormat, Generation: j.wal.header.Generation + 1, PageSize: j.pageSize, Meta: make([]byte, metaHeadLen)})
}

// metaHead reads the head of transaction txid's meta page from the file.
func (j *journal) metaHead(txid uint64) ([]byte, error) {
	heads, err := readMetaHeads(j.file, j.pageSize)
	if err != nil {
		return nil, err
	}
	head := heads[txid%2]
	if got, _, ok := parseMetaHead(head); !ok || got != txid {
		return nil, fmt.Errorf("keystore: the meta page of transaction %d is not on disk after a sync", txid)
	}
	return head, nil
}

// checkpoint syncs bbolt's file, records the last committed transaction's
// meta page in the log's header, starting the log afresh, and pins that
// transaction's pages until the next checkpoint.
func (j *journal) checkpoint() error {
	if err := j.bolt.Sync(); err != nil {
		return fmt.Errorf("keystore: syncing %s: %w", j.path, err)
	}
	pin, err := j.bolt.Begin(false)
	if err != nil {
		return err
	}
	txid := uint64(pin.ID())
	head, err := j.metaHead(txid)
	var root, freelist uint32
	if err == nil {
		root, freelist, err = checkpointSums(j.file, head, j.pageSize)
	}
	if err == nil {
		err = j.wal.writeHeader(walHeader{
			Format: walFormat, Generation: j.wal.header.Generation + 1, Txid: txid, PageSize: j.pageSize,
			RootSum: root, FreelistSum: freelist, Meta: head,
		})
	}
	if err != nil {
		pin.Rollback()
		return err
	}
	if j.pin != nil {
		j.pin.Rollback()
	}
	j.pin = pin
	return nil
}

// turnOff leaves the journal: it makes what was committed durable in
// bbolt's file, tells the log there is nothing to recover, and lets bbolt
// sync its own commits from now on.
func (j *journal) turnOff() error {
	if err := j.markClean(); err != nil {
		return err
	}
	if j.pin != nil {
		j.pin.Rollback()
		j.pin = nil
	}
	j.on = false
	j.bolt.NoSync = false
	return nil
}

// begin starts what the journal keeps of a write transaction.
func (j *journal) begin() error {
	j.redo = j.redo[:0]
	j.hooks = j.hooks[:0]
	j.seqMu.Lock()
	defer j.seqMu.Unlock()
	return j.broken
}

// beforeCommit runs in the write transaction just before it commits. The
// first commit starts the journal with a checkpoint of the state before
// it. A file near the end of its mapping leaves the journal first, so
// that bbolt can remap it (no reader may be open then).
func (j *journal) beforeCommit(btx *bolt.Tx) error {
	j.size = btx.Size()
	j.bolt.AllocSize = growStep(j.size)
	if j.size >= j.mapSize/2 {
		if !j.on {
			j.off = true
			return nil
		}
		j.off = true
		return j.turnOff()
	}
	if !j.on && !j.off {
		if err := j.checkpoint(); err != nil {
			return err
		}
		j.on = true
		j.bolt.NoSync = true
	}
	return nil
}

// walGrowth is how far the file may grow past its size at the last
// checkpoint before the next checkpoint, instead of the log, makes a
// batch durable. bbolt reuses a page freed under the pin only if it knows
// which transaction allocated it, and it does not record that for pages
// taken from the end of the file: until a checkpoint releases the pin,
// every page a commit replaces stays out of use, and each commit takes new
// ones from the end. One checkpoint puts them all back on the freelist,
// whose pages bbolt does record, and from then on the file stops growing.
// 1 MiB is some fifty lone adds between checkpoints while a store grows
// (two fsyncs each, a few percent of those adds' time), and keeps a small
// store a file of a few hundred KiB to a few MiB.
var walGrowth int64 = 1 << 20

// committed takes the transaction that just committed into the batch: its
// redo record for the log, its handlers for after the flush.
func (j *journal) committed() {
	if j.on && len(j.redo) > 0 {
		j.wal.appendRecord(j.redo)
	}
	j.durable = append(j.durable, j.hooks...)
	j.hooks = j.hooks[:0]
}

// write ends the batch's part under the lead: its records are written to
// the log (or, if the log is full or the file has grown enough, a
// checkpoint makes them durable at once). The ticket it returns is
// finished outside the lead, so that the next batch is committed while
// this one's fsync runs.
func (j *journal) write() *ticket {
	j.issued++
	t := &ticket{seq: j.issued, hooks: j.durable}
	j.durable = nil
	if !j.on {
		return t // bbolt synced its own commits
	}
	full := j.size > j.pin.Size()+walGrowth
	var err error
	if !full {
		t.mark, full, err = j.wal.write()
	}
	if err == nil && full {
		err = j.checkpoint()
	} else if err == nil {
		t.sync = true
	}
	t.err = err
	return t
}

// finish makes a ticket's batch durable, waits for the batches before it
// to finish, and then, unless this one or one before it failed, runs its
// OnCommit handlers. A batch that fails leaves commits that are visible
// but may not survive a crash, and every later batch was built on them: no
// write can be made safe again without a reopen, which recovers from the
// log, so the journal is broken and refuses writes from then on.
func (j *journal) finish(t *ticket) error {
	if t.err == nil && t.sync {
		t.err = j.wal.sync(t.mark)
	}
	j.seqMu.Lock()
	defer j.seqMu.Unlock()
	for j.finished != t.seq-1 {
		j.seqCond.Wait()
	}
	defer j.seqCond.Broadcast()
	j.finished = t.seq
	if t.err != nil && j.broken == nil {
		j.broken = fmt.Errorf("keystore: store %s: a commit could not be made durable; close and reopen the store: %w", j.path, t.err)
	}
	if j.broken != nil {
		return j.broken
	}
	for _, fn := range t.hooks {
		fn()
	}
	return nil
}

// idle waits until every ticket issued is finished.
func (j *journal) idle() {
	j.seqMu.Lock()
	defer j.seqMu.Unlock()
	for j.finished != j.issued {
		j.seqCond.Wait()
	}
}

// close leaves the journal, so that the file holds everything and the log
// says there is nothing to recover (a file changed by other means before
// the next open is then taken as it is), and lets go of the pin and the
// files. bbolt is closed by the caller.
func (j *journal) close() error {
	j.idle()
	var err error
	if j.on && j.broken == nil {
		err = j.turnOff()
	}
	if j.pin != nil {
		j.pin.Rollback()
		j.pin = nil
	}
	j.file.Close()
	if cerr := j.wal.close(); err == nil {
		err = cerr
	}
	return err
}
