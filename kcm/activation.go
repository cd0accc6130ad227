//go:build linux

package kcm

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ActivationName is the FileDescriptorName= of the KCM socket unit
// (contrib/systemd/system/keyctl-go-kcm.socket): how ActivationListener
// tells the KCM socket from the daemon's own among the sockets systemd
// passes to one service.
const ActivationName = "kcm"

// listenFDsStart is the first descriptor a service manager passes
// (SD_LISTEN_FDS_START).
const listenFDsStart = 3

// ActivationListener takes the socket named ActivationName out of what a
// service manager passed (sd_listen_fds_with_names(3): LISTEN_PID naming
// this process, LISTEN_FDS of them from fd 3, LISTEN_FDNAMES), and leaves
// the others as if it had never been passed: the ones after it move down
// one descriptor, and LISTEN_FDS and LISTEN_FDNAMES lose it, so that the
// daemon's own activation (daemon.ActivationListener, which takes exactly
// one socket at fd 3) finds its socket where it expects it. It returns
// nil, nil when no socket of that name was passed. Call it before
// anything else reads the activation environment.
func ActivationListener() (*net.UnixListener, error) {
	pidVar, fdsVar, namesVar := os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_FDNAMES")
	if pidVar == "" || fdsVar == "" || namesVar == "" {
		return nil, nil
	}
	if pid, err := strconv.Atoi(pidVar); err != nil || pid != os.Getpid() {
		return nil, nil // not ours; the daemon's activation says so
	}
	n, err := strconv.Atoi(fdsVar)
	if err != nil || n <= 0 {
		return nil, nil
	}
	names := strings.Split(namesVar, ":")
	if len(names) != n {
		return nil, nil
	}
	i := -1
	for j, name := range names {
		if name == ActivationName {
			i = j
			break
		}
	}
	if i < 0 {
		return nil, nil
	}
	fd := listenFDsStart + i
	for _, c := range []struct {
		opt, want int
		what      string
	}{
		{unix.SO_DOMAIN, unix.AF_UNIX, "a Unix socket"},
		{unix.SO_TYPE, unix.SOCK_STREAM, "a stream socket"},
		{unix.SO_ACCEPTCONN, 1, "listening"},
	} {
		v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, c.opt)
		if err != nil || v != c.want {
			return nil, fmt.Errorf("kcm: fd %d, named %q by the service manager, is not %s: %w", fd, ActivationName, c.what, unix.EINVAL)
		}
	}
	f := os.NewFile(uintptr(fd), "LISTEN_FD_"+ActivationName)
	l, err := net.FileListener(f) // a duplicate: the original goes below
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("kcm: the socket passed in fd %d: %w", fd, err)
	}
	ln := l.(*net.UnixListener) // SO_DOMAIN said AF_UNIX
	// The service manager made the socket file and removes it.
	ln.SetUnlinkOnClose(false)
	for j := i + 1; j < n; j++ {
		if err := unix.Dup2(listenFDsStart+j, listenFDsStart+j-1); err != nil {
			ln.Close()
			return nil, fmt.Errorf("kcm: moving the passed fd %d down: %w", listenFDsStart+j, err)
		}
		unix.Close(listenFDsStart + j)
	}
	names = append(names[:i], names[i+1:]...)
	os.Setenv("LISTEN_FDS", strconv.Itoa(n-1))
	os.Setenv("LISTEN_FDNAMES", strings.Join(names, ":"))
	return ln, nil
}
