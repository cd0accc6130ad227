package keystore

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Modes CreateKeyFile gives what it creates, before the umask. LoadKeyFile
// refuses a key file with any group or other bit set, whatever the umask.
const (
	keyFileMode = 0o600 // owner read and write
	keyDirMode  = 0o700 // owner only: others cannot list it or swap the file
	openToOther = 0o077 // group and other bits
)

// LoadKeyFile reads the KEK from the key file at path: exactly KeySize
// bytes, in a regular file that its group and others cannot read or write.
//
// A missing file gives an error matching fs.ErrNotExist that names path.
// A file of the wrong size or kind gives ErrWrongKey, and one whose mode is
// open to group or others gives ErrInsecureKeyFile, each naming path and
// the problem.
func LoadKeyFile(path string) (*KEK, error) {
	if err := checkFIPS(); err != nil {
		return nil, err
	}
	// O_NONBLOCK keeps a FIFO at path from hanging the open; the mode
	// check below then refuses it. Regular files ignore the flag.
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("keystore: key file: %w", err)
	}
	defer f.Close()
	// Stat the open file, not the path, so that the checks apply to the
	// bytes read even if the path is swapped in between.
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("keystore: key file: %w", err)
	}
	switch mode := fi.Mode(); {
	case !mode.IsRegular():
		return nil, fmt.Errorf("%w: %s is not a regular file (mode %v)", ErrWrongKey, path, mode)
	case fi.Size() != KeySize:
		return nil, fmt.Errorf("%w: %s is %d bytes, a key file is %d", ErrWrongKey, path, fi.Size(), KeySize)
	case mode.Perm()&openToOther != 0:
		return nil, fmt.Errorf("%w: %s has mode %#o, want no group or other bits (chmod 600 %s)", ErrInsecureKeyFile, path, uint32(mode.Perm()), path)
	}
	key := new([KeySize]byte)
	if _, err := io.ReadFull(f, key[:]); err != nil {
		clear(key[:])
		return nil, fmt.Errorf("keystore: key file %s: %w", path, err)
	}
	return &KEK{key: newSecret(key)}, nil
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
	_, err = f.Write(key[:])
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
