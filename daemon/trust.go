//go:build linux

package daemon

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// systemSocket is SystemSocket, the one path where a client also trusts
// the owner of the socket's directory (systemServerUID); tests move it.
var systemSocket = SystemSocket

// trustedServerUIDs are the uids a client believes a daemon at path runs
// as: its own (a per-user daemon) and root's (the system daemon, or a
// socket systemd made), and at the system socket alone also the owner of
// its directory (systemServerUID), a dedicated service user such as
// systemd's User= gives the system daemon. A daemon's answers are the
// client's keys, and its requests go to it, so whoever else listens at
// the path, having got there through a shared directory or a stale
// socket file, is not talked to.
func trustedServerUIDs(path string) []uint32 {
	trusted := []uint32{uint32(os.Geteuid()), 0}
	if uid, ok := systemServerUID(path); ok && !slices.Contains(trusted, uid) {
		trusted = append(trusted, uid)
	}
	return trusted
}

// systemServerUID is the uid, besides root, that may run the system
// daemon: the owner of the system socket's directory (/run/keyctl-go),
// if that directory is a directory (not a symbolic link) in a parent
// that root made and nobody else may write to, sticky or not (/run, not
// /tmp), with every directory above the parent root's and writable by
// nobody else unless sticky. Only root could then have made the
// directory or handed it over, and so chosen its owner: the packager's
// service user, as systemd's RuntimeDirectory= does.
//
// Anywhere but the system socket it is nobody: a user's own directory
// under a root-owned parent (/home/mallory) has the same shape, and
// trusting its owner would hand every client that looked there to them.
func systemServerUID(path string) (uint32, bool) {
	abs, err := filepath.Abs(path)
	if err != nil || abs != filepath.Clean(systemSocket) {
		return 0, false
	}
	dir := filepath.Dir(abs)
	parent := filepath.Dir(dir)
	if dir == parent {
		return 0, false // a socket in /: no directory to own
	}
	// From / down to the parent: root's, and not writable by others
	// unless sticky (a sticky /tmp above is as safe as in dirPolicy);
	// the parent itself not writable by others at all.
	walk := "/"
	names := strings.Split(strings.TrimPrefix(parent, "/"), "/")
	if parent == "/" {
		names = nil
	}
	for i := 0; i <= len(names); i++ {
		if i > 0 {
			walk = filepath.Join(walk, names[i-1])
		}
		st, ok := lstatDir(walk)
		if !ok || st.Uid != 0 {
			return 0, false
		}
		perm := st.Mode & 0o7777
		if perm&0o022 != 0 && (perm&unix.S_ISVTX == 0 || walk == parent) {
			return 0, false
		}
	}
	st, ok := lstatDir(dir)
	if !ok {
		return 0, false
	}
	return st.Uid, true
}

// lstatDir is the directory at path as it stands, not followed if it is
// a symbolic link; false if it is not a directory or cannot be seen.
func lstatDir(path string) (unix.Stat_t, bool) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return st, false
	}
	return st, true
}

// checkServer refuses, with EPERM, a connection to path whose listening
// end was not made by a trusted uid. The kernel says who made it:
// SO_PEERCRED on a connected socket gives the credentials of the process
// that called listen(), captured then. EPERM, not EACCES: EACCES is what
// connect(2) says for a socket the client may not reach, and this one it
// reached.
func checkServer(c *net.UnixConn, path string) error {
	p, err := peerOf(c)
	if err != nil {
		return fmt.Errorf("daemon: dial %s: who is listening: %w", path, err)
	}
	if trusted := trustedServerUIDs(path); !slices.Contains(trusted, p.Cred.UID) {
		return fmt.Errorf("daemon: dial %s: the daemon there runs as uid %d, not as uid %d or root: refusing to talk to it: %w",
			path, p.Cred.UID, trusted[0], unix.EPERM)
	}
	return nil
}
