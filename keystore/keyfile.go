//go:build linux

package keystore

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/google/uuid"
	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keystore/internal/crc32c"
)

// A key file is KeySize random bytes, the KEK, optionally followed by its
// binding to the store it belongs to:
//
//	offset  size  field
//	0       32    the KEK
//	32      16    the store's UUID (DB.UUID)
//	48      4     CRC-32C (Castagnoli) of bytes 32 to 47, big-endian
//
// A store makes its key file bound. A key file made before stores had a
// UUID (KeySize bytes, unbound) is accepted as it is, and the store that
// it opens binds it: Open writes the binding after the key, never
// touching the key's own bytes, so that no crash can cost the key.
// Binding is best effort: a key file the opener may not write stays
// unbound and keeps working, and a binding cut short by a crash (a
// 52-byte file whose binding does not check) reads as unbound and is
// bound again. A key file of any other size is refused.
//
// The binding names the store the key file was made for, or first
// opened: it tells the user whose key file they gave when it does not
// unwrap the store's data key (ErrWrongKey names both stores and both
// files). A key file that does unwrap it is the store's key whatever its
// binding says, so that a key file shared by several stores (Options.
// KeyFile), or a store's copy upgraded apart from it, keeps opening; it
// keeps its first binding.
const (
	keyFileBindingSize = 16 + crc32c.Size             // bytes
	keyFileBoundSize   = KeySize + keyFileBindingSize // 52 bytes
)

// Modes CreateKeyFile gives what it creates, before the umask. LoadKeyFile
// refuses a key file with any group or other bit set, whatever the umask.
const (
	keyFileMode = 0o600 // owner read and write
	keyDirMode  = 0o700 // owner only: others cannot list it or swap the file
	openToOther = 0o077 // group and other bits
)

// LoadKeyFile reads the KEK from the key file at path: KeySize bytes,
// and the binding to its store if it has one (see above), in a regular
// file that its group and others cannot read or write.
//
// A missing file gives an error matching fs.ErrNotExist that names path.
// A file of the wrong size or kind gives ErrWrongKey, and one whose mode is
// open to group or others gives ErrInsecureKeyFile, each naming path and
// the problem.
func LoadKeyFile(path string) (*KEK, error) {
	kek, _, err := loadKeyFile(path)
	return kek, err
}

// loadKeyFile is LoadKeyFile, and the store the key file is bound to:
// uuid.Nil for an unbound one.
func loadKeyFile(path string) (*KEK, uuid.UUID, error) {
	if err := checkFIPS(); err != nil {
		return nil, uuid.Nil, err
	}
	// O_NONBLOCK keeps a FIFO at path from hanging the open; the mode
	// check below then refuses it. Regular files ignore the flag.
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, uuid.Nil, fmt.Errorf("keystore: key file: %w", err)
	}
	defer f.Close()
	// Stat the open file, not the path, so that the checks apply to the
	// bytes read even if the path is swapped in between.
	fi, err := f.Stat()
	if err != nil {
		return nil, uuid.Nil, fmt.Errorf("keystore: key file: %w", err)
	}
	switch mode := fi.Mode(); {
	case !mode.IsRegular():
		return nil, uuid.Nil, fmt.Errorf("%w: %s is not a regular file (mode %v)", ErrWrongKey, path, mode)
	case fi.Size() != KeySize && fi.Size() != keyFileBoundSize:
		return nil, uuid.Nil, fmt.Errorf("%w: %s is %d bytes, a key file is %d (%d bound to its store)", ErrWrongKey, path, fi.Size(), KeySize, keyFileBoundSize)
	case mode.Perm()&openToOther != 0:
		return nil, uuid.Nil, fmt.Errorf("%w: %s has mode %#o, want no group or other bits (chmod 600 %s)", ErrInsecureKeyFile, path, uint32(mode.Perm()), path)
	}
	b := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		clear(b)
		return nil, uuid.Nil, fmt.Errorf("keystore: key file %s: %w", path, err)
	}
	key := new([KeySize]byte)
	copy(key[:], b)
	clear(b[:KeySize])
	return &KEK{key: newSecret(key)}, parseKeyFileBinding(b[KeySize:]), nil
}

// keyFileBinding is what follows the key in a key file bound to store.
func keyFileBinding(store uuid.UUID) []byte {
	return binary.BigEndian.AppendUint32(store[:len(store):len(store)], crc32c.Checksum(store[:]))
}

// parseKeyFileBinding reads what follows the key in a key file: the
// store's UUID, or uuid.Nil for nothing, or a binding that does not
// check (cut short by a crash while it was written).
func parseKeyFileBinding(b []byte) uuid.UUID {
	if len(b) != keyFileBindingSize || crc32c.Checksum(b[:16]) != binary.BigEndian.Uint32(b[16:]) {
		return uuid.Nil
	}
	return uuid.UUID(b[:16])
}

// foreignKeyFile is err, the key file's failure to unwrap the data key,
// naming the store the key file is bound to and this one's when they
// differ: the key file is another store's.
func (db *DB) foreignKeyFile(err error) error {
	if !errors.Is(err, ErrWrongKey) || db.keyFileBound == uuid.Nil || db.uuid == uuid.Nil || db.keyFileBound == db.uuid {
		return err
	}
	return fmt.Errorf("%w: the key file %s belongs to store %s, but %s is store %s",
		ErrWrongKey, db.keyFileUsed, db.keyFileBound, db.path, db.uuid)
}

// bindKeyFile binds the unbound key file that opened the store to it, if
// there is one: it writes the binding after the key and syncs it. The key's
// own bytes are not touched. Best effort: a key file the opener cannot
// write stays unbound, which it may.
func (db *DB) bindKeyFile() {
	path := db.keyFileUsed
	if path == "" || db.keyFileBound != uuid.Nil || db.uuid == uuid.Nil {
		return
	}
	db.keyFileBound = db.uuid
	f, err := os.OpenFile(path, os.O_WRONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || fi.Size() < KeySize {
		return
	}
	// A binding cut short is dropped first; a crash then leaves the key
	// alone, unbound, or bound.
	if f.Truncate(KeySize) != nil {
		return
	}
	if _, err := f.WriteAt(keyFileBinding(db.uuid), KeySize); err != nil {
		f.Truncate(KeySize)
		return
	}
	f.Sync()
}

// CreateKeyFile makes a new key file at path holding KeySize random bytes,
// with mode 0600, creating missing directories with mode 0700, and returns
// its KEK. It never replaces a file: if path exists, the error matches
// fs.ErrExist, because overwriting a key file loses every payload sealed
// under it.
//
// Keep the key file apart from the database (another directory, another
// backup): a copy of both opens every payload.
func CreateKeyFile(path string) (*KEK, error) {
	return createKeyFile(path, uuid.Nil)
}

// createKeyFile is CreateKeyFile, bound to store unless it is uuid.Nil.
func createKeyFile(path string, store uuid.UUID) (*KEK, error) {
	if err := checkFIPS(); err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, keyDirMode); err != nil {
		return nil, fmt.Errorf("keystore: create key file: %w", err)
	}
	// O_EXCL also refuses a symbolic link at path, dangling or not.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, keyFileMode)
	if err != nil {
		return nil, fmt.Errorf("keystore: create key file: %w", err)
	}
	key := new([KeySize]byte)
	rand.Read(key[:])
	b := append([]byte(nil), key[:]...)
	if store != uuid.Nil {
		b = append(b, keyFileBinding(store)...)
	}
	_, err = f.Write(b)
	clear(b)
	if err == nil {
		err = f.Sync()
	}
	err = errors.Join(err, f.Close())
	if err == nil {
		// The store writes a data key wrapped under this one next; the
		// file's name must survive a crash as surely as its bytes.
		err = syncDir(dir)
	}
	if err != nil {
		// A partial key file is worth nothing, and nothing is sealed
		// under it yet.
		os.Remove(path)
		clear(key[:])
		return nil, fmt.Errorf("keystore: create key file %s: %w", path, err)
	}
	return &KEK{key: newSecret(key)}, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
