//go:build linux

package kcm_test

import (
	"strings"
	"testing"

	"github.com/keyctl-go/keyctl-go/kcm"
)

// TestFullCache: a STORE that would take a cache past MaxCacheBytes fails
// and leaves the cache as it was (kvno ignores the failure, as MIT's
// get_creds ignores any store failure: it prints its ticket's kvno and
// caches nothing; the code the client gets is checked in
// TestProtocolLimits); a kinit that would make one cache more than
// MaxCaches fails as it does with sssd-kcm, and makes nothing.
func TestFullCache(t *testing.T) {
	e := newEnv(t, kcm.Options{MaxCacheBytes: 1200, MaxCaches: 2})
	e.kinit(nil, "alice") // a TGT and fast_avail: about 750 bytes
	before := e.run("klist")
	e.run("kvno", "host/svc.test.local") // 600 bytes more
	if after := e.run("klist"); after != before {
		t.Fatalf("a refused store changed the cache:\n%s\nnow:\n%s", before, after)
	}

	e.kinit(nil, "bob") // the second cache
	r := e.try(nil, "secret123\n", "kinit", "-c", "KCM:0:77777", "alice")
	if r.code == 0 || !strings.Contains(r.err, "Internal credentials cache error") {
		t.Fatalf("kinit into a third cache: exit %d\n%s%s", r.code, r.out, r.err)
	}
	if l := listed(e.run("klist", "-l")); len(l) != 2 {
		t.Fatalf("klist -l after the refused kinit: %q", l)
	}
	// Renewing a cache that exists is no new cache.
	e.kinit(nil, "alice")
}
