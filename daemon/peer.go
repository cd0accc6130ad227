//go:build linux

package daemon

import (
	"fmt"
	"net"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/perms"
)

// A Peer is who is at the other end of a connection, as the kernel says
// (see peerOf): the client's pid, for logs only, since a pid may be
// reused; and its credentials, which decide what it may do.
type Peer struct {
	PID  int32
	Cred perms.Cred
}

// peerGroupsGuess is how many supplementary groups the first try at
// SO_PEERGROUPS makes room for; a process with more is asked again with
// room for as many as the kernel says it has (at most NGROUPS_MAX, 65536).
const peerGroupsGuess = 32

// peerOf asks the kernel who is at the other end of c. On a connection
// the daemon accepted that is the client as it was when it called
// connect(); on one a client dialled, the daemon as it was when it called
// listen(). The kernel captured both at that moment, uid, gid and
// supplementary groups alike (SO_PEERCRED, SO_PEERGROUPS), so neither
// side can lie about them, and nothing that process does afterwards (exit
// and have its pid reused, change its groups) changes them.
func peerOf(c *net.UnixConn) (Peer, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return Peer{}, err
	}
	var p Peer
	var serr error
	if err := raw.Control(func(fd uintptr) {
		var ucred *unix.Ucred
		ucred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		if serr != nil {
			serr = os.NewSyscallError("getsockopt SO_PEERCRED", serr)
			return
		}
		p = Peer{PID: ucred.Pid, Cred: perms.Cred{UID: ucred.Uid, GID: ucred.Gid}}
		p.Cred.Groups, serr = peerGroups(int(fd))
	}); err != nil {
		return Peer{}, err
	}
	if serr != nil {
		return Peer{}, fmt.Errorf("daemon: %w", serr)
	}
	return p, nil
}

// peerGroups is SO_PEERGROUPS: the supplementary groups of the peer, as
// captured with its SO_PEERCRED, in this process's user namespace. The
// kernel answers ERANGE with the size it needs when the buffer is short.
// x/sys has no helper for an array option (GetsockoptString stops at the
// first zero byte, which a gid may hold), so getsockopt is called
// directly.
func peerGroups(fd int) ([]uint32, error) {
	groups := make([]uint32, peerGroupsGuess)
	for {
		size := uint32(len(groups) * 4) // socklen_t, bytes
		var p unsafe.Pointer
		if len(groups) > 0 {
			p = unsafe.Pointer(&groups[0])
		}
		_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_PEERGROUPS,
			uintptr(p), uintptr(unsafe.Pointer(&size)), 0)
		switch {
		case errno == unix.ERANGE && int(size/4) > len(groups):
			groups = make([]uint32, size/4)
		case errno != 0:
			return nil, os.NewSyscallError("getsockopt SO_PEERGROUPS", errno)
		case size == 0:
			return nil, nil
		default:
			return groups[:size/4], nil
		}
	}
}
