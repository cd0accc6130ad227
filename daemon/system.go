//go:build linux

package daemon

import (
	"os"
	"path/filepath"
)

// Where the system daemon, one for every user of the machine, keeps its
// socket and its store. Tests and packagers name others.
const (
	// SystemSocket is under /run, which is cleared at boot as a socket
	// left by a daemon of the last boot should be.
	SystemSocket = "/run/keyctl-go/socket"
	// SystemStore is under /var/lib, state that outlives reboots.
	SystemStore = "/var/lib/keyctl-go/keys.db"
)

// PrepareSystemDirs makes the directories of the system daemon's socket
// and store, or checks the ones already there, before Listen and
// keyring.Open. The socket's directory is made mode 0755: every user must
// reach the socket (Listen makes it 0666), and only the daemon may put a
// socket there. The store's is made 0700: the file holds every user's
// keys, sealed with a key file kept beside it, and nobody but the daemon
// reads either. Missing parents are made 0755, as a package would.
//
// Directories already there keep their mode: the store may be named in a
// shared directory such as /tmp, which must not be locked down for its
// sake. Each, and every directory above it, must be owned by root or the
// daemon's user and, unless sticky, writable by nobody else, and none may
// be a symbolic link (see dirPolicy): otherwise somebody else could swap
// the socket for theirs (EPERM, ENOTDIR, with the directory named).
//
// An empty socket leaves its directory alone: a socket-activated daemon's
// socket is the service manager's, in a directory it made. An empty store
// does too: a second socket of the daemon's (KCM's) is prepared alone.
func PrepareSystemDirs(socket, store string) error {
	uid := uint32(os.Geteuid())
	if socket != "" {
		if err := (dirPolicy{uid: uid, mode: 0o755, parents: 0o755}).prepare(filepath.Dir(socket)); err != nil {
			return err
		}
	}
	if store == "" {
		return nil
	}
	return dirPolicy{uid: uid, mode: 0o700, parents: 0o755}.prepare(filepath.Dir(store))
}
