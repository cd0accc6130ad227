//go:build linux

package daemon

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// peerOf on either end of a connection within this process gives this
// process: its pid, uid, gid and every supplementary group.
func TestPeerOfSelf(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.AcceptUnix()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()

	groups, err := os.Getgroups()
	if err != nil {
		t.Fatal(err)
	}
	var want []uint32
	for _, g := range groups {
		want = append(want, uint32(g))
	}
	slices.Sort(want)
	for end, c := range map[string]*net.UnixConn{"accepted": server, "dialled": client} {
		p, err := peerOf(c)
		if err != nil {
			t.Fatalf("%s: %v", end, err)
		}
		got := slices.Sorted(slices.Values(p.Cred.Groups))
		if int(p.PID) != os.Getpid() || int(p.Cred.UID) != os.Geteuid() || int(p.Cred.GID) != os.Getegid() || !slices.Equal(got, want) {
			t.Errorf("%s end: peer %+v, want pid %d uid %d gid %d groups %v", end, p, os.Getpid(), os.Geteuid(), os.Getegid(), want)
		}
	}
}
