package daemon

import (
	"fmt"
	"net"
	"os"
	"slices"

	"golang.org/x/sys/unix"
)

// trustedServerUIDs are the uids a client believes a daemon runs as: its
// own (a per-user daemon) and root's (the system daemon, or a socket
// systemd made). A daemon's answers are the client's keys, and its
// requests go to it, so whoever else listens at the path, having got
// there through a shared directory or a stale socket file, is not talked
// to. A system daemon run as a dedicated service user joins this list.
func trustedServerUIDs() []uint32 {
	return []uint32{uint32(os.Geteuid()), 0}
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
	if trusted := trustedServerUIDs(); !slices.Contains(trusted, p.Cred.UID) {
		return fmt.Errorf("daemon: dial %s: the daemon there runs as uid %d, not as uid %d or root: refusing to talk to it: %w",
			path, p.Cred.UID, trusted[0], unix.EPERM)
	}
	return nil
}
