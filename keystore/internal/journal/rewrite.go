//go:build linux

package journal

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// A change to how something is stored, such as sealing what was in
// clear, cannot be made in place: bbolt leaves the old pages on its
// freelist, bytes and all, and the log beside the file keeps old records
// until they are overwritten. So the changed store is written into a new
// file (Rewrite), which never holds the old form, and takes the old
// file's place (SwapIn):
//
//  1. The old file is complete and synced: it has been recovered from the
//     log (Recover), or a damaged log refused before anything was
//     written, and the log's header says there is nothing to recover.
//     The new file is written beside it, path + rewriteSuffix, synced and
//     closed.
//  2. The log is zeroed and emptied (Log.Erase): it holds nothing the old
//     file lacks, and its old records hold the old form too.
//  3. The new file is renamed over the old one, and the directory synced.
//  4. The old file's blocks are zeroed through a descriptor still open on
//     it (scrubUnlinked), unless another name still links it.
//
// A crash before 3 leaves the old store whole, its log saying there is
// nothing to recover or emptied, and the next opener rewrites it again
// (Rewrite removes the half-written new file); a crash after 3 leaves the
// new store, with an empty log.

// rewriteSuffix names the new file while it is written (the name dates
// from the one upgrade that rewrites a store, to schema 6).
const rewriteSuffix = ".upgrade"

// rewriteTxBytes bounds what one transaction of the rewrite writes, so
// that a large store is copied in pieces instead of one transaction
// holding it all in memory. The new file is not in use until it is
// renamed, so the pieces need no atomicity; 64 MiB is what bbolt's
// compaction tool uses.
const rewriteTxBytes = 64 << 20

// Rewrite writes what src holds, each entry converted by convert (which
// returns the entry's new key and value), into a new file beside the
// database, synced, for SwapIn. src may hold changes of its own, made in
// place as far as they could be; the caller rolls it back afterwards, so
// the old file never changes. Every bucket is copied, the empty ones
// too; a nested bucket is ErrCorrupt.
func Rewrite(src *bolt.Tx, convert func(bucket, k, v []byte) ([]byte, []byte, error)) (err error) {
	tmp := src.DB().Path() + rewriteSuffix
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err // a crashed upgrade's; nothing else is named so
	}
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{NoSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return err
	}
	w := &rewriter{db: dst}
	defer func() {
		if w.tx != nil {
			w.tx.Rollback()
		}
		if cerr := dst.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(tmp)
		}
	}()
	err = src.ForEach(func(name []byte, b *bolt.Bucket) error {
		if err := w.create(name); err != nil { // empty buckets too
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			if v == nil && b.Bucket(k) != nil {
				return corruptf("bucket %q holds a bucket, %q", name, k)
			}
			nk, nv, err := convert(name, k, v)
			if err != nil {
				return err
			}
			return w.put(name, nk, nv)
		})
	})
	if err == nil {
		err = w.commit()
	}
	if err == nil {
		err = dst.Sync()
	}
	return err
}

// rewriter copies entries into a new file, committing every
// rewriteTxBytes.
type rewriter struct {
	db   *bolt.DB
	tx   *bolt.Tx
	size int
}

func (w *rewriter) create(bucket []byte) error {
	_, err := w.bucket(bucket)
	return err
}

func (w *rewriter) bucket(name []byte) (*bolt.Bucket, error) {
	if w.tx == nil {
		tx, err := w.db.Begin(true)
		if err != nil {
			return nil, err
		}
		w.tx = tx
	}
	return w.tx.CreateBucketIfNotExists(name)
}

func (w *rewriter) put(bucket, k, v []byte) error {
	b, err := w.bucket(bucket)
	if err != nil {
		return err
	}
	if err := b.Put(k, v); err != nil {
		return err
	}
	if w.size += len(k) + len(v); w.size >= rewriteTxBytes {
		return w.commit()
	}
	return nil
}

func (w *rewriter) commit() error {
	if w.tx == nil {
		return nil
	}
	err := w.tx.Commit()
	w.tx, w.size = nil, 0
	return err
}

// SwapIn puts the file Rewrite wrote in the place of old, the open
// database, which it closes, empties the log w, and opens the new file as
// Recover does, waiting up to timeout; see the steps above.
func SwapIn(old *bolt.DB, w *Log, timeout time.Duration) (*bolt.DB, int64, error) {
	path := old.Path()
	fail := func(err error) (*bolt.DB, int64, error) {
		return nil, 0, fmt.Errorf("putting the rewritten file in place: %w", err)
	}
	tmp := path + rewriteSuffix
	oldFile, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		old.Close()
		os.Remove(tmp)
		return fail(err)
	}
	defer oldFile.Close()
	err = old.Close()
	if err == nil {
		err = sameOwnerAndMode(tmp, oldFile)
	}
	if err == nil {
		err = w.Erase()
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fail(err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fail(err)
	}
	if err := scrubUnlinked(oldFile); err != nil {
		return fail(fmt.Errorf("zeroing the store's old file: %w", err))
	}
	return openBolt(path, timeout)
}

// syncDir fsyncs the directory dir, so that a rename in it survives a
// crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// sameOwnerAndMode gives the file at path the owner and mode of f, so
// that the store does not change hands by being rewritten (by root, say).
func sameOwnerAndMode(path string, f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if err := os.Chmod(path, st.Mode().Perm()); err != nil {
		return err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok || (int(sys.Uid) == os.Geteuid() && int(sys.Gid) == os.Getegid()) {
		return nil
	}
	if err := os.Lchown(path, int(sys.Uid), int(sys.Gid)); err != nil {
		return fmt.Errorf("the rewritten file cannot be given its owner, uid %d gid %d: %w", sys.Uid, sys.Gid, err)
	}
	return nil
}

// scrubUnlinked zeroes f, a file just replaced by a rename, if no name
// links it any more (a hard link, a backup made with ln, keeps it whole).
// Best effort against someone who reads the disk rather than the file:
// on a copy-on-write file system or a flash disk the old blocks may
// survive being overwritten.
func scrubUnlinked(f *os.File) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return err
	}
	if st.Nlink != 0 {
		return nil
	}
	return zeroFile(f)
}

// zeroFile overwrites f with zeros and syncs it.
func zeroFile(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	return zeroRange(f, 0, st.Size())
}

// zeroRange overwrites f's bytes from..to with zeros, a MiB at a time, and
// fdatasyncs it.
func zeroRange(f *os.File, from, to int64) error {
	zeros := make([]byte, max(0, min(to-from, 1<<20)))
	for off := from; off < to; off += int64(len(zeros)) {
		n := min(int64(len(zeros)), to-off)
		if _, err := f.WriteAt(zeros[:n], off); err != nil {
			return err
		}
	}
	return unix.Fdatasync(int(f.Fd()))
}
