//go:build linux

package kcm_test

import (
	"errors"
	"testing"

	"github.com/keyctl-go/keyctl-go/kcm"
)

// TestReplaceNeverSeenEmpty: while REPLACE renews a cache again and
// again, a reader of the store (as keyctl-go krb5 export reads it, not
// through the server, which serves a uid's requests one at a time) always
// finds it whole.
func TestReplaceNeverSeenEmpty(t *testing.T) {
	e := newEnv(t, kcm.Options{})
	e.kinit(nil, "alice")
	e.run("kvno", "host/svc.test.local")
	f := e.aliceCreds(t)
	body := cat(name("0"), u32(0), princBytes(t, f.DefaultPrincipal), u32(uint32(len(f.Credentials))))
	for i := range f.Credentials {
		b := credBytes(t, &f.Credentials[i])
		body = append(append(body, u32(uint32(len(b)))...), b...)
	}
	k := e.collection(0).Cache("0")
	stop := make(chan struct{})
	seen := make(chan error, 1)
	go func() {
		defer close(seen)
		for {
			select {
			case <-stop:
				return
			default:
			}
			recs, err := k.Records(ctx)
			if err == nil && len(recs) != len(f.Credentials) {
				err = errors.New("a cache with " + itoa(len(recs)) + " credentials")
			}
			if err != nil { // ErrNotFound included: the cache is always there
				seen <- err
				return
			}
		}
	}()
	c := e.dial()
	for range 50 {
		if code, _ := c.call(kcm.OpReplace, body); code != kcm.CodeOK {
			t.Fatalf("REPLACE: %v", code)
		}
	}
	close(stop)
	if err := <-seen; err != nil {
		t.Fatalf("a reader saw: %v", err)
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
