//go:build linux

package cli

import (
	"bytes"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// daemon status counts a uid's connections to the daemon's KCM socket
// with those to its own, as the per-uid limit counts them: one gate
// admits both. Root, holding one KCM connection and asking through the
// daemon's socket, is told it holds two.
func TestDaemonStatusCountsKCMConnections(t *testing.T) {
	dir := t.TempDir()
	db, socket, kcmSock := filepath.Join(dir, "keys.db"), filepath.Join(dir, "sock"), filepath.Join(dir, "kcm.sock")
	stderr := &bytes.Buffer{}
	cmd := exec.Command(keyctlGo, "--db", db, "daemon", "--socket", socket, "--kcm-socket", kcmSock)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); !listening(kcmSock) || !listening(socket); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the daemon never listened on both sockets: %s", stderr.String())
		}
	}
	held, err := net.Dial("unix", kcmSock)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	// The probes above may not have been released yet, nor this one
	// admitted: wait for the count to settle on the held connection and
	// the asking one.
	var out string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var errs string
		var code int
		if out, errs, code = keyctlRunEnv(t, nil, "daemon", "status", "--socket", socket); code != 0 {
			t.Fatalf("daemon status: exit %d, %q", code, errs)
		}
		if strings.HasSuffix(squeeze(out), "\nuid connections watches\n0 2 0\n") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon status with one KCM connection held:\n%s\nwant root's row to count 2 connections", out)
		}
	}
}
