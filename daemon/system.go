package daemon

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
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
// reads either.
//
// Each must be a directory owned by this process's user, not a symbolic
// link: one that somebody else made (EPERM) could have its socket
// replaced by theirs, and the clients' secrets would go to them.
//
// An empty socket leaves its directory alone: a socket-activated daemon's
// socket is the service manager's, in a directory it made.
func PrepareSystemDirs(socket, store string) error {
	if socket != "" {
		if err := prepareDir(filepath.Dir(socket), 0o755); err != nil {
			return err
		}
	}
	return prepareDir(filepath.Dir(store), 0o700)
}

func prepareDir(dir string, mode os.FileMode) error {
	// The parents are the system's (/run, /var/lib): made if missing, as
	// a package would, but not changed.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	if err := os.Mkdir(dir, mode); err != nil && !os.IsExist(err) {
		return fmt.Errorf("daemon: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return fmt.Errorf("daemon: %s: %w", dir, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("daemon: %s is not a directory: %w", dir, unix.ENOTDIR)
	}
	if int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("daemon: %s belongs to uid %d, not to the daemon's %d: %w", dir, st.Uid, os.Geteuid(), unix.EPERM)
	}
	// Mkdir's mode went through the umask, and a directory already there
	// may have been loosened; either way it is set to what it must be.
	if err := os.Chmod(dir, mode); err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	return nil
}
