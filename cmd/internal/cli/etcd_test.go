//go:build linux

package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/internal/etcdtest"
)

// Two daemons on one etcd prefix, as two hosts run them, each with its own
// store path and the same key file: a key added through one is printed
// through the other. A third whose key file is another's is refused at
// start, saying why.
func TestDaemonsOnEtcdShareOneKeySpace(t *testing.T) {
	c := etcdtest.Shared(t)
	eps := strings.Join(c.Endpoints(), ",")
	prefix := etcdtest.Prefix(t)
	hostA, hostB, hostC := t.TempDir(), t.TempDir(), t.TempDir()
	sockA := startEtcdDaemon(t, eps, prefix, hostA)
	key, err := os.ReadFile(filepath.Join(hostA, "keys.db.key"))
	if err != nil {
		t.Fatalf("host A's key file: %v", err)
	}
	if err := os.WriteFile(filepath.Join(hostB, "keys.db.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	sockB := startEtcdDaemon(t, eps, prefix, hostB)

	run := func(socket string, args ...string) string {
		t.Helper()
		cmd := exec.Command(keyctlGo, append([]string{"--socket", socket}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("keyctl-go %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	id := strings.TrimSpace(run(sockA, "add", "user", "fleet-token", "rotated", "@u"))
	if got := run(sockB, "print", id); got != "rotated\n" {
		t.Errorf("host B prints %q", got)
	}
	run(sockB, "revoke", id)
	cmd := exec.Command(keyctlGo, "--socket", sockA, "print", id)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "revoked") {
		t.Errorf("host A prints a key host B revoked: %q, %v", out, err)
	}

	// Host C has a key file of its own: refused, naming the cause.
	start := exec.Command(keyctlGo, "--etcd", eps, "--etcd-prefix", prefix, "--db", filepath.Join(hostC, "keys.db"), "daemon", "--socket", filepath.Join(hostC, "sock"))
	os.WriteFile(filepath.Join(hostC, "keys.db.key"), bytes.Repeat([]byte{1}, len(key)), 0o600)
	out, err := start.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "does not unwrap the data key of the store in etcd") {
		t.Errorf("a host with another key file: %v\n%s", err, out)
	}
}

// startEtcdDaemon runs a host's daemon on the store in etcd, its key file
// in dir, until the test ends, and returns its socket once it listens.
func startEtcdDaemon(t *testing.T, endpoints, prefix, dir string) string {
	t.Helper()
	socket := filepath.Join(dir, "sock")
	stderr := &bytes.Buffer{}
	cmd := exec.Command(keyctlGo, "--etcd", endpoints, "--etcd-prefix", prefix, "--db", filepath.Join(dir, "keys.db"), "daemon", "--socket", socket)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := daemon.Dial(context.Background(), socket)
		if err == nil {
			c.Close()
			return socket
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon never listened: %v\n%s", err, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
