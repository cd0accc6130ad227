//go:build linux

package kdctest_test

import (
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/keyctl-go/keyctl-go/internal/kdctest"
)

// Start waits for its KDC in a goroutine, which must end with the test.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The KDC issues a TGT and a service ticket over loopback, and klist sees
// both in the FILE cache.
func TestKDCIssuesTickets(t *testing.T) {
	k := kdctest.Start(t)
	cc := filepath.Join(t.TempDir(), "cc")
	k.Kinit(t, cc, "alice", "-f", "-r", "2d")
	k.Run(t, "kvno", "-c", "FILE:"+cc, kdctest.Service)
	out := k.Run(t, "klist", "-c", "FILE:"+cc)
	for _, want := range []string{"Default principal: alice@TEST.LOCAL", "krbtgt/TEST.LOCAL@TEST.LOCAL", "host/svc.test.local@TEST.LOCAL"} {
		if !strings.Contains(out, want) {
			t.Errorf("klist does not show %q:\n%s", want, out)
		}
	}
}
