//go:build linux

package daemon_test

import (
	"context"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/keyring"
)

// A request_key construction over the daemon: the requester's connection
// gets the construction, a helper's connection assumes the authority with
// the token and instantiates, the requester completes. The token goes to
// the requester's connection only, and another connection without it
// cannot build the key.
func TestConstructionAcrossConnections(t *testing.T) {
	e := newEnv(t, daemon.Options{})
	ctx := context.Background()
	req := e.dial(t)
	session := must(t)(req.JoinSession(ctx, ""))
	id, c, err := req.RequestKeyWithCallout(ctx, "user", "debug:x", []byte("spoon"), 0)
	if err != nil || c == nil || id != 0 {
		t.Fatalf("RequestKeyWithCallout = %v, %+v, %v; want a construction", id, c, err)
	}
	if c.Session != session || string(c.Callout) != "spoon" || c.Type != "user" || c.Description != "debug:x" || len(c.Token) != 64 {
		t.Fatalf("construction %+v", c)
	}

	other := e.dial(t)
	_, err = other.AssumeAuthority(ctx, c.Key, "")
	wantErrno(t, "AssumeAuthority without the token", err, unix.ENOKEY)
	wantErrno(t, "Instantiate without the authority", other.Instantiate(ctx, c.Key, []byte("forged"), 0), unix.EPERM)

	helper := e.dial(t)
	if auth := must(t)(helper.AssumeAuthority(ctx, c.Key, c.Token)); auth != c.Authority {
		t.Fatalf("AssumeAuthority = %v, want %v", auth, c.Authority)
	}
	wantErrno(t, "Reject with a restart code", helper.Reject(ctx, c.Key, time.Second, 512, 0), unix.EINVAL)
	if err := helper.Instantiate(ctx, c.Key, []byte("Debug spoon"), keyring.RequestorKeyring); err != nil {
		t.Fatal(err)
	}
	if got := must(t)(req.CompleteRequest(ctx, c.Key)); got != c.Key {
		t.Fatalf("CompleteRequest = %v", got)
	}
	data, err := req.Read(ctx, c.Key)
	if err != nil || string(data) != "Debug spoon" {
		t.Fatalf("Read = %q, %v", data, err)
	}
}

// A requester that hangs up while its helper runs leaves a negative key,
// as a requester killed in the kernel does.
func TestConstructionEndsWithTheConnection(t *testing.T) {
	e := newEnv(t, daemon.Options{})
	ctx := context.Background()
	keep := e.dial(t)
	session := must(t)(keep.JoinSession(ctx, ""))
	req := e.dial(t)
	if err := req.AdoptSession(ctx, session); err != nil {
		t.Fatal(err)
	}
	_, c, err := req.RequestKeyWithCallout(ctx, "user", "debug:x", []byte("x"), 0)
	if err != nil || c == nil {
		t.Fatalf("RequestKeyWithCallout = %+v, %v", c, err)
	}
	req.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := keep.RequestKey(ctx, "user", "debug:x", 0)
		if err != nil {
			wantErrno(t, "request after the requester went", err, unix.ENOKEY)
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the key is still there")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, again, err := keep.RequestKeyWithCallout(ctx, "user", "debug:x", []byte("x"), 0)
	if again != nil {
		t.Fatal("a negative key was constructed again")
	}
	wantErrno(t, "request within the negative timeout", err, unix.ENOKEY)
}
