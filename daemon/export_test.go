package daemon

import "context"

// DialSocket is Dial for a connection that stays on its socket, as one to
// a daemon without pipes does: for benchmarks comparing the two.
func DialSocket(ctx context.Context, path string) (*Client, error) {
	return dial(ctx, path, false)
}

// SetUserTmp moves the /tmp of UserSocket's fallback until the test ends.
func SetUserTmp(t interface{ Cleanup(func()) }, dir string) {
	old := userTmp
	userTmp = dir
	t.Cleanup(func() { userTmp = old })
}
