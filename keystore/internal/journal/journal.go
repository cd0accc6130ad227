//go:build linux

package journal

import (
	"fmt"
	"os"
	"sync"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"
)

// The journal makes commits durable through the write-ahead log (log.go)
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
	wal      *Log
	store    uuid.UUID // written into every header
	pageSize int
	mapSize  int64 // what bbolt was asked to map, bytes
	growth   int64 // walGrowth, unless Options say otherwise

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
	mark  mark // what the sync makes durable
	err   error
	hooks []func()
}

// newJournal takes over the log w for the open bbolt database, which must
// be fully synced (bbolt committed everything so far itself), and whose
// log has nothing left to recover (Recover). A new log gets its first
// header, and so does one whose header in force is of an older format or
// names no store or another (one found beside no database): from here on
// the log says it is store's. The journal itself starts with the first
// commit (beforeCommit), so that a process that only reads, such as most
// CLI invocations, pays no fsync to open and close the store.
func newJournal(bdb *bolt.DB, w *Log, mapSize int64, store uuid.UUID, growth int64) (*journal, error) {
	f, err := os.Open(bdb.Path())
	if err != nil {
		return nil, err
	}
	j := &journal{bolt: bdb, path: bdb.Path(), file: f, wal: w, store: store, pageSize: bdb.Info().PageSize, mapSize: mapSize, growth: growth}
	j.seqCond.L = &j.seqMu
	if h := w.header; h.Generation == 0 || h.Format != walFormat || h.Store != store {
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
		return fmt.Errorf("journal: syncing %s: %w", j.path, err)
	}
	return j.wal.writeHeader(Header{Format: walFormat, Generation: j.wal.header.Generation + 1, PageSize: j.pageSize, Meta: make([]byte, metaHeadLen), Store: j.store})
}

// metaHead reads the head of transaction txid's meta page from the file.
func (j *journal) metaHead(txid uint64) ([]byte, error) {
	heads, err := readMetaHeads(j.file, j.pageSize)
	if err != nil {
		return nil, err
	}
	head := heads[txid%2]
	if got, _, ok := parseMetaHead(head); !ok || got != txid {
		return nil, fmt.Errorf("journal: the meta page of transaction %d is not on disk after a sync", txid)
	}
	return head, nil
}

// checkpoint syncs bbolt's file, records the last committed transaction's
// meta page in the log's header, starting the log afresh, and pins that
// transaction's pages until the next checkpoint.
func (j *journal) checkpoint() error {
	if err := j.bolt.Sync(); err != nil {
		return fmt.Errorf("journal: syncing %s: %w", j.path, err)
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
		err = j.wal.writeHeader(Header{
			Format: walFormat, Generation: j.wal.header.Generation + 1, Txid: txid, PageSize: j.pageSize,
			RootSum: root, FreelistSum: freelist, Meta: head, Store: j.store,
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
	full := j.size > j.pin.Size()+j.growth
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
		j.broken = fmt.Errorf("journal: store %s: a commit could not be made durable; close and reopen the store: %w", j.path, t.err)
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
// files. bbolt is closed by the caller (DB.Close).
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
	if cerr := j.wal.Close(); err == nil {
		err = cerr
	}
	return err
}
