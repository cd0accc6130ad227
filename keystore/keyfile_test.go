//go:build linux

package keystore_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keystore"
)

func TestCreateKeyFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "config", "keyctl-go")
	path := filepath.Join(dir, "data.key")
	kek, err := keystore.CreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer kek.Wipe()

	for _, c := range []struct {
		path string
		want fs.FileMode
	}{
		{path, 0o600},
		{dir, 0o700 | fs.ModeDir},
		{filepath.Dir(dir), 0o700 | fs.ModeDir},
	} {
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != c.want {
			t.Errorf("%s has mode %v, want %v", c.path, fi.Mode(), c.want)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) != keystore.KeySize {
		t.Errorf("key file is %d bytes, want %d", len(raw), keystore.KeySize)
	}

	loaded, err := keystore.LoadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer loaded.Wipe()
	if _, err := loaded.UnwrapDataKey(kek.WrapDataKey(newSealer(t))); err != nil {
		t.Errorf("loaded KEK does not unwrap what the created one wrapped: %v", err)
	}
}

// TestCreateKeyFileNeverReplaces: replacing a key file would lose every
// payload sealed under it, so an existing file or link stays as it was.
func TestCreateKeyFileNeverReplaces(t *testing.T) {
	_, path, before := newKeyFile(t)
	_, err := keystore.CreateKeyFile(path)
	if !errors.Is(err, fs.ErrExist) || !strings.HasPrefix(err.Error(), "keystore: ") {
		t.Fatalf("CreateKeyFile over a key file: err = %v, want fs.ErrExist", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("CreateKeyFile changed an existing key file")
	}

	link := filepath.Join(t.TempDir(), "link.key")
	if err := os.Symlink(filepath.Join(t.TempDir(), "elsewhere"), link); err != nil {
		t.Fatal(err)
	}
	if _, err := keystore.CreateKeyFile(link); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("CreateKeyFile through a dangling link: err = %v, want fs.ErrExist", err)
	}
}

func TestCreateKeyFileUnderAFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := keystore.CreateKeyFile(filepath.Join(file, "data.key"))
	wantErr(t, err, nil, unix.ENOTDIR)
}

func TestLoadKeyFileRejects(t *testing.T) {
	key := bytes.Repeat([]byte{0x5a}, keystore.KeySize)
	tests := []struct {
		name     string
		content  []byte // nil: no file
		mode     fs.FileMode
		sentinel error
		errno    unix.Errno
		says     []string // in the message, besides the path
	}{
		{"missing", nil, 0, fs.ErrNotExist, unix.ENOENT, []string{"no such file"}},
		{"empty", []byte{}, 0o600, keystore.ErrWrongKey, unix.EKEYREJECTED, []string{"is 0 bytes, a key file is 32"}},
		{"short", key[:31], 0o600, keystore.ErrWrongKey, unix.EKEYREJECTED, []string{"is 31 bytes, a key file is 32"}},
		{"long", append(key, '\n'), 0o600, keystore.ErrWrongKey, unix.EKEYREJECTED, []string{"is 33 bytes, a key file is 32"}},
		{"0644", key, 0o644, keystore.ErrInsecureKeyFile, unix.EKEYREJECTED, []string{"mode 0644", "chmod 600"}},
		{"0640", key, 0o640, keystore.ErrInsecureKeyFile, unix.EKEYREJECTED, []string{"mode 0640"}},
		{"0604", key, 0o604, keystore.ErrInsecureKeyFile, unix.EKEYREJECTED, []string{"mode 0604"}},
		{"0620", key, 0o620, keystore.ErrInsecureKeyFile, unix.EKEYREJECTED, []string{"mode 0620"}},
		{"0602", key, 0o602, keystore.ErrInsecureKeyFile, unix.EKEYREJECTED, []string{"mode 0602"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "data.key")
			if tt.content != nil {
				if err := os.WriteFile(path, tt.content, 0o600); err != nil {
					t.Fatal(err)
				}
				// Chmod, not the umask-filtered mode of WriteFile.
				if err := os.Chmod(path, tt.mode); err != nil {
					t.Fatal(err)
				}
			}
			kek, err := keystore.LoadKeyFile(path)
			if kek != nil {
				t.Error("LoadKeyFile returned a KEK with its error")
			}
			wantErr(t, err, tt.sentinel, tt.errno)
			for _, s := range append(tt.says, path) {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("err = %q, want it to say %q", err, s)
				}
			}
		})
	}
}

// TestLoadKeyFileNotAFile: a directory or a FIFO is refused at once; the
// FIFO must not hang the open waiting for a writer.
func TestLoadKeyFileNotAFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{dir, fifo} {
		_, err := keystore.LoadKeyFile(path)
		wantErr(t, err, keystore.ErrWrongKey, unix.EKEYREJECTED)
		if !strings.Contains(err.Error(), path+" is not a regular file") {
			t.Errorf("err = %q, want it to say %s is not a regular file", err, path)
		}
	}
}

// TestLoadKeyFileReadOnly: an owner-only key file loads whatever the
// owner's own bits are.
func TestLoadKeyFileReadOnly(t *testing.T) {
	_, path, _ := newKeyFile(t)
	if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	kek, err := keystore.LoadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	kek.Wipe()
}
