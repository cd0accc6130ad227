//go:build linux

package keystore

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/keyctl-go/keyctl-go/keystore/internal/journal"
)

// Report is what Inspect found in a store: the state of its write-ahead
// log, and whether the store, recovered from it, passes Check.
type Report struct {
	Store string // the database file
	Log   string // its write-ahead log

	// LogFormat is the log's format (package journal): 3, or 2 for the
	// log of a schema-5 or 6 store, 1 for a schema-4 store's; 0 when
	// there is no log or it has no header yet.
	LogFormat  int
	Generation uint64
	// Checkpoint is the bbolt transaction the log's records apply to; 0
	// when the log has nothing to recover, as after a clean close.
	Checkpoint uint64
	LogSize    int64 // bytes

	// Records are the intact records that recovery replays, in order.
	Records []LogRecord
	// Damage is what follows them, if anything but the log's normal end.
	Damage *LogDamage

	// Check is what Check says of the store as opening it leaves it, or,
	// when the log is corrupt, as Repair would leave it; nil if it passed.
	// A store protected by a passphrase is checked only when
	// Options.Passphrase is given; without it Check is ErrNeedPassphrase.
	Check error
}

// LogRecord is one intact record of the log.
type LogRecord struct {
	Seq    uint32 // its sequence number in the log's generation
	Offset int64  // where it starts in the log file
	Size   int    // bytes, head and body
	// Synced says the record is known to have been on disk, because a
	// later record says so: it was acknowledged. Records after the last
	// mark may or may not have been.
	Synced bool
}

// LogDamage is what ends a log's intact records, other than zeros or an
// older generation's leftovers.
type LogDamage struct {
	Offset  int64  // the byte where the first record that does not check starts
	Problem string // what is wrong there
	// Corrupt says the damage is known not to be a torn write, and Proof
	// says how. Open refuses such a log with ErrCorrupt; Repair keeps the
	// records before Offset and drops the rest. Damage that is not
	// Corrupt is a torn write that was never acknowledged, which Open
	// drops.
	Corrupt bool
	Proof   string
	// Dropped are the intact records after Offset: what keeping only
	// the records before it loses.
	Dropped []LogRecord
}

// Damaged reports whether the store needs a repair, or more: its log is
// corrupt or it fails Check.
func (r *Report) Damaged() bool { return r.Damage != nil && r.Damage.Corrupt || r.Check != nil }

// Inspect reads the store at path and its log and reports their state,
// changing neither: it takes the log's lock shared, so no opener of the
// store can change them meanwhile (it waits up to opts.LockTimeout, then
// fails with ErrLocked), and it checks a copy of the store, recovered
// from its log, in a temporary directory (os.TempDir). The error is for
// what kept it from inspecting; what it found is in the Report.
func Inspect(path string, opts Options) (*Report, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("keystore: inspect %s: %w", path, err)
	}
	r := &Report{Store: path, Log: journal.LogPath(path)}
	w, err := journal.OpenLogReadOnly(r.Log, lockTimeout(opts))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case errors.Is(err, journal.ErrLocked):
		return nil, fmt.Errorf("%w: %s", ErrLocked, path)
	case err != nil:
		return nil, fmt.Errorf("keystore: inspect %s: %w", path, err)
	default:
		defer w.Close()
		log, err := w.Read()
		if err != nil {
			return nil, fmt.Errorf("keystore: inspect %s: %w", path, err)
		}
		r.describe(&log)
	}
	r.Check, err = checkCopy(path, opts)
	return r, err
}

// describe fills in what the log holds.
func (r *Report) describe(log *journal.State) {
	r.LogSize = log.Size
	if !log.HasHeader {
		return
	}
	r.LogFormat = int(log.Header.Format)
	r.Generation = log.Header.Generation
	r.Checkpoint = log.Header.Txid
	var synced int64 // the furthest any record says the log was synced
	for _, rec := range log.Records {
		synced = max(synced, rec.Synced)
	}
	if d := log.Damage; d != nil {
		for _, rec := range d.After {
			synced = max(synced, rec.Synced)
		}
	}
	report := func(rec journal.Record) LogRecord {
		return LogRecord{Seq: rec.Seq, Offset: rec.At, Size: rec.Size, Synced: rec.End() <= synced}
	}
	for _, rec := range log.Records {
		r.Records = append(r.Records, report(rec))
	}
	if d := log.Damage; d != nil {
		r.Damage = &LogDamage{Offset: d.At, Problem: d.Problem, Corrupt: d.Proof != "", Proof: d.Proof}
		for _, rec := range d.After {
			r.Damage.Dropped = append(r.Damage.Dropped, report(rec))
		}
	}
}

// checkCopy copies the store's database and log into a temporary
// directory, recovers the copy as Repair would, opens it and runs Check.
func checkCopy(path string, opts Options) (checked error, err error) {
	dir, err := os.MkdirTemp("", "keystore-inspect-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	cp := filepath.Join(dir, filepath.Base(path))
	for _, suffix := range []string{"", ".wal"} {
		if err := copyFile(path+suffix, cp+suffix); err != nil && !(suffix != "" && errors.Is(err, fs.ErrNotExist)) {
			return nil, fmt.Errorf("keystore: inspect %s: copying it: %w", path, err)
		}
	}
	if err := salvage(cp, nil, lockTimeout(opts), nil); err != nil {
		return err, nil
	}
	if opts.KeyFile == "" {
		opts.KeyFile = path + ".key"
	}
	db, err := Open(cp, opts)
	if err != nil {
		return err, nil
	}
	defer db.Close()
	return db.Check(), nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Repair salvages the store at path whose log Inspect found corrupt: it
// puts back the log's checkpoint, replays the intact records before the
// damage and starts the log afresh, so that the store opens; the records
// from the damage on, listed in the report, are dropped. It does so only
// while the log is as inspected returns it (the same header, size,
// records and damage), and otherwise changes nothing and says so: the
// caller has shown the user what will be dropped. A log with nothing to
// recover is left as it is.
func Repair(path string, opts Options, inspected *Report) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("keystore: repair %s: %w", path, err)
	}
	w, err := journal.OpenLog(journal.LogPath(path), lockTimeout(opts))
	if errors.Is(err, journal.ErrLocked) {
		return fmt.Errorf("%w: %s", ErrLocked, path)
	}
	if err != nil {
		return fmt.Errorf("keystore: repair %s: %w", path, err)
	}
	defer w.Close()
	return salvage(path, w, lockTimeout(opts), inspected)
}

// salvage recovers the store at path from the intact records of its log,
// whatever follows them, using the log w if not nil (else opening it),
// when the log is as want says (if not nil).
func salvage(path string, w *journal.Log, timeout time.Duration, want *Report) error {
	if w == nil {
		var err error
		if w, err = journal.OpenLog(journal.LogPath(path), timeout); err != nil {
			return openError(path, err)
		}
		defer w.Close()
	}
	log, err := w.Read()
	if err != nil {
		return openError(path, err)
	}
	if want != nil {
		now := &Report{Store: want.Store, Log: want.Log}
		now.describe(&log)
		if !sameLog(now, want) {
			return fmt.Errorf("keystore: repair %s: the log %s has changed since it was inspected; inspect it again", path, w.Path())
		}
	}
	bdb, _, err := journal.Recover(path, w, &log, journalOptions(timeout))
	if err != nil {
		return openError(path, err)
	}
	return bdb.Close()
}

// sameLog reports whether two reports describe the same log.
func sameLog(a, b *Report) bool {
	if a.LogFormat != b.LogFormat || a.Generation != b.Generation || a.Checkpoint != b.Checkpoint ||
		a.LogSize != b.LogSize || len(a.Records) != len(b.Records) || (a.Damage == nil) != (b.Damage == nil) {
		return false
	}
	if a.Damage == nil {
		return true
	}
	return a.Damage.Offset == b.Damage.Offset && a.Damage.Corrupt == b.Damage.Corrupt && len(a.Damage.Dropped) == len(b.Damage.Dropped)
}

// lockTimeout is how long to wait for another opener.
func lockTimeout(opts Options) time.Duration {
	if opts.LockTimeout > 0 {
		return opts.LockTimeout
	}
	return DefaultLockTimeout
}
