//go:build linux

package daemon_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/daemon"
)

// Dial to a socket that is not there fails as connect(2) would have told
// it, ENOENT, word for word, though it does not get that far.
func TestDialWithNoSocketThere(t *testing.T) {
	for _, path := range []string{
		filepath.Join(t.TempDir(), "socket"),
		filepath.Join(t.TempDir(), "no", "such", "dir", "socket"),
	} {
		_, err := daemon.Dial(context.Background(), path)
		_, connectErr := net.Dial("unix", path)
		if !errors.Is(err, unix.ENOENT) || connectErr == nil || err.Error() != "daemon: dial "+path+": "+connectErr.Error() {
			t.Errorf("Dial(%s) = %v; want ENOENT, saying %q", path, err, "daemon: dial "+path+": "+connectErr.Error())
		}
	}
}
