package daemon

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/perms"
)

// peerCred is who is at the other end of a connection, as the kernel says.
type peerCred struct {
	PID  int32
	Cred perms.Cred
}

// peerOf asks the kernel who connected: SO_PEERCRED holds the credentials
// of the process that called connect(), captured at that moment, so the
// client cannot lie about them. Groups come from /proc (see groupsOf).
func peerOf(c *net.UnixConn) (peerCred, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return peerCred{}, err
	}
	var ucred *unix.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		ucred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return peerCred{}, err
	}
	if serr != nil {
		return peerCred{}, fmt.Errorf("daemon: SO_PEERCRED: %w", serr)
	}
	p := peerCred{PID: ucred.Pid, Cred: perms.Cred{UID: ucred.Uid, GID: ucred.Gid}}
	p.Cred.Groups = groupsOf(ucred.Pid, ucred.Uid, ucred.Gid)
	return p, nil
}

// groupsOf reads pid's supplementary groups from /proc/<pid>/status. It
// is best effort: the process may have changed its groups since connect,
// or exited and had its pid reused. So the groups are believed only if
// the status's effective uid and gid still are the ones SO_PEERCRED gave;
// otherwise, or if anything cannot be read, there are none, which grants
// less, never more.
func groupsOf(pid int32, uid, gid uint32) []uint32 {
	f, err := os.Open("/proc/" + strconv.Itoa(int(pid)) + "/status")
	if err != nil {
		return nil
	}
	defer f.Close()
	var groups []uint32
	uidOK, gidOK := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(value)
		switch name {
		case "Uid":
			// Real, effective, saved, filesystem: SO_PEERCRED has the effective one.
			uidOK = len(fields) > 1 && fields[1] == strconv.FormatUint(uint64(uid), 10)
		case "Gid":
			gidOK = len(fields) > 1 && fields[1] == strconv.FormatUint(uint64(gid), 10)
		case "Groups":
			for _, s := range fields {
				g, err := strconv.ParseUint(s, 10, 32)
				if err != nil {
					return nil
				}
				groups = append(groups, uint32(g))
			}
		}
	}
	if sc.Err() != nil || !uidOK || !gidOK {
		return nil
	}
	return groups
}
