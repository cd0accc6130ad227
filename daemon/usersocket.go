//go:build linux

package daemon

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// A per-user daemon serves one user's store to that user alone
// (Options.Private). Its socket lives in a directory private to the user,
// never beside the store, which may sit in a directory others can write:
// there another user could put a socket of their own where the store's
// daemon was looked for.
const (
	// userSocketDir is the per-user daemons' directory under
	// $XDG_RUNTIME_DIR, which the user's session manager made theirs.
	userSocketDir = "keyctl-go"
	// defaultStoreSocket is the socket of the default store's daemon.
	defaultStoreSocket = "socket"
)

// userTmp is where a user without $XDG_RUNTIME_DIR gets a private
// directory of their own, /tmp/keyctl-go-<uid>, as tmux makes
// /tmp/tmux-<uid>. It is /tmp as such, not $TMPDIR, so that every process
// of the user finds the same one whatever its environment. Tests move it.
var userTmp = "/tmp"

// UserSocket is where the per-user daemon of store listens, for the user
// this process runs as (its effective uid). runtimeDir is
// $XDG_RUNTIME_DIR as the caller's environment has it; "" or a relative
// path (which the XDG spec says to ignore) means there is none. The
// socket is in the user's private directory: runtimeDir/keyctl-go, or
// else /tmp/keyctl-go-<uid>. The default store's (store "") is named
// "socket"; any other store's is named after the store's absolute path,
// hashed, so that each store has a daemon of its own and every command
// naming it, and the daemon it starts, agree on where.
//
// UserSocket only computes the path; a daemon makes or checks its
// directory with PrepareUserSocketDir before it listens there, and a
// client believes whoever answers only if it runs as the client's uid or
// root (see Dial).
func UserSocket(runtimeDir, store string) (string, error) {
	dir := UserDir(runtimeDir)
	if store == "" {
		return filepath.Join(dir, defaultStoreSocket), nil
	}
	abs, err := filepath.Abs(store)
	if err != nil {
		return "", fmt.Errorf("daemon: the socket of store %s: %w", store, err)
	}
	// 96 bits of SHA-256: no two stores of one user meet by chance, and
	// the path stays well inside a socket address's 108 bytes.
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(dir, "store-"+hex.EncodeToString(sum[:12])+".sock"), nil
}

// UserDir is the private directory of the user this process runs as (its
// effective uid), where their daemons' sockets live: runtimeDir/keyctl-go,
// else /tmp/keyctl-go-<uid>. runtimeDir is $XDG_RUNTIME_DIR as
// UserSocket takes it. Other per-user runtime state of keyctl-go goes in
// directories under it, made by PrepareUserDir and checked by
// CheckUserDir, so that nobody else can put anything there.
func UserDir(runtimeDir string) string {
	if filepath.IsAbs(runtimeDir) {
		return filepath.Join(runtimeDir, userSocketDir)
	}
	return filepath.Join(userTmp, userSocketDir+"-"+strconv.Itoa(os.Geteuid()))
}

// PrepareUserDir makes dir mode 0700, with its missing parents, or checks
// the one already there, as PrepareUserSocketDir does for a socket's
// directory: dir must be the user's (the effective uid's), writable by
// nobody else; every directory above it owned by root or that user and
// writable by nobody else unless sticky; none a symbolic link (EPERM,
// ENOTDIR, naming the directory). Nothing already there is changed.
func PrepareUserDir(dir string) error {
	return userDirPolicy().prepare(dir)
}

// CheckUserDir checks dir as PrepareUserDir does, and makes nothing: a
// missing directory is ENOENT. What a reader finds in a directory that
// passes could only have been put there by root or the user.
func CheckUserDir(dir string) error {
	return userDirPolicy().verify(dir)
}

func userDirPolicy() dirPolicy {
	return dirPolicy{uid: uint32(os.Geteuid()), private: true, mode: 0o700, parents: 0o700}
}

// PrepareUserSocketDir makes the directory of a per-user daemon's socket
// mode 0700, or checks the one already there, before Listen: it must be
// the daemon's user's, and writable by nobody else; every directory above
// it owned by root or that user and writable by nobody else unless
// sticky; none a symbolic link (see dirPolicy; EPERM, ENOTDIR, naming the
// directory). Missing parents are made 0700. Nothing already there is
// changed.
func PrepareUserSocketDir(socket string) error {
	return PrepareUserDir(filepath.Dir(socket))
}
