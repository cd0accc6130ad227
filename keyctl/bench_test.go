//go:build linux

package keyctl_test

import (
	"errors"
	"testing"

	"github.com/keyctl-go/keyctl-go/keyctl"
)

// What looking for the system daemon costs a command on a machine that
// has none: DialDaemon with step 3 asked (nobody at the socket) against
// the baseline without it, both finding no daemon at step 4 either, as a
// command on the user's own store does before it opens the file.
func BenchmarkDialDaemonNobody(b *testing.B) {
	for _, c := range []struct {
		name   string
		system bool
	}{{"baseline no step 3", false}, {"step 3 nobody there", true}} {
		b.Run(c.name, func(b *testing.B) {
			e := newEnv(b)
			if !c.system {
				e.opts.SystemSocket = "-"
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := keyctl.DialDaemon(ctx, e.opts); !errors.Is(err, keyctl.ErrNoDaemon) {
					b.Fatal(err)
				}
			}
		})
	}
}
