//go:build linux

package parentsession

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/daemon"
)

// A Dir is a directory of records, private to the user, such as
// filepath.Join(daemon.UserDir($XDG_RUNTIME_DIR), "parents"). Records
// are kept by store: store is a name that every command reaching the
// same store gives alike (keyctl-go uses the socket of the store's
// daemon, whether or not it runs).
type Dir struct {
	Path string
}

// tmpPrefix starts the name of a record being written; parseFileName
// takes no such name for a record.
const tmpPrefix = ".new-"

// Put records r for store, replacing the record of the same process
// and store, which it returns (replaced) so that its session can be let
// go: the kernel's parent drops the session it had. The directory is
// made, or checked, first (daemon.PrepareUserDir). The record appears
// whole: written to a temporary file, then renamed into place; two Puts
// for one process each get back a different record, so that no session
// is let go twice.
func (d Dir) Put(store string, r Record) (old Record, replaced bool, err error) {
	if err := daemon.PrepareUserDir(d.Path); err != nil {
		return Record{}, false, fmt.Errorf("parentsession: the records' directory: %w", err)
	}
	tmp, err := d.writeTemp(r.marshal())
	if err != nil {
		return Record{}, false, err
	}
	defer os.Remove(tmp) // once renamed into place, nothing is there
	k := procKey{r.PID, r.Start}
	name := filepath.Join(d.Path, fileName(k, store))
	for {
		err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, name, unix.RENAME_NOREPLACE)
		if !errors.Is(err, unix.EEXIST) {
			if err != nil {
				return Record{}, false, fmt.Errorf("parentsession: record %s: %w", name, err)
			}
			return Record{}, false, nil
		}
		// A record is there: swap it out atomically, so that it is this
		// Put's alone to let go of.
		err = unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, name, unix.RENAME_EXCHANGE)
		if errors.Is(err, unix.ENOENT) {
			continue // swept meanwhile
		}
		if err != nil {
			return Record{}, false, fmt.Errorf("parentsession: record %s: %w", name, err)
		}
		b, err := os.ReadFile(tmp)
		if err != nil {
			return Record{}, false, fmt.Errorf("parentsession: the record %s replaced: %w", name, err)
		}
		old, err := parseRecord(b, k.pid, k.start)
		if err != nil {
			return Record{}, false, fmt.Errorf("parentsession: the record %s replaced: %w", name, err)
		}
		return old, true, nil
	}
}

// writeTemp writes b to a new file in the directory, mode 0600, and
// returns its path.
func (d Dir) writeTemp(b []byte) (string, error) {
	f, err := os.CreateTemp(d.Path, tmpPrefix+"*")
	if err != nil {
		return "", fmt.Errorf("parentsession: %w", err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("parentsession: %w", err)
	}
	return f.Name(), nil
}

// records lists the records of store in the directory by the process
// they name, without reading them. A missing directory has none.
func (d Dir) records(store string) (map[procKey]string, error) {
	entries, err := os.ReadDir(d.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("parentsession: %w", err)
	}
	tag := storeTag(store)
	var found map[procKey]string
	for _, e := range entries {
		if k, ok := parseFileName(e.Name(), tag); ok {
			if found == nil {
				found = make(map[procKey]string)
			}
			found[k] = filepath.Join(d.Path, e.Name())
		}
	}
	return found, nil
}

// read reads the record of k at path.
func read(path string, k procKey) (Record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Record{}, fmt.Errorf("parentsession: %w", err)
	}
	r, err := parseRecord(b, k.pid, k.start)
	if err != nil {
		return Record{}, fmt.Errorf("parentsession: %s: %w", path, err)
	}
	return r, nil
}

// maxAncestors bounds the walk up the process tree; pids are at most
// 2^22 on Linux, and a tree is never near that deep.
const maxAncestors = 1 << 12

// Find returns the record of store that gives the calling process its
// session, if any (ok): its own, if it was given one and then exec'd
// (as a shell runs its last command), else the nearest ancestor's that
// applies (see the package doc). uid is the caller's: a record of
// another uid's process never applies. The walk stops at owner, the
// process that handed down the session in $KEYCTL_GO_SESSION (the zero
// Owner for none): the session it handed down is nearer than any record
// above it, and then ok is false.
//
// A directory with no record of store costs one read of it, and nothing
// of /proc. One that fails daemon.CheckUserDir is an error: its records
// could be anybody's.
func (d Dir) Find(store string, owner Owner, uid uint32) (r Record, ok bool, err error) {
	recs, err := d.records(store)
	if err != nil || len(recs) == 0 {
		return Record{}, false, err
	}
	if err := daemon.CheckUserDir(d.Path); err != nil {
		return Record{}, false, fmt.Errorf("parentsession: the records' directory: %w", err)
	}
	a, err := Self()
	if err != nil {
		return Record{}, false, err
	}
	var child *Proc // a's child on the walk; none for the caller itself
	for range maxAncestors {
		k := procKey{a.PID, a.Start}
		if k == (procKey{owner.PID, owner.Start}) {
			break
		}
		if path, ok := recs[k]; ok {
			r, err := read(path, k)
			if err != nil {
				return Record{}, false, err
			}
			if r.applies(child, uid) {
				return r, true, nil
			}
		}
		if a.PPID <= 1 {
			break // init is given no session (Parent)
		}
		next, err := readStat(strconv.Itoa(a.PPID))
		if err != nil {
			break // it exited: the walk ends as if a were an orphan
		}
		prev := a
		child, a = &prev, next
	}
	return Record{}, false, nil
}

// applies reports whether r gives its process's child child its
// session, or, with child nil, the process itself: child was forked no
// earlier than the record was made, and r's process still has r's ids,
// which are uid.
func (r Record) applies(child *Proc, uid uint32) bool {
	if child != nil && r.Recorded > child.Start || r.UID != uid {
		return false
	}
	// The ids, read with the start time through one /proc/<pid>, so that
	// they are the recorded process's.
	p, err := ReadProc(r.PID)
	return err == nil && p.Start == r.Start && p.hasIDs(r.UID, r.GID)
}

// Sweep removes the records of store whose process is gone (no process
// has its pid and start time) and returns them, for their sessions to be
// let go, as the kernel lets a session go when its last process exits.
// A record another Sweep removed first is not returned: each session is
// let go once. A directory that fails daemon.CheckUserDir is an error,
// and nothing is removed.
func (d Dir) Sweep(store string) ([]Record, error) {
	recs, err := d.records(store)
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	if err := daemon.CheckUserDir(d.Path); err != nil {
		return nil, fmt.Errorf("parentsession: the records' directory: %w", err)
	}
	var gone []Record
	for k, path := range recs {
		if p, err := readStat(strconv.Itoa(k.pid)); err == nil && p.Start == k.start {
			continue
		}
		// Read, then remove: only the one remover lets the session go.
		// The name is never written again, its process being gone.
		r, rerr := read(path, k)
		if err := os.Remove(path); err != nil {
			continue
		}
		if rerr == nil {
			gone = append(gone, r)
		}
	}
	return gone, nil
}
