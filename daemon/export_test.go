//go:build linux

package daemon

import (
	"context"
	"time"
)

// DialSocket is Dial for a connection that stays on its socket, as one to
// a daemon without pipes does: for benchmarks comparing the two.
func DialSocket(ctx context.Context, path string) (*Client, error) {
	return dial(ctx, path, false)
}

// SetDialTimeout sets Dial's timeout until the test ends.
func SetDialTimeout(t interface{ Cleanup(func()) }, d time.Duration) {
	old := dialTimeout
	dialTimeout = d
	t.Cleanup(func() { dialTimeout = old })
}

// SetUserTmp moves the /tmp of UserSocket's fallback until the test ends.
func SetUserTmp(t interface{ Cleanup(func()) }, dir string) {
	old := userTmp
	userTmp = dir
	t.Cleanup(func() { userTmp = old })
}

// SetChangesPageSize sets the bytes of changes a reply carries until the
// test ends; set it before the daemon starts, which reads it.
func SetChangesPageSize(t interface{ Cleanup(func()) }, n int) {
	old := changesPageSize
	changesPageSize = n
	t.Cleanup(func() { changesPageSize = old })
}

// Connections is how many connections srv is serving.
func Connections(srv *Server) int { return srv.connections() }

// SetSystemSocket moves the path that Dial treats as the system socket
// (whose directory's owner it trusts) until the test ends.
func SetSystemSocket(t interface{ Cleanup(func()) }, path string) {
	old := systemSocket
	systemSocket = path
	t.Cleanup(func() { systemSocket = old })
}

// The table's codes, for tests that write frames by hand.
var (
	OpAdd          = opAdd.code
	OpRead         = opRead.code
	OpDescribe     = opDescribe.code
	OpGetKeyringID = opGetKeyringID.code
	OpJoinSession  = opJoinSession.code
	OpPipes        = opPipes.code
	OpWatch        = opWatch.code
)
